package wire

import (
	"encoding/json"
	"time"

	"civicflow"
)

// Community rehabilitation for mental disorders (精神障碍社区康复): the
// application, the rehab centre's actions (through
// POST /api/v1/cases/{ref}/actions/{action}, ActionRequest.Rehab),
// attendance and the audited read of the clinical record. See
// docs/rehab.md.

// RehabApplicationRequest is the body of POST /api/v1/rehab/applications.
// It answers Submitted.
type RehabApplicationRequest struct {
	Person    RehabPersonInput    `json:"person" validate:"required"`
	Applicant RehabApplicantInput `json:"applicant" validate:"required"`
	Statement string              `json:"statement" validate:"max=2000"`
}

// RehabPersonInput is the patient. Nothing clinical: the diagnosis is
// recorded by the rehab centre at registration.
type RehabPersonInput struct {
	PersonIdentity
	// WithoutCapacity: the person has no or limited civil capacity
	// (无/限制民事行为能力); a guardian applies and consents.
	WithoutCapacity bool `json:"without_capacity"`
}

// RehabApplicantInput is who applies: the patient, a family member or the
// guardian. For a minor or a person without capacity the guardian applies,
// with consent recorded (GuardianConsent) on a date (ConsentOn); the API
// checks this against the ID number's birth date.
type RehabApplicantInput struct {
	AppliedBy       string `json:"applied_by" validate:"required,oneof=patient family guardian"`
	Name            string `json:"name" validate:"required_unless=AppliedBy patient,omitempty,personname"`
	Phone           string `json:"phone" validate:"omitempty,mobile"`
	Email           string `json:"email" validate:"omitempty,email,max=254"`
	GuardianConsent bool   `json:"guardian_consent"`
	ConsentOn       string `json:"consent_on" validate:"omitempty,date"`
}

// RehabInput carries the fields of the rehab centre's actions (register,
// assess, agree_plan, record_review, close, refer). What is clinical is
// sealed by the API and reaches the workflow and the store only sealed.
type RehabInput struct {
	// register (登记建档)
	FileNumber string `json:"file_number" validate:"max=64"`
	Diagnosis  string `json:"diagnosis" validate:"max=500"` // e.g. ICD-10 F20.0 偏执型精神分裂症
	// assess
	Suitable           *bool    `json:"suitable"`
	RiskLevel          *int     `json:"risk_level" validate:"omitempty,min=0,max=5"`
	Services           []string `json:"services" validate:"max=9"`
	Physician          string   `json:"physician" validate:"omitempty,personname"`
	Findings           string   `json:"findings" validate:"max=4000"`
	ReferralSuggestion string   `json:"referral_suggestion" validate:"max=2000"`
	// agree_plan (and record_review when the plan changes)
	Plan               []PlanItemInput `json:"plan" validate:"max=9,dive"`
	AgreedBy           string          `json:"agreed_by" validate:"omitempty,oneof=patient guardian"`
	AgreedByName       string          `json:"agreed_by_name" validate:"omitempty,personname"`
	ReviewIntervalDays int             `json:"review_interval_days" validate:"min=0,max=365"`
	// record_review
	Progress []ProgressInput `json:"progress" validate:"max=9,dive"`
	// close and refer
	Closure  string `json:"closure" validate:"omitempty,oneof=goals_met moved_away withdrew died"`
	ReferTo  string `json:"refer_to" validate:"omitempty,oneof=hospital centre"`
	CentreID int64  `json:"centre_id" validate:"min=0"`
	Hospital string `json:"hospital" validate:"max=200"`
	Notes    string `json:"notes" validate:"max=4000"`
}

// PlanItemInput is one service of a rehab plan.
type PlanItemInput struct {
	Service   string `json:"service" validate:"required"`
	Frequency string `json:"frequency" validate:"required,notblank,max=100"`
	StartDate string `json:"start_date" validate:"required,date"`
}

// ProgressInput is a review's rating of one service of the plan.
type ProgressInput struct {
	Service string `json:"service" validate:"required"`
	Rating  string `json:"rating" validate:"required,oneof=improved stable worse"`
	Note    string `json:"note" validate:"required,notblank,max=2000"`
}

// RehabCentres answers GET /api/v1/rehab/centres.
type RehabCentres struct {
	Centres []civicflow.RehabCentre `json:"centres"`
}

// ClinicalView answers GET /api/v1/cases/{ref}/rehab, for the rehab
// centre holding the case and the district reviewer only (audited).
type ClinicalView struct {
	Reference   string                      `json:"reference"`
	Stage       civicflow.Stage             `json:"stage"`
	Summary     *civicflow.RehabSummary     `json:"summary"`
	Application *civicflow.RehabApplication `json:"application"`
	Records     []ClinicalRecord            `json:"records"`
}

// ClinicalRecord is one step of the clinical record, oldest first.
type ClinicalRecord struct {
	ID       int64           `json:"id"`
	Kind     string          `json:"kind"` // registration, assessment, plan, review, closure, referral
	CentreID int64           `json:"centre_id"`
	Actor    civicflow.Actor `json:"actor"`
	// Content is a ClinicalContent as it was sealed when the step was
	// recorded, unchanged: a record written before a field was added
	// lacks it.
	Content    json.RawMessage `json:"content"`
	RecordedAt time.Time       `json:"recorded_at"`
}

// ClinicalContent is what the API seals for one step of the rehab centre:
// what the assessor sent, as sent, with the kind and the case.
type ClinicalContent struct {
	Case  string     `json:"case"`
	Input RehabInput `json:"input"`
	Kind  string     `json:"kind"`
}

// SessionRequest is the body of POST /api/v1/cases/{ref}/rehab/sessions:
// attendance at a service of the plan on a day.
type SessionRequest struct {
	Service  string `json:"service" validate:"required,oneof=medication_training relapse_prevention physical_health daily_living_skills social_skills vocational_rehab psychological_rehab peer_support family_support"`
	Sessions int    `json:"sessions" validate:"required,min=1,max=50"`
	On       string `json:"on" validate:"required,date"`
}

// SessionRecorded answers attendance (202): it is sent to the case's
// workflow, and the next review counts it.
type SessionRecorded struct {
	Recorded  bool   `json:"recorded"`
	Reference string `json:"reference"`
}
