package civicflow

import (
	"strconv"
	"time"
)

// China has no daylight saving time; a fixed zone avoids reading tzdata
// (which workflows must not do) and gives the same dates everywhere.
var chinaZone = time.FixedZone("CST", 8*60*60)

// ChinaZone is China Standard Time (UTC+8), the zone of every date civicflow
// shows or computes (notice periods, support start).
func ChinaZone() *time.Location { return chinaZone }

// CaseType names a process. Temporal workflow types and search attributes
// carry it, so values never change once released.
type CaseType string

// CaseTypeCentralisedCare is 特困人员集中供养, process 1 of the domain brief.
const CaseTypeCentralisedCare CaseType = "centralised_care"

// AllCaseTypes lists every process, for docs and the vocabulary's tests.
var AllCaseTypes = []CaseType{CaseTypeCentralisedCare, CaseTypeCommunityRehab, CaseTypeEducationGrant,
	CaseTypeSupportTransfer, CaseTypeSupportTermination}

// Stage is where a case stands in its process.
type Stage string

// Stages of the centralised-care process, in order. Terminal stages are
// Completed, Rejected, Withdrawn and Departed.
const (
	StageSubmitted           Stage = "submitted"            // row written, workflow not yet running
	StageIntake              Stage = "intake"               // 受理: township checks the papers
	StageAwaitingSupplements Stage = "awaiting_supplements" // 一次性告知: waiting for the applicant
	StageInvestigation       Stage = "investigation"        // 入户调查 + 家庭经济状况核对
	StagePublicNotice        Stage = "public_notice"        // 公示, 7 days
	StageDistrictReview      Stage = "district_review"      // 审核确认
	StagePlacement           Stage = "placement"            // looking for a bed
	StageWaitlisted          Stage = "waitlisted"           // no suitable bed free; waiting in order
	StageAwaitingAdmission   Stage = "awaiting_admission"   // bed allocated; institution to confirm 入住
	StageCompleted           Stage = "completed"            // admitted; support runs
	StageRejected            Stage = "rejected"             // refused with written reasons
	StageWithdrawn           Stage = "withdrawn"            // withdrawn by the applicant
	StageDeparted            Stage = "departed"             // the resident left the institution
)

// AllStages lists every stage, in process order, for validation and docs.
var AllStages = []Stage{
	StageSubmitted, StageIntake, StageAwaitingSupplements, StageInvestigation,
	StagePublicNotice, StageDistrictReview, StagePlacement, StageWaitlisted,
	StageAwaitingAdmission, StageCompleted, StageRejected, StageWithdrawn, StageDeparted,
	StageRegistration, StageAssessment, StagePlanning, StageInRehab, StageClosed, StageReferred,
	StageVerification,
}

// Valid reports whether s is a known stage.
func (s Stage) Valid() bool {
	for _, v := range AllStages {
		if s == v {
			return true
		}
	}
	return false
}

// Terminal reports whether no further action can change the case's process.
func (s Stage) Terminal() bool {
	switch s {
	case StageCompleted, StageRejected, StageWithdrawn, StageDeparted, StageClosed, StageReferred:
		return true
	}
	return false
}

// BeforeDecision reports whether the district has not yet decided: papers
// may still be added. (Withdrawal also needs a running workflow, so it is
// not offered in StageSubmitted; see the rules in access.go.)
func (s Stage) BeforeDecision() bool {
	switch s {
	case StageSubmitted, StageIntake, StageAwaitingSupplements, StageInvestigation,
		StagePublicNotice, StageDistrictReview, StageVerification:
		return true
	}
	return false
}

// Withdrawable reports whether the applicant may still withdraw in stage
// s: before the district's decision and, for a community-rehab case, until
// the plan is agreed (later the centre closes the case, reason withdrew).
func (s Stage) Withdrawable() bool {
	switch s {
	case StageRegistration, StageAssessment, StagePlanning:
		return true
	}
	return s.BeforeDecision()
}

// CareLevel is a person's self-care ability, which decides the kind of bed.
type CareLevel string

// Care levels (自理能力).
const (
	CareSelf          CareLevel = "self_care"      // 全自理
	CareSemiDependent CareLevel = "semi_dependent" // 半失能
	CareDependent     CareLevel = "dependent"      // 全失能
)

// Valid reports whether c is a known care level.
func (c CareLevel) Valid() bool {
	return c == CareSelf || c == CareSemiDependent || c == CareDependent
}

// Relation says who submitted an application for the person.
type Relation string

// Who may apply (申请人 / 代办人).
const (
	RelationSelf      Relation = "self"
	RelationRelative  Relation = "relative"
	RelationAgent     Relation = "agent"
	RelationCommunity Relation = "community" // the community (居委会/村委会) on the person's behalf
)

// Valid reports whether r is a known relation.
func (r Relation) Valid() bool {
	switch r {
	case RelationSelf, RelationRelative, RelationAgent, RelationCommunity:
		return true
	}
	return false
}

// DisabilityKind and grade are the disability part of the eligibility rule.
type DisabilityKind string

// Disability kinds recognised by the 2021 rules for 特困人员认定.
const (
	DisabilityIntellectual DisabilityKind = "intellectual"
	DisabilityMental       DisabilityKind = "mental"
	DisabilityPhysical     DisabilityKind = "physical"
	DisabilityVisual       DisabilityKind = "visual"
	DisabilityHearing      DisabilityKind = "hearing"
	DisabilitySpeech       DisabilityKind = "speech"
)

// Valid reports whether k is a known kind.
func (k DisabilityKind) Valid() bool {
	switch k {
	case DisabilityIntellectual, DisabilityMental, DisabilityPhysical, DisabilityVisual,
		DisabilityHearing, DisabilitySpeech:
		return true
	}
	return false
}

// QualifiesAsUnableToWork applies 特困人员认定办法 (2021) art. 7: intellectual
// or mental grade 1-3, physical grade 1-2, visual grade 1.
func (k DisabilityKind) QualifiesAsUnableToWork(grade int) bool {
	switch k {
	case DisabilityIntellectual, DisabilityMental:
		return grade >= 1 && grade <= 3
	case DisabilityPhysical:
		return grade >= 1 && grade <= 2
	case DisabilityVisual:
		return grade == 1
	}
	return false
}

// UnableToWorkByAge is the age part of the rule: 60 or older, or under 16.
func UnableToWorkByAge(age int) bool { return age >= 60 || age < 16 }

// IsMinor reports whether a person of that age is a minor, who is not listed
// in public notices.
func IsMinor(age int) bool { return age < 18 }

// SupportStart is the first day of the month after the admission date: the
// day support begins.
func SupportStart(admitted time.Time) time.Time {
	d := admitted.In(chinaZone)
	return time.Date(d.Year(), d.Month()+1, 1, 0, 0, 0, 0, chinaZone)
}

// PublicNoticePeriod is the length of 公示 (7 calendar days).
const PublicNoticePeriod = 7 * 24 * time.Hour

// CaseWorkflowID derives the Temporal workflow ID of a case from its ID.
func CaseWorkflowID(caseID int64) string { return "civicflow-case-" + strconv.FormatInt(caseID, 10) }

// DepartureWorkflowID derives the workflow ID recording a resident leaving,
// one per allocation, so that a repeated request starts nothing new.
func DepartureWorkflowID(allocationID int64) string {
	return "civicflow-departure-" + strconv.FormatInt(allocationID, 10)
}
