package workflows

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"civicflow"
)

func (h *harness) startGrant() {
	h.env.ExecuteWorkflow(EducationGrantWorkflow, EducationGrantInput{
		CaseID: 42, Reference: "JZ-610113-000042", DistrictCode: "610113", TownshipCode: "610113001",
		BirthDate: time.Date(2008, 6, 1, 0, 0, 0, 0, time.UTC),
	})
}

func verification(opinion string) *civicflow.EducationVerification {
	return &civicflow.EducationVerification{FamilyStatus: civicflow.FamilyDibao, SchoolKind: civicflow.SchoolUndergraduate,
		EnrolmentConfirmed: true, Findings: "低保证有效，已与学校核实录取", Opinion: opinion}
}

func TestEducationGrantHappyPath(t *testing.T) {
	h := setup(t, time.Time{})
	h.act(time.Minute, civicflow.ActionAccept, ActionRequest{Actor: township}, "")
	h.act(time.Hour, civicflow.ActionRecordVerification, ActionRequest{Actor: township, Verification: verification(civicflow.OpinionEligible)}, "")
	h.act(2*time.Hour, civicflow.ActionApprove, ActionRequest{Actor: reviewer, TierAmount: 5000}, "")
	h.startGrant()
	st := h.result()
	require.Equal(t, civicflow.StageCompleted, st.Stage)
	require.Equal(t, []civicflow.Stage{civicflow.StageIntake, civicflow.StageVerification, civicflow.StageVerification,
		civicflow.StageDistrictReview, civicflow.StageCompleted}, h.rec.stages())
	require.Equal(t, []string{"submitted", "accept", "economic_check_completed", "record_verification", "approve"}, h.rec.actions())
	require.Equal(t, 1, h.rec.checks)
	require.Equal(t, 5000, st.Education.Amount)
	require.Len(t, h.rec.awards, 1)
	w := h.rec.awards[0]
	require.Equal(t, 5000, w.Amount)
	require.Equal(t, civicflow.FamilyDibao, w.FamilyStatus)
	require.Equal(t, civicflow.SchoolUndergraduate, w.SchoolKind)
	require.Equal(t, civicflow.StageCompleted, w.Transition.To)
	require.Equal(t, "step-5", w.Transition.Key, "the award is idempotent through the step's key")
	// Intake, verification and review were clocked with their steps.
	h.env.AssertActivityNumberOfCalls(t, "StageClock", 0)
}

// The store refuses a tier the rules do not give: the case stays in
// review, unchanged, and the district approves the right tier.
func TestEducationGrantRefusedTierChangesNothing(t *testing.T) {
	h := setup(t, time.Time{})
	var before, after CaseState
	h.act(time.Minute, civicflow.ActionAccept, ActionRequest{Actor: township}, "")
	h.act(time.Hour, civicflow.ActionRecordVerification, ActionRequest{Actor: township, Verification: verification(civicflow.OpinionEligible)}, "")
	h.stateAt(90*time.Minute, &before)
	// The first approve's write is refused as the store refuses a tier the
	// rules do not give.
	h.rec.refuse.refuseNext(civicflow.ActionApprove, civicflow.Invalid(civicflow.FieldError{Field: "tier_amount", Reason: "the rules give 5000"}))
	h.actFails(2*time.Hour, civicflow.ActionApprove, ActionRequest{Actor: reviewer, TierAmount: 7000}, civicflow.EINVALID)
	h.stateAt(3*time.Hour, &after)
	h.act(4*time.Hour, civicflow.ActionApprove, ActionRequest{Actor: reviewer, TierAmount: 5000}, "")
	h.startGrant()
	st := h.result()
	require.Equal(t, civicflow.StageCompleted, st.Stage)
	require.Equal(t, civicflow.StageDistrictReview, before.Stage)
	require.Equal(t, before, after, "a refused award changed the case")
	require.Zero(t, after.Education.Amount)
	require.Len(t, h.rec.awards, 1)
	require.Equal(t, 5000, h.rec.awards[0].Amount)
}

func TestEducationGrantWrongActorsStagesAndFields(t *testing.T) {
	h := setup(t, time.Time{})
	h.act(time.Minute, civicflow.ActionRecordVerification, ActionRequest{Actor: township, Verification: verification(civicflow.OpinionEligible)}, civicflow.ECONFLICT)
	h.act(2*time.Minute, civicflow.ActionAccept, ActionRequest{Actor: otherTS}, civicflow.EFORBIDDEN)
	h.act(3*time.Minute, civicflow.ActionAccept, ActionRequest{Actor: township}, "")
	unconfirmed := verification(civicflow.OpinionEligible)
	unconfirmed.EnrolmentConfirmed = false
	h.act(2*time.Hour, civicflow.ActionRecordVerification, ActionRequest{Actor: township, Verification: unconfirmed}, civicflow.EINVALID)
	h.act(3*time.Hour, civicflow.ActionRecordVerification, ActionRequest{Actor: township, Verification: &civicflow.EducationVerification{Opinion: "maybe"}}, civicflow.EINVALID)
	h.act(4*time.Hour, civicflow.ActionRecordVerification, ActionRequest{Actor: township, Verification: verification(civicflow.OpinionIneligible)}, civicflow.EINVALID) // no reasons
	h.act(5*time.Hour, civicflow.ActionApprove, ActionRequest{Actor: reviewer, TierAmount: 5000}, civicflow.ECONFLICT)
	h.act(6*time.Hour, civicflow.ActionRecordVerification, ActionRequest{Actor: township, Verification: verification(civicflow.OpinionEligible)}, "")
	h.act(7*time.Hour, civicflow.ActionApprove, ActionRequest{Actor: reviewer, TierAmount: 4000}, civicflow.EINVALID)
	h.act(8*time.Hour, civicflow.ActionApprove, ActionRequest{Actor: township, TierAmount: 5000}, civicflow.EFORBIDDEN)
	h.act(9*time.Hour, civicflow.ActionReturn, ActionRequest{Actor: reviewer}, civicflow.EINVALID) // no reasons
	h.act(10*time.Hour, civicflow.ActionReturn, ActionRequest{Actor: reviewer, Reasons: "录取通知书编号与学校回函不符"}, "")
	// A family on no assistance: recorded with the status left empty.
	noAssistance := verification(civicflow.OpinionIneligible)
	noAssistance.FamilyStatus, noAssistance.EnrolmentConfirmed = "", false
	h.act(10*time.Hour+30*time.Minute, civicflow.ActionRecordVerification, ActionRequest{Actor: township, Reasons: "x",
		Verification: &civicflow.EducationVerification{FamilyStatus: "poorish", Findings: "x", Opinion: civicflow.OpinionIneligible}}, civicflow.EINVALID)
	h.act(11*time.Hour, civicflow.ActionRecordVerification, ActionRequest{Actor: township, Reasons: "家庭不在低保、低保边缘或特困范围",
		Verification: noAssistance}, "")
	h.startGrant()
	st := h.result()
	require.Equal(t, civicflow.StageRejected, st.Stage)
	require.Equal(t, 2, st.Round, "a return starts a new round")
	require.Equal(t, 2, h.rec.checks, "with a new household check")
	require.Equal(t, civicflow.OpinionIneligible, st.Education.Verification.Opinion)
	require.Empty(t, st.Education.Verification.FamilyStatus)
	require.Empty(t, h.rec.awards)
	require.Equal(t, []string{"submitted", "accept", "economic_check_completed", "record_verification", "return",
		"economic_check_completed", "record_verification"}, h.rec.actions())
}

// The saved education-grant histories replay (TestReplaySavedHistories);
// this proves that replay can fail for them: a grant workflow that issues
// one more command first is refused.
func TestReplayEducationGrantDetectsIncompatibleChange(t *testing.T) {
	changed := func(ctx workflow.Context, in EducationGrantInput) (CaseState, error) {
		if err := workflow.Sleep(ctx, time.Minute); err != nil {
			return CaseState{}, err
		}
		return EducationGrant(ctx, in)
	}
	for _, f := range []string{"education_grant_awarded.json", "education_grant_returned_awarded.json", "education_grant_ineligible.json"} {
		r := worker.NewWorkflowReplayer()
		r.RegisterWorkflowWithOptions(changed, workflowOptions(EducationGrantWorkflow))
		require.Error(t, r.ReplayWorkflowHistoryFromJSONFile(nil, filepath.Join("testdata", "histories", f)), f)
	}
}
