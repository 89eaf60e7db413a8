package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"civicflow"
)

// placeDependent drives n fresh dependent-care cases of 雁塔区 to their
// placement, one after another, and returns them with the stage each
// reached (awaiting_admission or waitlisted).
func (e *e2eSystem) placeDependent(t *testing.T, n int) ([]submitted, []*civicflow.Case) {
	t.Helper()
	ts, dr := e.login(t, "ts.xiaozhai"), e.login(t, "dr.yanta")
	subs := make([]submitted, n)
	cases := make([]*civicflow.Case, n)
	for i := range subs {
		subs[i] = e.toReview(t, ts, "dependent")
		e.mustAct(t, dr, subs[i].Ref, "approve", map[string]any{}, "placement", "waitlisted", "awaiting_admission")
		require.Eventually(t, func() bool {
			cs, err := e.db.Case(context.Background(), subs[i].ID)
			require.NoError(t, err)
			cases[i] = cs
			return cs.Stage == civicflow.StageWaitlisted || cs.Stage == civicflow.StageAwaitingAdmission
		}, 30*time.Second, 50*time.Millisecond)
	}
	return subs, cases
}

// TestE2EReleaseBeforeAdmission: a person placed in a bed does not come;
// the district releases the bed, the case ends withdrawn with the reason on
// its timeline, and the bed goes to the next waiting case, whose workflow
// is woken and moves to awaiting admission.
func TestE2EReleaseBeforeAdmission(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	dr, st := e.login(t, "dr.yanta"), e.login(t, "st.yanta")
	is, err := e.db.Institutions(ctx, "")
	require.NoError(t, err)
	free := 0
	for _, in := range is {
		free += in.FreeBeds[civicflow.CareDependent]
	}
	_, cases := e.placeDependent(t, free+1)
	var holder *civicflow.Case
	for _, cs := range cases {
		if cs.Stage == civicflow.StageAwaitingAdmission {
			holder = cs
		}
	}
	require.NotNil(t, holder, "some case got a bed")
	require.Equal(t, civicflow.StageWaitlisted, cases[len(cases)-1].Stage, "one case more than there are beds")
	al, err := e.db.Allocation(ctx, holder.AllocationID)
	require.NoError(t, err)
	// Who gets the bed, by the rule (docs/beds.md): the first waiting case
	// of the bed's district, else the first in city order.
	var district string
	require.NoError(t, e.db.Pool().QueryRow(ctx, `SELECT district_code FROM institutions WHERE id = $1`, al.InstitutionID).Scan(&district))
	var nextID int64
	require.NoError(t, e.db.Pool().QueryRow(ctx, `SELECT case_id FROM waitlist WHERE care_level = 'dependent'
		ORDER BY (district_code = $1) DESC, position LIMIT 1`, district).Scan(&nextID))

	before := e.eventCount(t, holder.ID)
	body := func(kv ...any) map[string]any {
		m := map[string]any{"reasons": "家属决定居家照料", "release_reason": "declined"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	r := e.act(t, dr, holder.Reference, "release_allocation", body("reasons", ""))
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Raw))
	r = e.act(t, dr, holder.Reference, "release_allocation", body("release_reason", "moved"))
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Raw))
	require.Contains(t, string(r.Raw), "release_reason")
	r = e.act(t, dr, holder.Reference, "release_allocation", map[string]any{"reasons": "未报到"})
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, "release_reason is required: %s", r.Raw)
	r = e.act(t, e.login(t, "dr.xincheng"), holder.Reference, "release_allocation", body())
	require.Equal(t, http.StatusForbidden, r.Status, string(r.Raw))
	require.Equal(t, before, e.eventCount(t, holder.ID), "refusals write nothing")

	e.mustAct(t, dr, holder.Reference, "release_allocation", body("release_reason", "no_show"), "withdrawn")
	evs, err := e.db.Events(ctx, holder.ID)
	require.NoError(t, err)
	last := evs[len(evs)-1]
	require.Equal(t, civicflow.ActionReleaseAllocation, last.Action)
	require.Equal(t, "家属决定居家照料", last.Reasons)
	require.Contains(t, string(last.Details), "no_show")
	old, err := e.db.Allocation(ctx, holder.AllocationID)
	require.NoError(t, err)
	require.NotNil(t, old.ReleasedAt)
	require.Nil(t, old.AdmittedAt)

	// The next case's workflow was woken: it shows the freed bed.
	next := e.waitStage(t, nextID, civicflow.StageAwaitingAdmission, 30*time.Second)
	nal, err := e.db.Allocation(ctx, next.AllocationID)
	require.NoError(t, err)
	require.Equal(t, al.BedID, nal.BedID)

	// Nothing more can happen to the released case.
	r = e.act(t, st, holder.Reference, "confirm_admission", map[string]any{})
	require.Contains(t, []int{http.StatusConflict, http.StatusForbidden}, r.Status, string(r.Raw))
	r = e.act(t, dr, holder.Reference, "release_allocation", body())
	require.Equal(t, http.StatusConflict, r.Status, string(r.Raw))
	saveHistory(t, e, civicflow.CaseWorkflowID(holder.ID), "centralised_care_released")
}
