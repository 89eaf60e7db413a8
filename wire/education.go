package wire

import "civicflow"

// The education grant for college freshmen (教育资助, issue 15): the
// township's verification (ActionRequest.Verification), the district's
// approval (ActionRequest.TierAmount) and the education part of the case
// page (CaseDetail.Education). See docs/education.md.

// VerificationInput is the township's record_verification (家庭状况及入学
// 核实): the family status and kind of school found, whether the school
// confirmed the enrolment, the findings and the preliminary opinion. An
// eligible opinion names the status and kind and needs the enrolment
// confirmed; an ineligible one needs the action's reasons.
type VerificationInput struct {
	FamilyStatus       string `json:"family_status" validate:"required_if=Opinion eligible,omitempty,oneof=dibao dibao_margin extremely_poor"`
	SchoolKind         string `json:"school_kind" validate:"required_if=Opinion eligible,omitempty,oneof=undergraduate vocational"`
	EnrolmentConfirmed *bool  `json:"enrolment_confirmed" validate:"required"`
	Findings           string `json:"findings" validate:"required,notblank,max=4000"`
	Opinion            string `json:"opinion" validate:"required,oneof=eligible ineligible"`
}

// EducationDetail is the education part of an education-grant case's page.
type EducationDetail struct {
	// Application is what the applicant declared.
	Application civicflow.EducationApplication `json:"application"`
	// Verification is the township's latest record_verification.
	Verification *civicflow.EducationVerification `json:"verification,omitempty"`
	// Tier is what the rules in force give now; null when none gives a
	// grant for the status and kind.
	Tier  *EducationTier            `json:"tier"`
	Award *civicflow.EducationAward `json:"award,omitempty"`
}

// EducationTier is a tier rule and what selected it: Basis "verified" (the
// status and kind the township verified) or "declared" (before a
// verification names them, the applicant's).
type EducationTier struct {
	civicflow.TierRule
	Basis string `json:"basis"`
}
