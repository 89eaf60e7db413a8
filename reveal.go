package civicflow

// RevealField names one item of personal data an official may ask to see
// unmasked.
type RevealField string

// Fields that can be revealed.
const (
	RevealIDNumber       RevealField = "id_number"
	RevealPhone          RevealField = "phone"
	RevealApplicantPhone RevealField = "applicant_phone"
	RevealApplicantEmail RevealField = "applicant_email"
	RevealDisability     RevealField = "disability"
)

// MayReveal decides whether actor may see the personal data of a case in
// scope s unmasked. Only the officials who handle the case need it: the
// township official of the case's street office or town (intake,
// investigation, contacting the applicant) and the district reviewer of its
// district (the decision). Supervisors read cases but decide nothing, and
// institution staff, rehab assessors and administrators do not handle the
// application, so they see masked values only (个人信息保护法: minimum access).
func MayReveal(actor Actor, s Scope) bool {
	switch actor.Role {
	case RoleTownshipOfficial, RoleDistrictReviewer:
		return InJurisdiction(actor, s)
	}
	return false
}
