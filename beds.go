package civicflow

import "time"

// Bed operations (issue 18): institutions and beds administered by the
// bureau, beds given up before admission, and the wait-list in the order
// it is served (docs/beds.md).

// ReleaseReason says why a bed was given up before admission.
type ReleaseReason string

// Why a person did not take up the bed allocated to them.
const (
	ReleaseDeclined ReleaseReason = "declined" // the person or family declined the place
	ReleaseDied     ReleaseReason = "died"
	ReleaseNoShow   ReleaseReason = "no_show" // did not arrive to be admitted
)

// ReleaseReasons lists the reasons in a stable order.
func ReleaseReasons() []ReleaseReason {
	return []ReleaseReason{ReleaseDeclined, ReleaseDied, ReleaseNoShow}
}

// Valid reports whether r is a known release reason.
func (r ReleaseReason) Valid() bool {
	return r == ReleaseDeclined || r == ReleaseDied || r == ReleaseNoShow
}

// Release is the write of release_allocation: the allocation given up
// before admission, why, and the step that ends the case. The store ends
// the allocation, records the step and gives the bed to the next waiting
// case in one transaction, idempotent through the step's key.
type Release struct {
	AllocationID int64
	Reason       ReleaseReason
	Transition   Transition
}

// Bed is one bed of an institution with who holds it now.
type Bed struct {
	ID        int64      `json:"id"`
	Label     string     `json:"label"`
	CareLevel CareLevel  `json:"care_level"`
	RetiredAt *time.Time `json:"retired_at,omitempty"`
	// Holder is the case holding the bed now; nil when it is free.
	Holder *BedHolder `json:"holder,omitempty"`
}

// BedHolder is the case holding a bed: admitted, or allocated and
// awaiting admission.
type BedHolder struct {
	AllocationID int64     `json:"allocation_id"`
	CaseID       int64     `json:"-"`
	Reference    string    `json:"case_reference"`
	Admitted     bool      `json:"admitted"`
	Since        time.Time `json:"since"` // allocated, or admitted when Admitted
}

// InstitutionRecord is an institution as its administrators see it.
type InstitutionRecord struct {
	ID           int64     `json:"id"`
	Name         string    `json:"name"`
	DistrictCode string    `json:"district_code"`
	Designated   bool      `json:"designated"`
	Address      string    `json:"address"`
	CreatedAt    time.Time `json:"created_at"`
}

// WaitlistEntry is one case waiting for a bed, with its place in the
// city's order (among every case waiting for the care level) and in its
// district's (among the cases of its district waiting for the care
// level). Names and ID numbers are not part of it.
type WaitlistEntry struct {
	CityPosition     int       `json:"city_position"`
	DistrictPosition int       `json:"district_position"`
	CaseID           int64     `json:"-"`
	Reference        string    `json:"case_reference"`
	MaskedName       string    `json:"name_masked"` // MaskName: the surname only
	DistrictCode     string    `json:"district_code"`
	TownshipCode     string    `json:"township_code"`
	CareLevel        CareLevel `json:"care_level"`
	WaitingSince     time.Time `json:"waiting_since"`
}
