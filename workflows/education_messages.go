package workflows

import "time"

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
