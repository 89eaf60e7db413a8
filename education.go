package civicflow

import "time"

// The education grant for low-income college freshmen (教育资助), the third
// process on the shared pipeline (docs/architecture.md): a freshman from a
// family on minimum living allowance (低保), at its margin (低保边缘), or an
// extremely poor person (特困) applies, or a parent for them, with the
// admission notice and the school's details; the township verifies the
// family status (the household economic check) and the enrolment; the
// district approves the tier the rules give (3,000, 5,000 or 7,000 CNY);
// the award is recorded for payment and the case completes. One award per
// student per admission year, enforced by a constraint.

// CaseTypeEducationGrant is 教育资助 (低收入家庭大学新生).
const CaseTypeEducationGrant CaseType = "education_grant"

// StageVerification is the township's check of family status and
// enrolment (家庭状况及入学核实), with the household economic check.
const StageVerification Stage = "verification"

// ActionRecordVerification records the township's verification of family
// status and enrolment and its preliminary opinion (初审).
const ActionRecordVerification Action = "record_verification"

// FamilyStatus is the assistance status of the student's family. Stored
// and sent to workflows: never change a value.
type FamilyStatus string

// Family statuses that qualify for the grant.
const (
	FamilyDibao         FamilyStatus = "dibao"          // 低保家庭
	FamilyDibaoMargin   FamilyStatus = "dibao_margin"   // 低保边缘家庭
	FamilyExtremelyPoor FamilyStatus = "extremely_poor" // 特困人员
)

// FamilyStatuses lists them in order of need, least first.
var FamilyStatuses = []FamilyStatus{FamilyDibaoMargin, FamilyDibao, FamilyExtremelyPoor}

// Valid reports whether f is a known family status.
func (f FamilyStatus) Valid() bool {
	return f == FamilyDibao || f == FamilyDibaoMargin || f == FamilyExtremelyPoor
}

// SchoolKind is the kind of school the freshman was admitted to.
type SchoolKind string

// School kinds.
const (
	SchoolUndergraduate SchoolKind = "undergraduate" // 普通本科
	SchoolVocational    SchoolKind = "vocational"    // 高职(专科)
)

// SchoolKinds lists the kinds of school.
var SchoolKinds = []SchoolKind{SchoolUndergraduate, SchoolVocational}

// Valid reports whether k is a known kind of school.
func (k SchoolKind) Valid() bool { return k == SchoolUndergraduate || k == SchoolVocational }

// GrantTiers are the amounts (CNY) a grant may have.
var GrantTiers = []int{3000, 5000, 7000}

// ValidGrantTier reports whether amount is one of GrantTiers.
func ValidGrantTier(amount int) bool {
	for _, t := range GrantTiers {
		if t == amount {
			return true
		}
	}
	return false
}

// EducationApplication is the education-grant part of an Application.
type EducationApplication struct {
	FamilyStatus  FamilyStatus `json:"family_status"`  // as declared; the township verifies it
	School        string       `json:"school"`         // the school's name
	SchoolKind    SchoolKind   `json:"school_kind"`    // as on the admission notice
	Major         string       `json:"major"`          // 专业, optional
	AdmissionYear int          `json:"admission_year"` // e.g. 2026
	NoticeNumber  string       `json:"notice_number"`  // 录取通知书编号
}

// Opinions of a verification (初审).
const (
	OpinionEligible   = "eligible"
	OpinionIneligible = "ineligible"
)

// EducationVerification is what the township records in verification:
// the family status it found, whether the enrolment is confirmed with the
// school, and its preliminary opinion. Ineligible ends the case with the
// action's reasons.
type EducationVerification struct {
	FamilyStatus       FamilyStatus `json:"family_status"`
	SchoolKind         SchoolKind   `json:"school_kind"`
	EnrolmentConfirmed bool         `json:"enrolment_confirmed"`
	Findings           string       `json:"findings"`
	Opinion            string       `json:"opinion"` // OpinionEligible or OpinionIneligible
}

// TierRule says which tier a family status and kind of school get in a
// jurisdiction (a district, or CityCode for the city-wide default). Rules
// are data, changed by administrators.
type TierRule struct {
	Jurisdiction string       `json:"jurisdiction"`
	FamilyStatus FamilyStatus `json:"family_status"`
	SchoolKind   SchoolKind   `json:"school_kind"`
	Amount       int          `json:"amount"`
	UpdatedAt    time.Time    `json:"updated_at,omitzero"`
}

// AwardState is where an award stands on its way to payment.
type AwardState string

// Award states. A disbursement run's paid line moves an award on.
const (
	AwardAwaitingPayment AwardState = "awaiting_payment"
	// AwardPaid: the award's line in a disbursement run was paid.
	AwardPaid AwardState = "paid"
)

// EducationAward is an approved grant recorded for payment.
type EducationAward struct {
	ID            int64        `json:"id"`
	CaseID        int64        `json:"case_id"`
	PersonID      int64        `json:"person_id"`
	AdmissionYear int          `json:"admission_year"`
	Amount        int          `json:"amount"`
	FamilyStatus  FamilyStatus `json:"family_status"`
	SchoolKind    SchoolKind   `json:"school_kind"`
	DistrictCode  string       `json:"district_code"`
	State         AwardState   `json:"state"`
	AwardedAt     time.Time    `json:"awarded_at"`
}
