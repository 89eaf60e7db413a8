package workflows

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"civicflow"
)

// actFails schedules an update at delay that is accepted and then fails
// with the domain code want (its write was refused).
func (h *harness) actFails(delay time.Duration, action civicflow.Action, req ActionRequest, want string) {
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(string(action), "", &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) { h.t.Errorf("%s: rejected by the validator: %v", action, err) },
			OnComplete: func(_ any, err error) {
				var ae *temporal.ApplicationError
				if !errors.As(err, &ae) || ae.Type() != want {
					h.t.Errorf("%s: completed with %v, want a failure of type %s", action, err, want)
				}
			},
		}, req)
	}, delay)
}

// stateAt queries the workflow's state at delay into *into.
func (h *harness) stateAt(delay time.Duration, into *CaseState) {
	h.env.RegisterDelayedCallback(func() {
		v, err := h.env.QueryWorkflow(QueryState)
		if err != nil {
			h.t.Errorf("query at %s: %v", delay, err)
			return
		}
		if err := v.Get(into); err != nil {
			h.t.Errorf("decode state at %s: %v", delay, err)
		}
	}, delay)
}

var refused = civicflow.Errorf(civicflow.EINVALID, "refused by the store")

// A failed write leaves the centralised-care case exactly as it was: the
// accept that would start investigation round 1 and the investigation that
// would keep the home visit, each refused once and then taken again.
func TestPureStepCentralisedCare(t *testing.T) {
	h := setup(t, time.Time{})
	var before, afterAccept, afterVisit CaseState
	h.stateAt(30*time.Second, &before)
	// The first write of each is refused (set before the run: delayed
	// callbacks due together may run in any order).
	h.rec.refuse.refuseNext(civicflow.ActionAccept, refused)
	h.rec.refuse.refuseNext(civicflow.ActionRecordInvestigation, refused)
	h.actFails(time.Minute, civicflow.ActionAccept, ActionRequest{Actor: township}, civicflow.EINVALID)
	h.stateAt(2*time.Minute, &afterAccept)
	h.act(3*time.Minute, civicflow.ActionAccept, ActionRequest{Actor: township}, "")
	h.actFails(time.Hour, civicflow.ActionRecordInvestigation, ActionRequest{Actor: township, HomeVisit: visit(civicflow.OpinionEligible)}, civicflow.EINVALID)
	h.stateAt(61*time.Minute, &afterVisit)
	h.act(2*time.Hour, civicflow.ActionWithdraw, ActionRequest{Actor: applicant}, "")
	h.start()
	st := h.result()
	require.Equal(t, civicflow.StageWithdrawn, st.Stage)

	require.Equal(t, civicflow.StageIntake, before.Stage)
	require.Equal(t, before, afterAccept, "a refused accept changed the case")
	require.Zero(t, afterAccept.Round)
	require.Equal(t, civicflow.StageInvestigation, afterVisit.Stage)
	require.Equal(t, 1, afterVisit.Round)
	require.Nil(t, afterVisit.HomeVisit, "a refused investigation kept its home visit")
	require.NotNil(t, afterVisit.Check, "the household check of the round is recorded")
	require.Equal(t, []string{"submitted", "accept", "economic_check_completed", "withdraw"}, h.rec.actions())
}

// A failed write leaves the rehab case as it was: the approve that would
// name the centre, refused once.
func TestPureStepCommunityRehab(t *testing.T) {
	h := rehabSetup(t, 0)
	var before, after CaseState
	h.act(time.Hour, civicflow.ActionAccept, ActionRequest{Actor: township}, "")
	h.stateAt(2*time.Hour, &before)
	h.rrec.refuse.refuseNext(civicflow.ActionApprove, refused) // the first approve's write
	h.actFails(4*time.Hour, civicflow.ActionApprove, ActionRequest{Actor: reviewer, RehabCentreID: yantaCentre}, civicflow.EINVALID)
	h.stateAt(5*time.Hour, &after)
	h.act(6*time.Hour, civicflow.ActionApprove, ActionRequest{Actor: reviewer, RehabCentreID: yantaCentre}, "")
	h.act(7*time.Hour, civicflow.ActionWithdraw, ActionRequest{Actor: applicant}, "")
	h.start(0)
	st := h.result()
	require.Equal(t, civicflow.StageWithdrawn, st.Stage)
	require.Equal(t, int64(yantaCentre), st.Rehab.CentreID)

	require.Equal(t, civicflow.StageDistrictReview, before.Stage)
	require.Equal(t, before, after, "a refused approve changed the case")
	require.Zero(t, after.Rehab.CentreID)
}
