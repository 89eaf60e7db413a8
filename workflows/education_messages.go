package workflows

import (
	"time"

	"civicflow"
)

// Messages of the EducationGrant workflow (education_grant.go). Like the
// rest of messages.go: fields may be added, never removed or renamed.

// EducationGrantInput starts the workflow of one education-grant case.
type EducationGrantInput struct {
	CaseID       int64
	Reference    string
	DistrictCode string
	TownshipCode string
	BirthDate    time.Time
	// StageSearchAttributes: see StageAttributes.
	StageSearchAttributes *bool `json:",omitempty"`
}

// EducationState is the education-grant part of CaseState.
type EducationState struct {
	// Verification is the township's record_verification of the current
	// round (nil until recorded; a return to the township clears it).
	Verification *civicflow.EducationVerification `json:"verification,omitempty"`
	// Amount is the approved grant (CNY), once approved.
	Amount int `json:"amount,omitempty"`
}
