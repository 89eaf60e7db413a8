package civicflow

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// The case every authorisation test looks at: case 42 in township
// 610113001 of district 610113 (雁塔区), holding a bed at institution 7.
const (
	caseID            = 42
	caseDistrict      = "610113"
	caseTownship      = "610113001"
	otherTownship     = "610113002" // same district
	otherDistrict     = "610104"
	otherDistrictTown = "610104003"
	caseInstitution   = 7
	otherInstitution  = 8
	otherCaseID       = 43
	unknownStage      = Stage("bogus")
	unknownRole       = Role("janitor")
	roleSystem        = Role("system")
)

func caseScope(stage Stage) Scope {
	return Scope{CaseID: caseID, Stage: stage, DistrictCode: caseDistrict,
		TownshipCode: caseTownship, InstitutionID: caseInstitution}
}

// place is where an actor stands relative to the case. Each place sets all
// three attachment fields so that a role reading the wrong field is caught.
type place struct {
	name          string
	jurisdiction  string
	institutionID int64
	caseID        int64
}

var places = []place{
	{"own township", caseTownship, 0, 0},
	{"other township of same district", otherTownship, 0, 0},
	{"own district", caseDistrict, 0, 0},
	{"other district", otherDistrict, 0, 0},
	{"township of other district", otherDistrictTown, 0, 0},
	{"city", CityCode, 0, 0},
	{"own institution", "", caseInstitution, 0},
	{"other institution", "", otherInstitution, 0},
	{"own case", "", 0, caseID},
	{"other case", "", 0, otherCaseID},
	{"other township but case's institution and case id", otherTownship, caseInstitution, caseID},
	{"prefix-extended district code", caseDistrict + "9", otherInstitution, otherCaseID},
	{"nowhere", "", 0, 0},
}

// expectInJurisdiction states the jurisdiction rules independently of the
// code under test.
func expectInJurisdiction(r Role, p place) bool {
	switch r {
	case RoleTownshipOfficial:
		return p.jurisdiction == caseTownship
	case RoleDistrictReviewer:
		return p.jurisdiction == caseDistrict
	case RoleSupervisor:
		return p.jurisdiction == caseDistrict || p.jurisdiction == CityCode
	case RoleInstitutionStaff:
		return p.institutionID == caseInstitution
	case RoleApplicant:
		return p.caseID == caseID
	}
	return false // rehab assessors, administrators, system, unknown roles
}

// expectedRules is the authorisation table written out by hand from the
// domain brief: action → role → stages in which the role may do it.
var expectedRules = map[Action]map[Role][]Stage{
	"accept":              {RoleTownshipOfficial: {StageIntake}},
	"request_supplements": {RoleTownshipOfficial: {StageIntake}},
	"reject": {
		RoleTownshipOfficial: {StageIntake},
		RoleDistrictReviewer: {StageDistrictReview},
	},
	"provide_supplements": {RoleApplicant: {StageAwaitingSupplements}},
	"withdraw": {RoleApplicant: {
		StageIntake, StageAwaitingSupplements, StageInvestigation,
		StagePublicNotice, StageDistrictReview,
		StageRegistration, StageAssessment, StagePlanning, // community rehab, until the plan is agreed
		StageVerification, // education grant
	}},
	"record_investigation": {RoleTownshipOfficial: {StageInvestigation}},
	"lodge_objection":      {RoleTownshipOfficial: {StagePublicNotice}},
	"approve":              {RoleDistrictReviewer: {StageDistrictReview}},
	"return":               {RoleDistrictReviewer: {StageDistrictReview}},
	"confirm_admission":    {RoleInstitutionStaff: {StageAwaitingAdmission}},
	"record_departure":     {RoleInstitutionStaff: {StageCompleted}},
	// A bed given up before admission (issue 18): the institution holding
	// it or the district that placed the case.
	"release_allocation": {RoleInstitutionStaff: {StageAwaitingAdmission}, RoleDistrictReviewer: {StageAwaitingAdmission}},
	// Community rehab (rehab.go): the centre's actions.
	"register":       {RoleRehabAssessor: {StageRegistration}},
	"assess":         {RoleRehabAssessor: {StageAssessment}},
	"agree_plan":     {RoleRehabAssessor: {StagePlanning}},
	"record_review":  {RoleRehabAssessor: {StageInRehab}},
	"record_session": {RoleRehabAssessor: {StageInRehab}},
	"close":          {RoleRehabAssessor: {StageAssessment, StagePlanning, StageInRehab}},
	"refer":          {RoleRehabAssessor: {StageAssessment, StagePlanning, StageInRehab}},
	// Education grant (education.go).
	"record_verification": {RoleTownshipOfficial: {StageVerification}},
	// The register's transfer (register.go).
	"record_transfer_visit": {RoleTownshipOfficial: {StageInvestigation}},
}

func allRoles() []Role {
	return append(append([]Role{RoleApplicant}, OfficialRoles...), roleSystem, unknownRole, "")
}

func allStagesAndUnknown() []Stage {
	return append(append([]Stage{}, AllStages...), unknownStage, "")
}

func actorAt(r Role, p place) Actor {
	return Actor{UserID: 1, Username: "u", Role: r, Jurisdiction: p.jurisdiction,
		InstitutionID: p.institutionID, CaseID: p.caseID}
}

func TestExpectedRulesCoverEveryAction(t *testing.T) {
	t.Parallel()
	require.Len(t, Actions(), len(expectedRules))
	seen := map[Action]bool{}
	for _, a := range Actions() {
		require.False(t, seen[a], "duplicate action %s", a)
		seen[a] = true
		require.Contains(t, expectedRules, a)
		require.True(t, a.Valid(), a)
	}
	require.False(t, Action("fly").Valid())
	require.False(t, Action("").Valid())
}

func TestAuthorizeTable(t *testing.T) {
	t.Parallel()
	count := 0
	for action, byRole := range expectedRules {
		for _, role := range allRoles() {
			for _, p := range places {
				for _, stage := range allStagesAndUnknown() {
					count++
					err := Authorize(actorAt(role, p), action, caseScope(stage))
					msg := fmt.Sprintf("%s by %q at %s in stage %q", action, role, p.name, stage)

					stages, roleAllowed := byRole[role]
					switch {
					case !roleAllowed:
						require.Equal(t, EFORBIDDEN, ErrorCode(err), msg)
					case !expectInJurisdiction(role, p):
						require.Equal(t, EFORBIDDEN, ErrorCode(err), msg)
						require.Contains(t, ErrorMessage(err), "jurisdiction", msg)
					case containsStage(stages, stage):
						require.NoError(t, err, msg)
					default:
						require.Equal(t, ECONFLICT, ErrorCode(err), msg)
						require.Contains(t, ErrorMessage(err), "stage "+string(stage), msg)
						require.Contains(t, ErrorMessage(err), string(action), msg)
					}
					if err != nil {
						var e *Error
						require.ErrorAs(t, err, &e, msg)
					}
				}
			}
		}
	}
	require.Greater(t, count, 10000)
}

func containsStage(ss []Stage, s Stage) bool {
	for _, v := range ss {
		if v == s {
			return true
		}
	}
	return false
}

func TestAuthorizeForbiddenRoleNamesRoleAndAction(t *testing.T) {
	t.Parallel()
	err := Authorize(actorAt(RoleSupervisor, places[5]), ActionApprove, caseScope(StageDistrictReview))
	require.Equal(t, EFORBIDDEN, ErrorCode(err))
	require.Contains(t, ErrorMessage(err), "supervisor")
	require.Contains(t, ErrorMessage(err), "approve")

	err = Authorize(Actor{}, ActionAccept, caseScope(StageIntake))
	require.Equal(t, EFORBIDDEN, ErrorCode(err))
	require.Contains(t, ErrorMessage(err), "(none)")

	err = Authorize(SystemActor, ActionAccept, caseScope(StageIntake))
	require.Equal(t, EFORBIDDEN, ErrorCode(err))
}

func TestAuthorizeUnknownAction(t *testing.T) {
	t.Parallel()
	err := Authorize(actorAt(RoleTownshipOfficial, places[0]), Action("fly"), caseScope(StageIntake))
	require.Equal(t, EINVALID, ErrorCode(err))
	require.Contains(t, ErrorMessage(err), "fly")
}

func TestAuthorizeWithdrawMatchesWithdrawable(t *testing.T) {
	t.Parallel()
	applicant := Actor{Role: RoleApplicant, CaseID: caseID}
	for _, st := range AllStages {
		if st == StageSubmitted {
			// No workflow runs yet, so no update (withdraw) can reach it.
			continue
		}
		err := Authorize(applicant, ActionWithdraw, caseScope(st))
		require.Equal(t, st.Withdrawable(), err == nil, "stage %s: %v", st, err)
	}
}

func TestAllowedActions(t *testing.T) {
	t.Parallel()
	township := Actor{Role: RoleTownshipOfficial, Jurisdiction: caseTownship}
	require.Equal(t, []Action{ActionAccept, ActionRequestSupplements, ActionReject},
		AllowedActions(township, caseScope(StageIntake)))
	care := caseScope(StageInvestigation)
	care.CaseType = CaseTypeCentralisedCare
	require.Equal(t, []Action{ActionRecordInvestigation}, AllowedActions(township, care))
	require.Equal(t, []Action{ActionLodgeObjection}, AllowedActions(township, caseScope(StagePublicNotice)))
	require.Empty(t, AllowedActions(township, caseScope(StageDistrictReview)))
	require.Empty(t, AllowedActions(Actor{Role: RoleTownshipOfficial, Jurisdiction: otherTownship}, caseScope(StageIntake)))

	reviewer := Actor{Role: RoleDistrictReviewer, Jurisdiction: caseDistrict}
	require.Equal(t, []Action{ActionReject, ActionApprove, ActionReturn}, AllowedActions(reviewer, caseScope(StageDistrictReview)))
	require.Empty(t, AllowedActions(reviewer, caseScope(StageIntake)))

	applicant := Actor{Role: RoleApplicant, CaseID: caseID}
	require.Equal(t, []Action{ActionProvideSupplements, ActionWithdraw}, AllowedActions(applicant, caseScope(StageAwaitingSupplements)))
	require.Equal(t, []Action{ActionWithdraw}, AllowedActions(applicant, caseScope(StageIntake)))
	require.Empty(t, AllowedActions(applicant, caseScope(StageCompleted)))

	staff := Actor{Role: RoleInstitutionStaff, InstitutionID: caseInstitution}
	require.Equal(t, []Action{ActionConfirmAdmission, ActionReleaseAllocation}, AllowedActions(staff, caseScope(StageAwaitingAdmission)))
	require.Equal(t, []Action{ActionReleaseAllocation}, AllowedActions(reviewer, caseScope(StageAwaitingAdmission)))
	require.Empty(t, AllowedActions(Actor{Role: RoleDistrictReviewer, Jurisdiction: otherDistrict}, caseScope(StageAwaitingAdmission)))
	require.Empty(t, AllowedActions(Actor{Role: RoleInstitutionStaff, InstitutionID: caseInstitution + 1}, caseScope(StageAwaitingAdmission)))
	require.True(t, NeedsReasons(CaseTypeCentralisedCare, ActionReleaseAllocation, RoleInstitutionStaff))
	require.True(t, NeedsReasons(CaseTypeCentralisedCare, ActionReleaseAllocation, RoleDistrictReviewer))
	// Departure is recorded on the allocation, never offered on the case.
	require.NoError(t, Authorize(staff, ActionRecordDeparture, caseScope(StageCompleted)))
	require.Empty(t, AllowedActions(staff, caseScope(StageCompleted)))

	for _, r := range []Role{RoleSupervisor, RoleAdministrator, RoleRehabAssessor} {
		for _, st := range AllStages {
			require.Empty(t, AllowedActions(Actor{Role: r, Jurisdiction: CityCode}, caseScope(st)), "%s in %s", r, st)
		}
	}
}

func TestInJurisdiction(t *testing.T) {
	t.Parallel()
	s := caseScope(StageInvestigation)
	otherDistrictCase := Scope{CaseID: 99, Stage: StageIntake, DistrictCode: otherDistrict, TownshipCode: otherDistrictTown}

	// Supervisors: the city sees every district, a district sees only its own.
	city := Actor{Role: RoleSupervisor, Jurisdiction: CityCode}
	require.True(t, InJurisdiction(city, s))
	require.True(t, InJurisdiction(city, otherDistrictCase))
	require.True(t, InJurisdiction(city, Scope{}))
	district := Actor{Role: RoleSupervisor, Jurisdiction: caseDistrict}
	require.True(t, InJurisdiction(district, s))
	require.False(t, InJurisdiction(district, otherDistrictCase))
	require.False(t, InJurisdiction(Actor{Role: RoleSupervisor, Jurisdiction: caseTownship}, s))
	require.False(t, InJurisdiction(Actor{Role: RoleSupervisor}, Scope{}))

	// District reviewers: own district only; never the city code.
	require.True(t, InJurisdiction(Actor{Role: RoleDistrictReviewer, Jurisdiction: caseDistrict}, s))
	require.False(t, InJurisdiction(Actor{Role: RoleDistrictReviewer, Jurisdiction: CityCode}, s))
	require.False(t, InJurisdiction(Actor{Role: RoleDistrictReviewer}, Scope{}))

	// Township officials: own township only.
	require.True(t, InJurisdiction(Actor{Role: RoleTownshipOfficial, Jurisdiction: caseTownship}, s))
	require.False(t, InJurisdiction(Actor{Role: RoleTownshipOfficial, Jurisdiction: otherTownship}, s))
	require.False(t, InJurisdiction(Actor{Role: RoleTownshipOfficial, Jurisdiction: caseDistrict}, s))
	require.False(t, InJurisdiction(Actor{Role: RoleTownshipOfficial}, Scope{}))

	// Institution staff: by institution, whatever their jurisdiction code.
	require.True(t, InJurisdiction(Actor{Role: RoleInstitutionStaff, InstitutionID: caseInstitution}, s))
	require.True(t, InJurisdiction(Actor{Role: RoleInstitutionStaff, InstitutionID: caseInstitution, Jurisdiction: otherDistrict}, s))
	require.False(t, InJurisdiction(Actor{Role: RoleInstitutionStaff, InstitutionID: otherInstitution, Jurisdiction: caseDistrict}, s))
	require.False(t, InJurisdiction(Actor{Role: RoleInstitutionStaff}, Scope{}), "no bed, no institution")

	// Applicant: by the one case they hold the code for.
	require.True(t, InJurisdiction(Actor{Role: RoleApplicant, CaseID: caseID}, s))
	require.False(t, InJurisdiction(Actor{Role: RoleApplicant, CaseID: otherCaseID}, s))
	require.False(t, InJurisdiction(Actor{Role: RoleApplicant, Jurisdiction: caseTownship}, s))
	require.False(t, InJurisdiction(Actor{Role: RoleApplicant}, Scope{}))

	// Roles with no case jurisdiction.
	for _, r := range []Role{RoleRehabAssessor, RoleAdministrator, roleSystem, unknownRole, ""} {
		require.False(t, InJurisdiction(Actor{Role: r, Jurisdiction: CityCode, InstitutionID: caseInstitution, CaseID: caseID}, s), r)
	}

	// The table places agree with the independent statement.
	for _, r := range allRoles() {
		for _, p := range places {
			require.Equal(t, expectInJurisdiction(r, p), InJurisdiction(actorAt(r, p), s), "%q at %s", r, p.name)
		}
	}
}

func TestRolesAndReads(t *testing.T) {
	t.Parallel()
	for _, r := range OfficialRoles {
		require.True(t, r.Valid(), r)
	}
	require.Len(t, OfficialRoles, 6)
	require.False(t, RoleApplicant.Valid(), "applicants have no account")
	require.False(t, roleSystem.Valid())
	require.False(t, Role("").Valid())

	readers := map[Role]bool{RoleTownshipOfficial: true, RoleDistrictReviewer: true, RoleSupervisor: true,
		RoleInstitutionStaff: true, RoleRehabAssessor: true}
	for _, r := range allRoles() {
		require.Equal(t, readers[r], CanReadCases(r), r)
	}
}

func TestActorString(t *testing.T) {
	t.Parallel()
	require.Equal(t, "applicant", Actor{Role: RoleApplicant, CaseID: 1}.String())
	require.Equal(t, "li (township_official 610113001)",
		Actor{Username: "li", Role: RoleTownshipOfficial, Jurisdiction: caseTownship}.String())
}

func TestUserActorAndCaseScope(t *testing.T) {
	t.Parallel()
	u := User{ID: 5, Username: "wang", Role: RoleInstitutionStaff, Jurisdiction: caseDistrict, InstitutionID: caseInstitution}
	require.Equal(t, Actor{UserID: 5, Username: "wang", Role: RoleInstitutionStaff, Jurisdiction: caseDistrict, InstitutionID: caseInstitution}, u.Actor())

	c := Case{ID: caseID, Stage: StagePlacement, DistrictCode: caseDistrict, TownshipCode: caseTownship, InstitutionID: caseInstitution}
	require.Equal(t, caseScope(StagePlacement), c.Scope())
}

func TestErrorCodeAndMessage(t *testing.T) {
	t.Parallel()
	domain := Errorf(ENOTFOUND, "case %d not found", 42)
	tests := []struct {
		name      string
		err       error
		code, msg string
	}{
		{"nil", nil, "", ""},
		{"domain error", domain, ENOTFOUND, "case 42 not found"},
		{"wrapped", fmt.Errorf("loading: %w", domain), ENOTFOUND, "case 42 not found"},
		{"wrapped twice", fmt.Errorf("api: %w", fmt.Errorf("loading: %w", domain)), ENOTFOUND, "case 42 not found"},
		{"joined", errors.Join(errors.New("other"), domain), ENOTFOUND, "case 42 not found"},
		{"invalid", Invalid(FieldError{"name", "is required"}), EINVALID, "the request has invalid fields"},
		{"plain", errors.New("pq: connection refused at 10.0.0.3"), EINTERNAL, "an internal error occurred"},
		{"wrapped plain", fmt.Errorf("x: %w", errors.New("secret detail")), EINTERNAL, "an internal error occurred"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.code, ErrorCode(tc.err))
			require.Equal(t, tc.msg, ErrorMessage(tc.err))
		})
	}
}

func TestErrorString(t *testing.T) {
	t.Parallel()
	require.Equal(t, "civicflow conflict: wrong stage", Errorf(ECONFLICT, "wrong %s", "stage").Error())
	err := Invalid(FieldError{"name", "is required"}, FieldError{"id_number", "must be 18 characters"})
	require.Equal(t, EINVALID, err.Code)
	require.Len(t, err.Fields, 2)
	require.Equal(t, "civicflow invalid: the request has invalid fields (name: is required; id_number: must be 18 characters)", err.Error())
}
