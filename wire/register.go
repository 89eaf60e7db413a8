package wire

import "civicflow"

// The register of supported persons (issue 18, api/register.go).

// RegisterList is the answer of GET /api/v1/register: entries newest
// first; Next is the cursor of the next page (0: none).
type RegisterList struct {
	Entries []*civicflow.RegisterEntry `json:"entries"`
	Next    int64                      `json:"next,omitempty"`
}

// RegisterDetail is one period of support with every change of the
// person's register entries.
type RegisterDetail struct {
	Entry   *civicflow.RegisterEntry   `json:"entry"`
	Changes []civicflow.RegisterChange `json:"changes"`
}

// RegisterCounts is the answer of GET /api/v1/supervision/register/counts.
type RegisterCounts struct {
	Counts []civicflow.RegisterCount `json:"counts"`
	Total  int                       `json:"total"`
}

// RegisterRevealRequest is the body of POST /api/v1/register/{id}/reveal:
// why the official needs the names and the carer's phone (audited).
type RegisterRevealRequest struct {
	Reason string `json:"reason" validate:"required,notblank,max=500"`
}

// RegisterRevealed is the entry's personal data, unmasked.
type RegisterRevealed struct {
	ID         int64  `json:"id"`
	PersonName string `json:"person_name"`
	CarerName  string `json:"carer_name,omitempty"`
	CarerPhone string `json:"carer_phone,omitempty"`
}

// SupportStandards is the answer of GET /api/v1/admin/support-standards.
type SupportStandards struct {
	Standards []civicflow.SupportStandard `json:"standards"`
}

// SupportStandardRequest is the body of PUT
// /api/v1/admin/support-standards/{district}/{effective_from}.
type SupportStandardRequest struct {
	MonthlyAmount int `json:"monthly_amount" validate:"required,min=1,max=100000"`
}

// CarerInput is the carer and care agreement of dispersed support.
type CarerInput struct {
	Name     string `json:"name" validate:"required,notblank,max=50"`
	Relation string `json:"relation" validate:"max=30"`
	Phone    string `json:"phone" validate:"required,mobile"`
	StartsOn string `json:"starts_on" validate:"required,date"`
	EndsOn   string `json:"ends_on" validate:"omitempty,date"`
}

// TransferVisitInput is the township's record_transfer_visit.
type TransferVisitInput struct {
	VisitedOn string `json:"visited_on" validate:"required,date"`
	Reason    string `json:"reason" validate:"required,oneof=carer_unable care_level_changed persons_own_request"`
	Findings  string `json:"findings" validate:"required,notblank,max=4000"`
	CareLevel string `json:"care_level" validate:"required,oneof=self_care semi_dependent dependent"`
}

// TransferApplicationRequest is the body of POST
// /api/v1/transfer/applications: a person in dispersed support, or a
// relative for them, asks to move to an institution. The person is found
// in the register by ID number and name.
type TransferApplicationRequest struct {
	Person struct {
		IDNumber string `json:"id_number" validate:"required,idnumber"`
		Name     string `json:"name" validate:"required,notblank,max=50"`
	} `json:"person"`
	Applicant struct {
		Relation string `json:"relation" validate:"required,oneof=self relative"`
		Name     string `json:"name" validate:"max=50"`
		Phone    string `json:"phone" validate:"omitempty,mobile"`
		Email    string `json:"email" validate:"omitempty,email,max=254"`
	} `json:"applicant"`
	Reason    string `json:"reason" validate:"required,oneof=carer_unable care_level_changed persons_own_request"`
	Statement string `json:"statement" validate:"max=4000"`
}

// TerminationRequest is the body of POST /api/v1/register/{id}/terminations:
// an official raises the end of a person's support.
type TerminationRequest struct {
	Reason      string `json:"reason" validate:"required,oneof=died regained_income supporter_found moved_away"`
	EffectiveOn string `json:"effective_on" validate:"required,date"`
	RaisedBy    string `json:"raised_by" validate:"required,oneof=committee institution township"`
	Reporter    string `json:"reporter" validate:"required,notblank,max=100"`
	Statement   string `json:"statement" validate:"required,notblank,max=4000"`
}

// RegisterCaseOpened is the answer to a transfer application or a
// termination: the new case.
type RegisterCaseOpened struct {
	Reference  string          `json:"reference"`
	Stage      civicflow.Stage `json:"stage"`
	AccessCode string          `json:"access_code,omitempty"` // transfer applications only
	TrackURL   string          `json:"track_url,omitempty"`
}
