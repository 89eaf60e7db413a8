package wire

import (
	"time"

	"civicflow"
)

// The officials' side: the case list and detail, actions, papers' reveal,
// and the lists the forms choose from. Every route takes the official's
// bearer token.

// LoginRequest is the body of POST /api/v1/auth/login.
type LoginRequest struct {
	Username string `json:"username" validate:"required,max=64"`
	Password string `json:"password" validate:"required,max=256"`
}

// Session answers a login: the bearer token, when it expires, and the
// official. GET /api/v1/me answers the civicflow.User alone.
type Session struct {
	Token     string          `json:"token"`
	ExpiresAt time.Time       `json:"expires_at"`
	User      *civicflow.User `json:"user"`
}

// CaseList answers GET /api/v1/cases: one page of the cases the official
// may read, oldest first; NextAfter, when set, is the after= of the next
// page.
type CaseList struct {
	Cases     []CaseListItem `json:"cases"`
	NextAfter *int64         `json:"next_after,omitempty"`
}

// CaseListItem is one row of the case list.
type CaseListItem struct {
	Reference      string          `json:"reference"`
	Stage          civicflow.Stage `json:"stage"`
	PersonName     string          `json:"person_name"`
	IDNumberMasked string          `json:"id_number_masked"`
	DistrictCode   string          `json:"district_code"`
	TownshipCode   string          `json:"township_code"`
	StageEnteredAt time.Time       `json:"stage_entered_at"`
	CreatedAt      time.Time       `json:"created_at"`
	ID             int64           `json:"id"`
}

// CaseDetail answers GET /api/v1/cases/{ref} and an action: the case
// (personal data masked), what the official may do now, and its records.
type CaseDetail struct {
	*civicflow.Case
	AllowedActions []civicflow.Action      `json:"allowed_actions"`
	Timeline       []civicflow.Event       `json:"timeline"`
	Papers         []civicflow.Document    `json:"papers"`
	Checks         []civicflow.CheckResult `json:"economic_checks"`
	Allocation     *civicflow.Allocation   `json:"allocation,omitempty"`
	// Rehab is the rehab part of a community-rehab case: centre, dates and
	// counts, never clinical content (GET /api/v1/cases/{ref}/rehab).
	Rehab *civicflow.RehabSummary `json:"rehab,omitempty"`
	// Education is the education part of an education-grant case
	// (education.go).
	Education *EducationDetail `json:"education,omitempty"`
	// Register is what a transfer or termination of support is about: the
	// register entry, who raised it, why and (a termination) from when.
	Register *civicflow.RegisterCaseDetails `json:"register,omitempty"`
}

// Allows reports whether the official may take action a now.
func (d *CaseDetail) Allows(a civicflow.Action) bool {
	for _, x := range d.AllowedActions {
		if x == a {
			return true
		}
	}
	return false
}

// ActionRequest is the body of POST /api/v1/cases/{ref}/actions/{action}.
// Which fields an action needs is checked by the case's workflow.
type ActionRequest struct {
	Reasons   string          `json:"reasons" validate:"max=4000"`
	Items     []string        `json:"items" validate:"max=50,dive,max=200"`
	Note      string          `json:"note" validate:"max=4000"`
	HomeVisit *HomeVisitInput `json:"home_visit"`
	Objector  string          `json:"objector" validate:"max=100"`
	CareLevel string          `json:"care_level" validate:"omitempty,oneof=self_care semi_dependent dependent"`
	// ReleaseReason: release_allocation, why the bed is given up before
	// admission (the workflow requires it there).
	ReleaseReason string `json:"release_reason" validate:"omitempty,oneof=declined died no_show"`
	// RehabCentreID: approve of a community-rehab case names the
	// district's rehab centre.
	RehabCentreID int64 `json:"rehab_centre_id" validate:"min=0"`
	// Rehab: the fields of the rehab centre's actions.
	Rehab *RehabInput `json:"rehab"`
	// Verification: the township's record_verification of an
	// education-grant case (education.go).
	Verification *VerificationInput `json:"verification"`
	// TierAmount: approve of an education-grant case, the grant the tier
	// rules give the verified family status and kind of school.
	TierAmount int `json:"tier_amount" validate:"omitempty,oneof=3000 5000 7000"`
	// SupportForm: approve of a centralised-care case records the
	// person's choice; dispersed needs Carer (register.go).
	SupportForm string      `json:"support_form" validate:"omitempty,oneof=centralised dispersed"`
	Carer       *CarerInput `json:"carer"`
	// TransferVisit: the township's record_transfer_visit of a transfer.
	TransferVisit *TransferVisitInput `json:"transfer_visit"`
}

// HomeVisitInput is the record of an investigation's home visit
// (入户调查).
type HomeVisitInput struct {
	VisitedOn string   `json:"visited_on" validate:"required,date"`
	Visitors  []string `json:"visitors" validate:"required,min=1,max=10,dive,max=64"`
	Findings  string   `json:"findings" validate:"required,notblank,max=4000"`
	CareLevel string   `json:"care_level" validate:"required,oneof=self_care semi_dependent dependent"`
	Opinion   string   `json:"opinion" validate:"required,oneof=eligible ineligible"`
}

// RevealRequest is the body of POST /api/v1/cases/{ref}/reveal: which
// personal data to see unmasked, and why (audited).
type RevealRequest struct {
	Fields []string `json:"fields" validate:"required,min=1,max=5,dive,oneof=id_number phone applicant_phone applicant_email disability"`
	Reason string   `json:"reason" validate:"required,notblank,max=500"`
}

// Revealed carries only the fields asked for.
type Revealed struct {
	Reference      string                `json:"reference"`
	IDNumber       string                `json:"id_number,omitempty"`
	Phone          string                `json:"phone,omitempty"`
	ApplicantPhone string                `json:"applicant_phone,omitempty"`
	ApplicantEmail string                `json:"applicant_email,omitempty"`
	Disability     *civicflow.Disability `json:"disability,omitempty"`
}

// Institutions answers GET /api/v1/institutions.
type Institutions struct {
	Institutions []civicflow.Institution `json:"institutions"`
}
