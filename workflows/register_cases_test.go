package workflows

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"civicflow"
)

func carer() *civicflow.CarerAgreement {
	return &civicflow.CarerAgreement{Name: "李娜", Relation: "侄女", Phone: "13912340077", StartsOn: "2026-12-01"}
}

// The district approves in dispersed support: the case completes at once
// with the carer's agreement, no bed is asked for, and support starts on
// the first day of the next month.
func TestCentralisedCareApprovedDispersed(t *testing.T) {
	h := setup(t, time.Time{})
	h.act(time.Minute, civicflow.ActionAccept, ActionRequest{Actor: township}, "")
	h.act(time.Hour, civicflow.ActionRecordInvestigation, ActionRequest{Actor: township, HomeVisit: visit(civicflow.OpinionEligible)}, "")
	// Without the carer, or with a bad one, or a carer for centralised
	// support: refused before anything is written.
	h.act(8*24*time.Hour, civicflow.ActionApprove, ActionRequest{Actor: reviewer, SupportForm: civicflow.SupportDispersed}, civicflow.EINVALID)
	h.act(8*24*time.Hour+time.Minute, civicflow.ActionApprove, ActionRequest{Actor: reviewer, SupportForm: civicflow.SupportDispersed,
		Carer: &civicflow.CarerAgreement{Name: "李娜", Phone: "12345", StartsOn: "2026-12-01"}}, civicflow.EINVALID)
	h.act(8*24*time.Hour+2*time.Minute, civicflow.ActionApprove, ActionRequest{Actor: reviewer, Carer: carer()}, civicflow.EINVALID)
	h.act(8*24*time.Hour+3*time.Minute, civicflow.ActionApprove, ActionRequest{Actor: reviewer, SupportForm: "home"}, civicflow.EINVALID)
	h.act(9*24*time.Hour, civicflow.ActionApprove, ActionRequest{Actor: reviewer, SupportForm: civicflow.SupportDispersed, Carer: carer()}, "")
	h.start()
	st := h.result()
	require.Equal(t, civicflow.StageCompleted, st.Stage)
	require.Zero(t, h.rec.allocations, "dispersed support asks for no bed")
	require.Len(t, h.rec.dispersed, 1)
	w := h.rec.dispersed[0]
	require.Equal(t, civicflow.CareDependent, w.CareLevel, "the investigated care level")
	require.Equal(t, "李娜", w.Carer.Name)
	require.Equal(t, civicflow.StageCompleted, w.Transition.To)
	require.Equal(t, civicflow.ActionApprove, w.Transition.Action)
	start := w.StartsOn.In(civicflow.ChinaZone())
	require.Equal(t, 1, start.Day(), "support starts on the first of a month")
	require.True(t, w.StartsOn.Equal(*st.SupportStart))
}

func (h *harness) startTransfer() {
	h.env.ExecuteWorkflow(SupportTransferWorkflow, SupportTransferInput{
		CaseID: 42, Reference: "ZJ-610113-000042", DistrictCode: "610113", TownshipCode: "610113001"})
}

func transferVisit(reason civicflow.TransferReason) *TransferVisit {
	return &TransferVisit{VisitedOn: "2026-11-20", Reason: reason, Findings: "照料人外出务工", CareLevel: civicflow.CareSemiDependent}
}

// The listener's case: no eligibility investigation, no household check;
// the township's visit, the district's approval, a bed after a wait, the
// admission on the day support goes on in the institution.
func TestSupportTransferToAdmission(t *testing.T) {
	h := setup(t, time.Time{})
	h.rec.waitFirst = 1
	h.act(time.Minute, civicflow.ActionRecordTransferVisit, ActionRequest{Actor: township, TransferVisit: transferVisit(civicflow.TransferCarerUnable)}, civicflow.ECONFLICT)
	h.act(2*time.Minute, civicflow.ActionAccept, ActionRequest{Actor: otherTS}, civicflow.EFORBIDDEN)
	h.act(3*time.Minute, civicflow.ActionAccept, ActionRequest{Actor: township}, "")
	h.act(2*time.Hour, civicflow.ActionRecordTransferVisit, ActionRequest{Actor: township, TransferVisit: transferVisit("bored")}, civicflow.EINVALID)
	h.act(3*time.Hour, civicflow.ActionRecordTransferVisit, ActionRequest{Actor: township, TransferVisit: transferVisit(civicflow.TransferCarerUnable)}, "")
	h.act(4*time.Hour, civicflow.ActionApprove, ActionRequest{Actor: reviewer, SupportForm: civicflow.SupportDispersed, Carer: carer()}, civicflow.EINVALID)
	h.act(5*time.Hour, civicflow.ActionApprove, ActionRequest{Actor: reviewer}, "")
	h.env.RegisterDelayedCallback(func() { h.env.SignalWorkflow(SignalBedOffered, BedOffer{AllocationID: 99}) }, 6*time.Hour)
	h.act(7*time.Hour, civicflow.ActionConfirmAdmission, ActionRequest{Actor: wrongInst}, civicflow.EFORBIDDEN)
	h.act(8*time.Hour, civicflow.ActionConfirmAdmission, ActionRequest{Actor: staff}, "")
	h.startTransfer()
	st := h.result()
	require.Equal(t, civicflow.StageCompleted, st.Stage)
	require.Zero(t, h.rec.checks, "no household check: the person is in the register")
	require.Equal(t, []string{"submitted", "accept", "record_transfer_visit", "approve", "waitlisted", "bed_allocated", "confirm_admission"},
		h.rec.actions())
	require.Equal(t, civicflow.CareSemiDependent, st.CareLevel, "the care level the visit found")
	require.Equal(t, 2, h.rec.allocations)
	require.NotNil(t, st.SupportStart)
	admitted := h.rec.transitions[len(h.rec.transitions)-1]
	day := admitted.At.In(civicflow.ChinaZone())
	require.True(t, time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, civicflow.ChinaZone()).Equal(*st.SupportStart),
		"support goes on from the day of admission, not %s", st.SupportStart)
}

func (h *harness) startTermination(notice time.Duration) {
	h.env.ExecuteWorkflow(SupportTerminationWorkflow, SupportTerminationInput{
		CaseID: 42, Reference: "ZZ-610113-000042", DistrictCode: "610113", TownshipCode: "610113001",
		Reason: civicflow.EndDied, EffectiveOn: time.Date(2026, 11, 30, 0, 0, 0, 0, civicflow.ChinaZone()), NoticePeriod: notice})
}

// A termination: the township reviews, the district confirms, an objection
// during the notice sends it back to the township; after a full notice the
// period ends and the freed bed is offered to the waiting case.
func TestSupportTerminationWithObjectionAndBedOffered(t *testing.T) {
	h := setup(t, time.Time{})
	h.rec.nextCase = 77
	offered := 0
	h.env.OnSignalExternalWorkflow(mock.Anything, civicflow.CaseWorkflowID(77), "", SignalBedOffered, BedOffer{AllocationID: 77}).Return(
		func(_, _, _, _ string, _ any) error { offered++; return nil })
	h.act(time.Minute, civicflow.ActionRequestSupplements, ActionRequest{Actor: township, Items: []string{"死亡证明"}}, civicflow.EFORBIDDEN)
	h.act(2*time.Minute, civicflow.ActionApprove, ActionRequest{Actor: reviewer}, civicflow.ECONFLICT)
	h.act(3*time.Minute, civicflow.ActionAccept, ActionRequest{Actor: township}, "")
	h.act(time.Hour, civicflow.ActionApprove, ActionRequest{Actor: reviewer, CareLevel: civicflow.CareSelf}, civicflow.EINVALID)
	h.act(2*time.Hour, civicflow.ActionApprove, ActionRequest{Actor: reviewer}, "")
	h.act(3*24*time.Hour, civicflow.ActionLodgeObjection, ActionRequest{Actor: township}, civicflow.EINVALID) // no reasons
	h.act(3*24*time.Hour+time.Minute, civicflow.ActionLodgeObjection, ActionRequest{Actor: township, Reasons: "家属称本人仍在世", Objector: "邻居"}, "")
	h.act(4*24*time.Hour, civicflow.ActionAccept, ActionRequest{Actor: township}, "")
	h.act(5*24*time.Hour, civicflow.ActionApprove, ActionRequest{Actor: reviewer}, "")
	h.startTermination(7 * 24 * time.Hour)
	st := h.result()
	require.Equal(t, civicflow.StageCompleted, st.Stage)
	require.Equal(t, []string{"submitted", "accept", "approve", "lodge_objection", "accept", "approve", "public_notice_ended"}, h.rec.actions())
	require.Len(t, h.rec.ended, 1, "the first notice was interrupted: one end written")
	w := h.rec.ended[0]
	require.Equal(t, civicflow.EndDied, w.Reason)
	require.Equal(t, "2026-11-30", w.EffectiveOn.Format(time.DateOnly))
	end := h.rec.transitions[len(h.rec.transitions)-1].At
	start := h.rec.transitions[len(h.rec.transitions)-2].At
	require.Equal(t, 7*24*time.Hour, end.Sub(start), "the notice ran its full period after the objection")
	require.Equal(t, 1, offered, "the freed bed is offered to the waiting case once")
}

// The saved histories of the register's workflows replay
// (TestReplaySavedHistories); this proves replay can fail for each: the
// same workflow issuing one more command first is refused.
func TestReplayRegisterHistoriesDetectIncompatibleChange(t *testing.T) {
	sleepFirst := func(ctx workflow.Context) error { return workflow.Sleep(ctx, time.Minute) }
	cases := []struct {
		file, name string
		changed    any
	}{
		{"support_transfer_admitted.json", SupportTransferWorkflow, func(ctx workflow.Context, in SupportTransferInput) (CaseState, error) {
			if err := sleepFirst(ctx); err != nil {
				return CaseState{}, err
			}
			return SupportTransfer(ctx, in)
		}},
		{"support_termination_completed.json", SupportTerminationWorkflow, func(ctx workflow.Context, in SupportTerminationInput) (CaseState, error) {
			if err := sleepFirst(ctx); err != nil {
				return CaseState{}, err
			}
			return SupportTermination(ctx, in)
		}},
		{"campaign_closed.json", CampaignWorkflow, func(ctx workflow.Context, in CampaignInput) (CampaignState, error) {
			if err := sleepFirst(ctx); err != nil {
				return CampaignState{}, err
			}
			return Campaign(ctx, in)
		}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(c.changed, workflowOptions(c.name))
			require.Error(t, r.ReplayWorkflowHistoryFromJSONFile(nil, filepath.Join("testdata", "histories", c.file)))
		})
	}
}

// 一次性告知: the township lists every missing paper once; once they are
// handed in it may not ask again, only accept or refuse.
func TestSupplementsAreAskedForOnce(t *testing.T) {
	h := setup(t, time.Time{})
	h.act(time.Minute, civicflow.ActionRequestSupplements, ActionRequest{Actor: township, Items: []string{"户口簿复印件"}}, "")
	h.act(time.Hour, civicflow.ActionProvideSupplements, ActionRequest{Actor: applicant, Note: "已补交"}, "")
	h.act(2*time.Hour, civicflow.ActionRequestSupplements, ActionRequest{Actor: township, Items: []string{"收入证明"}}, civicflow.ECONFLICT)
	h.act(3*time.Hour, civicflow.ActionReject, ActionRequest{Actor: township, Reasons: "不符合条件"}, "")
	h.start()
	st := h.result()
	require.Equal(t, civicflow.StageRejected, st.Stage)
	require.True(t, st.SupplementsRequested)
	require.Equal(t, []string{"submitted", "request_supplements", "provide_supplements", "reject"}, h.rec.actions())
}
