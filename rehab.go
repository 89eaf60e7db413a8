package civicflow

import (
	"slices"
	"time"
)

// Community rehabilitation for mental disorders (精神障碍社区康复), process 2
// of the domain brief. It shares the application pipeline with centralised
// care (application, township intake, district review) and ends at a
// district rehab centre: registration, assessment, plan, periodic reviews,
// closure or referral. See docs/workflows.md.

// CaseTypeCommunityRehab is 精神障碍社区康复.
const CaseTypeCommunityRehab CaseType = "community_rehab"

// Valid reports whether t is a known case type.
func (t CaseType) Valid() bool {
	return slices.Contains(AllCaseTypes, t)
}

// Stages of the rehab ending. Intake, awaiting_supplements and
// district_review are shared with centralised care; closed and referred
// are terminal, like rejected and withdrawn.
const (
	StageRegistration Stage = "registration" // 登记建档 at the centre the district named
	StageAssessment   Stage = "assessment"   // professional assessment
	StagePlanning     Stage = "planning"     // the plan, to be agreed by the patient or guardian
	StageInRehab      Stage = "in_rehab"     // following the plan; periodic reviews
	StageClosed       Stage = "closed"       // 结案 (also: assessed not suitable)
	StageReferred     Stage = "referred"     // 转介 to a hospital (a referral to another centre transfers the case instead)
)

// RehabService is one of the nine service categories a physician
// recommends. Values are stored and sent to workflows: never change one.
type RehabService string

// The nine services (精神障碍社区康复服务).
const (
	ServiceMedication        RehabService = "medication_training" // 服药训练
	ServiceRelapsePrevention RehabService = "relapse_prevention"  // 预防复发训练
	ServicePhysicalHealth    RehabService = "physical_health"     // 躯体管理训练
	ServiceDailyLiving       RehabService = "daily_living_skills" // 生活技能训练
	ServiceSocialSkills      RehabService = "social_skills"       // 社交能力训练
	ServiceVocational        RehabService = "vocational_rehab"    // 职业康复训练
	ServicePsychological     RehabService = "psychological_rehab" // 心理康复
	ServicePeerSupport       RehabService = "peer_support"        // 同伴支持
	ServiceFamilySupport     RehabService = "family_support"      // 家庭支持
)

// RehabServices lists the nine services in the order of the national guideline.
var RehabServices = []RehabService{
	ServiceMedication, ServiceRelapsePrevention, ServicePhysicalHealth, ServiceDailyLiving,
	ServiceSocialSkills, ServiceVocational, ServicePsychological, ServicePeerSupport, ServiceFamilySupport,
}

// Valid reports whether s is one of the nine services.
func (s RehabService) Valid() bool {
	for _, v := range RehabServices {
		if s == v {
			return true
		}
	}
	return false
}

// ClosureReason is why a rehab case closes (结案).
type ClosureReason string

// Closure reasons.
const (
	ClosureGoalsMet  ClosureReason = "goals_met"
	ClosureMovedAway ClosureReason = "moved_away"
	ClosureWithdrew  ClosureReason = "withdrew"
	ClosureDied      ClosureReason = "died"
	// ClosureNotSuitable is recorded by an assessment that finds community
	// rehab unsuitable; it is not offered as a reason to close a running case.
	ClosureNotSuitable ClosureReason = "not_suitable"
)

// Valid reports whether r is a reason an assessor may give to close a case.
func (r ClosureReason) Valid() bool {
	switch r {
	case ClosureGoalsMet, ClosureMovedAway, ClosureWithdrew, ClosureDied:
		return true
	}
	return false
}

// ReferralTarget is where a case is referred to (转介).
type ReferralTarget string

// Referral targets. A referral to another centre of the city transfers the
// case there (its scope changes); one to a hospital ends it here.
const (
	ReferToHospital ReferralTarget = "hospital"
	ReferToCentre   ReferralTarget = "centre"
)

// MaxRiskLevel is the highest level of the national risk assessment of
// persons with severe mental disorders (危险性评估, levels 0-5).
const MaxRiskLevel = 5

// DefaultReviewInterval is how often a rehab plan is reviewed unless the
// case says otherwise.
const DefaultReviewInterval = 90 * 24 * time.Hour

// GuardianRelation says who applied for a rehab case on the patient's behalf.
type GuardianRelation string

// Who applies for community rehab.
const (
	ApplicantPatient  GuardianRelation = "patient"  // the patient, with capacity
	ApplicantFamily   GuardianRelation = "family"   // a family member, with the patient's agreement
	ApplicantGuardian GuardianRelation = "guardian" // 监护人 of a minor or a person without capacity
)

// RehabApplication is the rehab part of an application: who applied and,
// for a minor or a person without capacity, the guardian's consent.
type RehabApplication struct {
	AppliedBy       GuardianRelation `json:"applied_by"`
	WithoutCapacity bool             `json:"without_capacity"` // 无民事行为能力或限制民事行为能力
	GuardianName    string           `json:"guardian_name,omitempty"`
	GuardianConsent bool             `json:"guardian_consent"`
	ConsentOn       string           `json:"consent_on,omitempty"` // YYYY-MM-DD
}

// RehabCentre is a district's community rehab centre for mental disorders.
type RehabCentre struct {
	ID           int64  `json:"id"`
	Name         string `json:"name"`
	DistrictCode string `json:"district_code"`
	Address      string `json:"address"`
}

// RehabSummary is what anyone who reads a rehab case sees of its rehab
// part: dates and counts, never clinical content.
type RehabSummary struct {
	CentreID           int64      `json:"centre_id,omitempty"`
	Centre             string     `json:"centre,omitempty"`
	RegisteredAt       *time.Time `json:"registered_at,omitempty"`
	AssessedAt         *time.Time `json:"assessed_at,omitempty"`
	PlanStart          *time.Time `json:"plan_start,omitempty"`
	ReviewIntervalDays int        `json:"review_interval_days,omitempty"`
	ReviewsDone        int        `json:"reviews_done"`
	NextReviewDue      *time.Time `json:"next_review_due,omitempty"`
	ClosedAt           *time.Time `json:"closed_at,omitempty"`
}

// MaySeeClinical decides whether actor may read the clinical content of a
// rehab case (diagnosis, assessments, plans, progress notes): only the
// staff of the centre holding the case and the district reviewer of its
// district. Supervisors see stages and dates, never clinical content.
func MaySeeClinical(actor Actor, s Scope) bool {
	switch actor.Role {
	case RoleRehabAssessor, RoleDistrictReviewer:
		return InJurisdiction(actor, s)
	}
	return false
}
