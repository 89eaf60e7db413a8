package civicflow

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func rehabScope(stage Stage, centre int64) Scope {
	return Scope{CaseID: caseID, Stage: stage, DistrictCode: caseDistrict, TownshipCode: caseTownship, RehabCentreID: centre}
}

func TestRehabAssessorActsOnlyForTheirCentre(t *testing.T) {
	t.Parallel()
	own := Actor{Role: RoleRehabAssessor, Jurisdiction: caseDistrict, RehabCentreID: 6}
	other := Actor{Role: RoleRehabAssessor, Jurisdiction: otherDistrict, RehabCentreID: 3}
	none := Actor{Role: RoleRehabAssessor, Jurisdiction: caseDistrict}

	require.NoError(t, Authorize(own, ActionRegister, rehabScope(StageRegistration, 6)))
	require.Equal(t, EFORBIDDEN, ErrorCode(Authorize(other, ActionRegister, rehabScope(StageRegistration, 6))))
	require.Equal(t, EFORBIDDEN, ErrorCode(Authorize(none, ActionRegister, rehabScope(StageRegistration, 0))),
		"an assessor without a centre acts on no case, not even one without a centre")
	require.Equal(t, ECONFLICT, ErrorCode(Authorize(own, ActionAssess, rehabScope(StageRegistration, 6))))
	// A transfer moves the case: the new centre acts, the old one no longer.
	require.NoError(t, Authorize(other, ActionRegister, rehabScope(StageRegistration, 3)))
	require.Equal(t, EFORBIDDEN, ErrorCode(Authorize(own, ActionRegister, rehabScope(StageRegistration, 3))))

	require.Equal(t, []Action{ActionRecordReview, ActionRecordSession, ActionClose, ActionRefer},
		AllowedActions(own, rehabScope(StageInRehab, 6)))
	// The district approves and names the centre; officials keep their scope.
	reviewer := Actor{Role: RoleDistrictReviewer, Jurisdiction: caseDistrict}
	require.Equal(t, []Action{ActionReject, ActionApprove, ActionReturn}, AllowedActions(reviewer, rehabScope(StageDistrictReview, 0)))
	require.Empty(t, AllowedActions(reviewer, rehabScope(StageInRehab, 6)))
}

func TestClinicalContentOnlyForCentreAndReviewer(t *testing.T) {
	t.Parallel()
	s := rehabScope(StageInRehab, 6)
	cases := []struct {
		actor Actor
		may   bool
	}{
		{Actor{Role: RoleRehabAssessor, RehabCentreID: 6}, true},
		{Actor{Role: RoleRehabAssessor, RehabCentreID: 3}, false},
		{Actor{Role: RoleDistrictReviewer, Jurisdiction: caseDistrict}, true},
		{Actor{Role: RoleDistrictReviewer, Jurisdiction: otherDistrict}, false},
		{Actor{Role: RoleSupervisor, Jurisdiction: CityCode}, false},
		{Actor{Role: RoleSupervisor, Jurisdiction: caseDistrict}, false},
		{Actor{Role: RoleTownshipOfficial, Jurisdiction: caseTownship}, false},
		{Actor{Role: RoleAdministrator, Jurisdiction: CityCode}, false},
		{Actor{Role: RoleApplicant, CaseID: caseID}, false},
	}
	for _, c := range cases {
		require.Equal(t, c.may, MaySeeClinical(c.actor, s), "%+v", c.actor)
	}
	// Supervisors still read the case (stages and dates).
	require.True(t, InJurisdiction(Actor{Role: RoleSupervisor, Jurisdiction: CityCode}, s))
}

func TestRehabDomainValues(t *testing.T) {
	t.Parallel()
	require.Len(t, RehabServices, 9)
	for _, s := range RehabServices {
		require.True(t, s.Valid(), s)
	}
	require.False(t, RehabService("karaoke").Valid())
	require.True(t, ClosureGoalsMet.Valid())
	require.False(t, ClosureNotSuitable.Valid(), "not suitable is the assessment's outcome, not a closure reason to choose")
	for _, st := range []Stage{StageClosed, StageReferred} {
		require.True(t, st.Terminal(), st)
		require.True(t, st.Valid(), st)
	}
	require.False(t, StageInRehab.Terminal())
	require.True(t, CaseTypeCommunityRehab.Valid())
	require.False(t, CaseType("rehab").Valid())
}
