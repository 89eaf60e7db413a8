package wire

import "civicflow"

// The education grant for college freshmen (教育资助, issue 15): the
// application (POST /api/v1/education/applications), the township's
// verification (ActionRequest.Verification), the district's
// approval (ActionRequest.TierAmount) and the education part of the case
// page (CaseDetail.Education). See docs/education.md.

// EducationApplicationRequest is the body of POST
// /api/v1/education/applications. The person is the student; the
// applicant is the student, a parent or other relative, an agent or the
// community. It answers Submitted; a student who already holds the grant
// for the admission year is refused with 409 naming no case.
type EducationApplicationRequest struct {
	Person    EducationPersonInput `json:"person" validate:"required"`
	Applicant ApplicantInput       `json:"applicant" validate:"required"`
	Education EducationInput       `json:"education" validate:"required"`
	Statement string               `json:"statement" validate:"max=2000"`
}

// EducationPersonInput is the student: who they are, where their
// household is registered (the township that verifies) and where they live.
type EducationPersonInput struct {
	PersonIdentity
}

// EducationInput is what the applicant declares of the family and the
// admission: the family status (civicflow.FamilyStatus), the school and
// its kind (civicflow.SchoolKind), the major, the admission year (the API
// takes this year's or last year's) and the admission notice's number
// (录取通知书编号).
type EducationInput struct {
	FamilyStatus  string `json:"family_status" validate:"required,oneof=dibao dibao_margin extremely_poor"`
	School        string `json:"school" validate:"required,notblank,max=100"`
	SchoolKind    string `json:"school_kind" validate:"required,oneof=undergraduate vocational"`
	Major         string `json:"major" validate:"max=100"`
	AdmissionYear int    `json:"admission_year" validate:"required"`
	NoticeNumber  string `json:"notice_number" validate:"required,alphanum,max=40"`
}

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
