package web

import (
	"testing"

	"github.com/stretchr/testify/require"

	"civicflow"
)

// TestWaitingLeavesOutOptionalActions: a district reviewer may release a
// bed before admission in every awaiting_admission case of the district,
// but that is not work waiting for them, so such cases stay out of their
// inbox; the institution's staff still have the admission waiting.
func TestWaitingLeavesOutOptionalActions(t *testing.T) {
	sc := civicflow.Scope{CaseID: 1, CaseType: civicflow.CaseTypeCentralisedCare, Stage: civicflow.StageAwaitingAdmission,
		DistrictCode: "610113", TownshipCode: "610113001", InstitutionID: 7}
	reviewer := civicflow.Actor{Role: civicflow.RoleDistrictReviewer, Jurisdiction: "610113"}
	require.Equal(t, []civicflow.Action{civicflow.ActionReleaseAllocation}, civicflow.AllowedActions(reviewer, sc))
	require.Empty(t, waiting(civicflow.AllowedActions(reviewer, sc)))
	staff := civicflow.Actor{Role: civicflow.RoleInstitutionStaff, Jurisdiction: "610113", InstitutionID: 7}
	require.Equal(t, []civicflow.Action{civicflow.ActionConfirmAdmission}, waiting(civicflow.AllowedActions(staff, sc)))
}
