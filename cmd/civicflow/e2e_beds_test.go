package main

import (
	"context"
	"fmt"
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

// giveBack releases every bed the test's cases hold or are given, waiting
// for its wait-listed cases to be served, so that the tests after it find
// the dependent-care beds as free as before (the e2e tests share one
// system).
func (e *e2eSystem) giveBack(t *testing.T, subs []submitted) {
	t.Helper()
	dr := e.login(t, "dr.yanta")
	stages := func() (placed []submitted, waiting int) {
		for _, s := range subs {
			cs, err := e.db.Case(context.Background(), s.ID)
			require.NoError(t, err)
			switch cs.Stage {
			case civicflow.StageAwaitingAdmission:
				placed = append(placed, s)
			case civicflow.StageWaitlisted, civicflow.StagePlacement:
				waiting++
			}
		}
		return placed, waiting
	}
	for {
		placed, waiting := stages()
		for _, s := range placed {
			e.mustAct(t, dr, s.Ref, "release_allocation", map[string]any{"reasons": "测试结束", "release_reason": "declined"}, "withdrawn")
		}
		if waiting == 0 {
			return
		}
		require.Eventually(t, func() bool { p, w := stages(); return len(p) > 0 || w == 0 }, 30*time.Second, 50*time.Millisecond,
			"a wait-listed case of the test is served as the test's beds are released")
	}
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
	subs, cases := e.placeDependent(t, free+1)
	defer e.giveBack(t, subs)
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

// TestE2EInstitutionsBedsAndWaitlist: an administrator creates an
// institution and its beds through the API (field 422s, 409s for taken
// names, labels and held beds, every write audited); a bed added while a
// case waits goes to it at once and wakes it; supervisors and the district
// see the wait-list in order, masked.
func TestE2EInstitutionsBedsAndWaitlist(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	admin, svCity, svYanta, dr := e.login(t, "admin"), e.login(t, "sv.city"), e.login(t, "sv.yanta"), e.login(t, "dr.yanta")

	r := e.postJSON(t, "/api/v1/admin/institutions", admin, map[string]any{"name": " ", "district_code": "610113"})
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Raw))
	require.Contains(t, string(r.Raw), `"field":"name"`)
	r = e.postJSON(t, "/api/v1/admin/institutions", admin, map[string]any{"name": "西安市敬老院", "district_code": "610100"})
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Raw))
	require.Contains(t, string(r.Raw), `"field":"district_code"`, "the city is not a district")
	r = e.postJSON(t, "/api/v1/admin/institutions", dr, map[string]any{"name": "x", "district_code": "610113"})
	require.Equal(t, http.StatusForbidden, r.Status)
	name := "鄠邑区中心敬老院-" + time.Now().Format("150405.000")
	r = e.postJSON(t, "/api/v1/admin/institutions", admin, map[string]any{"name": name, "district_code": "610118",
		"designated": false, "address": "鄠邑区人民路 1 号"})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Raw))
	id := int64(r.Body["id"].(float64))
	r = e.postJSON(t, "/api/v1/admin/institutions", admin, map[string]any{"name": name, "district_code": "610118"})
	require.Equal(t, http.StatusConflict, r.Status, string(r.Raw))
	inst := fmt.Sprintf("/api/v1/admin/institutions/%d", id)

	r = e.postJSON(t, inst+"/beds", admin, map[string]any{"label": "A-1", "care_level": "fully"})
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Raw))
	require.Contains(t, string(r.Raw), "care_level")
	r = e.postJSON(t, inst+"/beds", admin, map[string]any{"label": "A-1", "care_level": "dependent"})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Raw))
	bed := int64(r.Body["id"].(float64))
	r = e.postJSON(t, inst+"/beds", admin, map[string]any{"label": "A-1", "care_level": "self_care"})
	require.Equal(t, http.StatusConflict, r.Status, string(r.Raw))

	// Cases of 雁塔 wait for dependent care (more than there are beds).
	is, err := e.db.Institutions(ctx, "")
	require.NoError(t, err)
	free := 0
	for _, in := range is {
		free += in.FreeBeds[civicflow.CareDependent]
	}
	subs, cases := e.placeDependent(t, free+1)
	defer e.giveBack(t, subs)
	require.Equal(t, civicflow.StageWaitlisted, cases[len(cases)-1].Stage)

	// The wait-list, as each reader may see it.
	r = e.do(t, http.MethodGet, "/api/v1/supervision/waitlist?care_level=dependent", svCity, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	rows := r.Body["waitlist"].([]any)
	require.NotEmpty(t, rows)
	first := rows[0].(map[string]any)
	require.Equal(t, float64(1), first["city_position"])
	require.NotContains(t, string(r.Raw), "买买提", "no names in clear")
	require.Equal(t, civicflow.MaskName("买买提·艾力"), first["name_masked"])
	for _, who := range []map[string]string{svYanta, dr} {
		r = e.do(t, http.MethodGet, "/api/v1/supervision/waitlist", who, nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
		for _, row := range r.Body["waitlist"].([]any) {
			require.Equal(t, "610113", row.(map[string]any)["district_code"])
		}
	}
	require.Contains(t, string(r.Raw), subs[len(subs)-1].Ref)
	r = e.do(t, http.MethodGet, "/api/v1/supervision/waitlist?district=610102", dr, nil)
	require.Equal(t, http.StatusForbidden, r.Status)
	r = e.do(t, http.MethodGet, "/api/v1/supervision/waitlist?care_level=x", svCity, nil)
	require.Equal(t, http.StatusUnprocessableEntity, r.Status)
	r = e.do(t, http.MethodGet, "/api/v1/supervision/waitlist", e.login(t, "ts.xiaozhai"), nil)
	require.Equal(t, http.StatusForbidden, r.Status)

	// Made designated, the institution's free bed goes to the wait-list
	// at once (the first in city order: nobody of 鄠邑 waits) and wakes it.
	var nextID int64
	require.NoError(t, e.db.Pool().QueryRow(ctx, `SELECT case_id FROM waitlist WHERE care_level = 'dependent'
		ORDER BY (district_code = '610118') DESC, position LIMIT 1`).Scan(&nextID))
	r = e.postJSON(t, inst, admin, map[string]any{"designated": true, "name": name + "（定点）"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	next := e.waitStage(t, nextID, civicflow.StageAwaitingAdmission, 30*time.Second)
	r = e.do(t, http.MethodGet, inst+"/beds", admin, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	holder := r.Body["beds"].([]any)[0].(map[string]any)["holder"].(map[string]any)
	require.Equal(t, next.Reference, holder["case_reference"])
	require.Equal(t, false, holder["admitted"])

	// A held bed cannot be retired; a free one can, and is kept.
	r = e.postJSON(t, fmt.Sprintf("%s/beds/%d/retire", inst, bed), admin, map[string]any{})
	require.Equal(t, http.StatusConflict, r.Status, string(r.Raw))
	r = e.postJSON(t, inst+"/beds", admin, map[string]any{"label": "A-2", "care_level": "self_care"})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Raw))
	r = e.postJSON(t, fmt.Sprintf("%s/beds/%d/retire", inst, int64(r.Body["id"].(float64))), admin, map[string]any{})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.NotEmpty(t, r.str("retired_at"))

	// Every write is in the audit trail, refusals too.
	var n int
	require.NoError(t, e.db.Pool().QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action IN
		('institution.create', 'institution.update', 'bed.add', 'bed.retire') AND at > now() - interval '10 minutes'`).Scan(&n))
	require.GreaterOrEqual(t, n, 10)
}
