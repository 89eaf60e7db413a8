package civicflow

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// A case's process decides what may be done on it: the rules of one
// process never apply to a case of another.
func TestAuthorizeFollowsTheCasesProcess(t *testing.T) {
	t.Parallel()
	township := Actor{UserID: 1, Username: "t", Role: RoleTownshipOfficial, Jurisdiction: caseTownship}
	in := func(ct CaseType, st Stage) Scope { s := caseScope(st); s.CaseType = ct; return s }
	require.NoError(t, Authorize(township, ActionRecordVerification, in(CaseTypeEducationGrant, StageVerification)))
	require.NoError(t, Authorize(township, ActionRecordInvestigation, in(CaseTypeCentralisedCare, StageInvestigation)))
	// The other process's action, even in a stage of the right name.
	require.Equal(t, EFORBIDDEN, ErrorCode(Authorize(township, ActionRecordVerification, in(CaseTypeCentralisedCare, StageVerification))))
	require.Equal(t, EFORBIDDEN, ErrorCode(Authorize(township, ActionRecordInvestigation, in(CaseTypeEducationGrant, StageInvestigation))))
	assessor := Actor{UserID: 2, Username: "r", Role: RoleRehabAssessor, RehabCentreID: 5}
	rehab := in(CaseTypeCommunityRehab, StageRegistration)
	rehab.RehabCentreID = 5
	require.NoError(t, Authorize(assessor, ActionRegister, rehab))
	care := in(CaseTypeCentralisedCare, StageRegistration)
	care.RehabCentreID = 5
	require.Equal(t, EFORBIDDEN, ErrorCode(Authorize(assessor, ActionRegister, care)))
	// Withdrawal stages are the process's own.
	applicant := Actor{Role: RoleApplicant, CaseID: caseID}
	require.NoError(t, Authorize(applicant, ActionWithdraw, in(CaseTypeEducationGrant, StageVerification)))
	require.Equal(t, ECONFLICT, ErrorCode(Authorize(applicant, ActionWithdraw, in(CaseTypeEducationGrant, StagePlanning))))
	require.Equal(t, ECONFLICT, ErrorCode(Authorize(applicant, ActionWithdraw, in(CaseTypeCentralisedCare, StagePlanning))))
}

func TestEveryProcessIsDefinedWhole(t *testing.T) {
	t.Parallel()
	require.Len(t, Processes(), len(AllCaseTypes))
	for _, p := range Processes() {
		require.True(t, p.Type.Valid(), p.Type)
		for _, st := range p.Stages {
			require.True(t, st.Valid(), "%s: stage %s", p.Type, st)
		}
		for _, r := range p.Rules {
			require.True(t, r.Action.Valid(), "%s: action %s", p.Type, r.Action)
			for _, st := range r.Stages {
				require.Contains(t, p.Stages, st, "%s: %s in a stage the process does not have", p.Type, r.Action)
			}
		}
		for _, st := range append(slices.Clone(p.Clocked), p.SystemStages...) {
			require.Contains(t, p.Stages, st, "%s", p.Type)
		}
		// Every action that moves a case out of intake or review needs a
		// rule; reasons where the applicant or township must read them.
		require.True(t, NeedsReasons(p.Type, ActionReject, RoleDistrictReviewer), p.Type)
		require.True(t, NeedsReasons(p.Type, ActionReturn, RoleDistrictReviewer), p.Type)
		require.False(t, NeedsReasons(p.Type, ActionApprove, RoleDistrictReviewer), p.Type)
	}
	_, ok := ProcessOf("parking_permit")
	require.False(t, ok)
}

// ResponsibleRole is derived from the rules; this is the table it had
// when it was written by hand (before issue 15), plus verification.
func TestResponsibleRoleDerivedFromTheRules(t *testing.T) {
	t.Parallel()
	want := map[Stage]Role{
		StageIntake: RoleTownshipOfficial, StageInvestigation: RoleTownshipOfficial, StageVerification: RoleTownshipOfficial,
		StageDistrictReview: RoleDistrictReviewer, StageAwaitingAdmission: RoleInstitutionStaff,
		StageRegistration: RoleRehabAssessor, StageAssessment: RoleRehabAssessor, StagePlanning: RoleRehabAssessor,
	}
	for _, st := range AllStages {
		require.Equal(t, want[st], ResponsibleRole(st), "stage %s", st)
	}
}

func TestNoticesForTheEducationGrant(t *testing.T) {
	t.Parallel()
	require.Equal(t, []Notice{officialNotice(TemplateCaseWaiting, RoleDistrictReviewer)},
		NoticesFor(ActionRecordVerification, StageDistrictReview))
	require.Equal(t, []Notice{applicantNotice(TemplateDecisionRejected)}, NoticesFor(ActionRecordVerification, StageRejected))
	require.Equal(t, []Notice{applicantNotice(TemplateDecisionApproved)}, NoticesFor(ActionApprove, StageCompleted))
	require.Nil(t, NoticesFor(StepEconomicCheckCompleted, StageVerification))
	// A rehab case accepted goes to the district at once, which hears of it;
	// an accept into investigation is the township's own work.
	require.Equal(t, []Notice{officialNotice(TemplateCaseWaiting, RoleDistrictReviewer)}, NoticesFor(ActionAccept, StageDistrictReview))
	require.Nil(t, NoticesFor(ActionAccept, StageInvestigation))
	require.Nil(t, NoticesFor(ActionAccept, StageVerification))
}

// A termination is raised by officials: its steps notify officials only.
func TestNoticesOfAProcessNobodyAppliesFor(t *testing.T) {
	t.Parallel()
	toApplicant := func(ns []Notice) bool {
		for _, n := range ns {
			if n.Recipient == RecipientApplicant {
				return true
			}
		}
		return false
	}
	require.True(t, toApplicant(NoticesOf(CaseTypeSupportTransfer, StepSubmitted, StageIntake)))
	require.True(t, toApplicant(NoticesOf(CaseTypeSupportTransfer, ActionApprove, StagePlacement)))
	got := NoticesOf(CaseTypeSupportTermination, StepSubmitted, StageIntake)
	require.NotEmpty(t, got, "the township still hears of a raised termination")
	require.False(t, toApplicant(got))
	require.Empty(t, NoticesOf(CaseTypeSupportTermination, ActionApprove, StagePublicNotice))
}
