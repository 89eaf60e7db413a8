package wire

import "civicflow"

// Bed operations (issue 18, docs/beds.md).

// CreateInstitutionRequest is the body of POST /api/v1/admin/institutions.
type CreateInstitutionRequest struct {
	Name         string `json:"name" validate:"required,notblank,max=100"`
	DistrictCode string `json:"district_code" validate:"required,len=6,numeric"`
	// Designated: the institution takes centralised-care cases (default
	// true).
	Designated *bool  `json:"designated"`
	Address    string `json:"address" validate:"max=200"`
}

// UpdateInstitutionRequest is the body of POST
// /api/v1/admin/institutions/{id}: the fields given change.
type UpdateInstitutionRequest struct {
	Name       *string `json:"name" validate:"omitempty,notblank,max=100"`
	Designated *bool   `json:"designated"`
}

// AddBedRequest is the body of POST /api/v1/admin/institutions/{id}/beds.
type AddBedRequest struct {
	Label     string `json:"label" validate:"required,notblank,max=40"`
	CareLevel string `json:"care_level" validate:"required,oneof=self_care semi_dependent dependent"`
}

// InstitutionRecords answers GET /api/v1/admin/institutions.
type InstitutionRecords struct {
	Institutions []civicflow.InstitutionRecord `json:"institutions"`
}

// InstitutionBeds answers GET /api/v1/admin/institutions/{id}/beds: the
// institution and every bed, retired ones too, with who holds it.
type InstitutionBeds struct {
	Institution civicflow.InstitutionRecord `json:"institution"`
	Beds        []civicflow.Bed             `json:"beds"`
}

// Waitlist answers GET /api/v1/supervision/waitlist.
type Waitlist struct {
	Waitlist []civicflow.WaitlistEntry `json:"waitlist"`
}
