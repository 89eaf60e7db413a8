package main

// End-to-end tests of the register of supported persons (issue 18)
// through the HTTP API: an approval in dispersed support enters the
// register; the listener's case — the carer has found work and asks for
// her relative to move to a care home — transfers the person to an
// institution, ending the dispersed period on the day of admission; a
// termination raised by the township ends the period and frees the bed.

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"civicflow"
	"civicflow/postgres"
)

// count runs a counting query on the e2e system's database.
func count(t *testing.T, e *e2eSystem, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, e.db.Pool().QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

func carerBody() map[string]any {
	return map[string]any{"name": "李娜", "relation": "侄女", "phone": "13912340077",
		"starts_on": time.Now().In(civicflow.ChinaZone()).Format(time.DateOnly)}
}

// registerEntries lists the register as who sees it, filtered by query.
func (e *e2eSystem) registerEntries(t *testing.T, who map[string]string, query string) []map[string]any {
	t.Helper()
	r := e.do(t, http.MethodGet, "/api/v1/register?"+query, who, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	var out []map[string]any
	for _, x := range r.Body["entries"].([]any) {
		out = append(out, x.(map[string]any))
	}
	return out
}

// staffOf logs in as staff of the institution holding the case's bed,
// creating the account when the institution has none seeded.
func (e *e2eSystem) staffOf(t *testing.T, cs *civicflow.Case) map[string]string {
	t.Helper()
	ctx := context.Background()
	al, err := e.db.Allocation(ctx, cs.AllocationID)
	require.NoError(t, err)
	is, err := e.db.Institutions(ctx, "")
	require.NoError(t, err)
	district := ""
	for _, in := range is {
		if in.ID == al.InstitutionID {
			district = in.DistrictCode
		}
	}
	name := fmt.Sprintf("st.e2e-%d", al.InstitutionID)
	_, err = e.db.EnsureUser(ctx, postgres.NewUser{Username: name, DisplayName: "院方", Password: testPassword,
		Role: civicflow.RoleInstitutionStaff, Jurisdiction: district, InstitutionID: al.InstitutionID})
	require.NoError(t, err)
	return e.login(t, name)
}

func TestE2ERegisterDispersedTransferAndTermination(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	ts, tsOther, dr, sv := e.login(t, "ts.xiaozhai"), e.login(t, "ts.dayanta"), e.login(t, "dr.yanta"), e.login(t, "sv.city")
	// Beds of its own for this test, in the case's district.
	_, err := e.db.EnsureInstitution(ctx, postgres.NewInstitution{Name: "雁塔区e2e转集中敬老院", DistrictCode: "610113",
		Beds: map[civicflow.CareLevel]int{civicflow.CareSelf: 2}})
	require.NoError(t, err)

	// 1. The district approves in dispersed support: the carer's agreement
	// is recorded, the case completes and the person enters the register
	// from the first day of next month.
	c := e.toReview(t, ts, "self_care")
	bad := map[string]any{"support_form": "dispersed", "carer": map[string]any{"name": " ", "phone": "123", "starts_on": "soon"}}
	r := e.act(t, dr, c.Ref, "approve", bad)
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Raw))
	for _, f := range []string{`"field":"carer.name"`, `"field":"carer.phone"`, `"field":"carer.starts_on"`} {
		require.Contains(t, string(r.Raw), f)
	}
	e.waitStage(t, c.ID, civicflow.StageDistrictReview, time.Second)
	e.mustAct(t, dr, c.Ref, "approve", map[string]any{"support_form": "dispersed", "carer": carerBody()}, "completed")
	cs := e.waitStage(t, c.ID, civicflow.StageCompleted, time.Second)
	require.Zero(t, cs.AllocationID, "dispersed support holds no bed")
	r = e.do(t, http.MethodGet, "/api/v1/applications/"+c.Ref, map[string]string{"X-Access-Code": c.Code}, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, "dispersed", r.str("support_form"), "the applicant is told the form of support")
	mine := e.registerEntries(t, ts, "form=dispersed&limit=500")
	var entry map[string]any
	for _, en := range mine {
		if en["opened_by_case"] == c.Ref {
			entry = en
		}
	}
	require.NotNil(t, entry, "the person is in the register")
	require.Equal(t, "self_care", entry["care_level"])
	carer := entry["carer"].(map[string]any)
	require.Equal(t, "139****0077", carer["phone"], "the carer's phone is masked")
	require.NotEqual(t, "李娜", carer["name"], "the carer's name is masked")
	start := civicflow.SupportStart(time.Now())
	require.Equal(t, start.Format(time.DateOnly), entry["starts_on"].(string)[:10])
	id := int64(entry["id"].(float64))
	for _, en := range e.registerEntries(t, tsOther, "limit=500") {
		require.NotEqual(t, entry["id"], en["id"], "another township does not see the entry")
	}
	require.Equal(t, http.StatusForbidden, e.do(t, http.MethodGet, fmt.Sprintf("/api/v1/register/%d", id), tsOther, nil).Status)

	// The unmasked read is audited; counts are served to supervisors.
	r = e.postJSON(t, fmt.Sprintf("/api/v1/register/%d/reveal", id), ts, map[string]any{"reason": "联系照料人"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, "13912340077", r.str("carer_phone"))
	var audited int
	require.NoError(t, e.db.Pool().QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'register.reveal' AND target_id = $1`,
		fmt.Sprint(id)).Scan(&audited))
	require.Equal(t, 1, audited)
	r = e.do(t, http.MethodGet, "/api/v1/supervision/register/counts", sv, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Positive(t, r.Body["total"])
	require.Equal(t, http.StatusForbidden, e.do(t, http.MethodGet, "/api/v1/supervision/register/counts", ts, nil).Status)

	// 2. The listener's case: the carer found work; the relative applies
	// for a transfer. A wrong name is refused like an unknown number.
	var idNumber string
	pd, err := e.db.PersonalData(ctx, c.ID)
	require.NoError(t, err)
	idNumber = pd.IDNumber
	transfer := map[string]any{"person": map[string]any{"id_number": idNumber, "name": "别人"},
		"applicant": map[string]any{"relation": "relative", "name": "李娜", "phone": "13912340077"},
		"reason":    "carer_unable", "statement": "照料人已外出务工，无法继续照料"}
	r = e.postJSON(t, "/api/v1/transfer/applications", nil, transfer)
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Raw))
	require.Contains(t, string(r.Raw), `"field":"person"`)
	transfer["person"].(map[string]any)["name"] = "买买提·艾力"
	r = e.postJSON(t, "/api/v1/transfer/applications", nil, transfer)
	require.Equal(t, http.StatusCreated, r.Status, string(r.Raw))
	tref := r.str("reference")
	require.NotEmpty(t, r.str("access_code"))
	r = e.postJSON(t, "/api/v1/transfer/applications", nil, transfer)
	require.Equal(t, http.StatusConflict, r.Status, "a second open transfer: %s", r.Raw)
	tc, err := e.db.CaseByReference(ctx, tref)
	require.NoError(t, err)
	e.waitStage(t, tc.ID, civicflow.StageIntake, 60*time.Second)
	e.mustAct(t, ts, tref, "accept", map[string]any{}, "investigation")
	r = e.act(t, ts, tref, "record_transfer_visit", map[string]any{"transfer_visit": map[string]any{
		"visited_on": "2026-01-15", "reason": "bored", "findings": "", "care_level": "self_care"}})
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Raw))
	e.mustAct(t, ts, tref, "record_transfer_visit", map[string]any{"transfer_visit": map[string]any{
		"visited_on": "2026-01-15", "reason": "carer_unable", "findings": "侄女外出务工，老人独居", "care_level": "self_care"}},
		"district_review")
	e.mustAct(t, dr, tref, "approve", map[string]any{}, "placement", "waitlisted", "awaiting_admission")
	tcs := e.waitStage(t, tc.ID, civicflow.StageAwaitingAdmission, 30*time.Second)
	st := e.staffOf(t, tcs)
	e.mustAct(t, st, tref, "confirm_admission", map[string]any{}, "completed")
	today := time.Now().In(civicflow.ChinaZone()).Format(time.DateOnly)
	r = e.do(t, http.MethodGet, fmt.Sprintf("/api/v1/register/%d", id), ts, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	old := r.Body["entry"].(map[string]any)
	require.Equal(t, "transferred", old["end_reason"])
	require.Equal(t, tref, old["closed_by_case"])
	changes := r.Body["changes"].([]any)
	require.Len(t, changes, 3, "entered dispersed, ended, entered centralised: %s", r.Raw)
	running := e.registerEntries(t, ts, "form=centralised&limit=500")
	var now map[string]any
	for _, en := range running {
		if en["opened_by_case"] == tref {
			now = en
		}
	}
	require.NotNil(t, now, "the person is in the register in centralised support")
	require.Equal(t, today, now["starts_on"].(string)[:10], "support goes on without a gap")
	require.Equal(t, float64(tcs.AllocationID), now["allocation_id"])

	// 3. The person dies: the township raises the termination on the
	// committee's report; the district confirms; after the notice the
	// period ends and the bed is free again.
	nid := int64(now["id"].(float64))
	term := map[string]any{"reason": "died", "effective_on": today, "raised_by": "committee",
		"reporter": "长安路社区居委会", "statement": "本人病故"}
	r = e.postJSON(t, fmt.Sprintf("/api/v1/register/%d/terminations", nid), tsOther, term)
	require.Equal(t, http.StatusForbidden, r.Status, string(r.Raw))
	r = e.postJSON(t, fmt.Sprintf("/api/v1/register/%d/terminations", nid), ts, map[string]any{"reason": "bored"})
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Raw))
	r = e.postJSON(t, fmt.Sprintf("/api/v1/register/%d/terminations", nid), ts, term)
	require.Equal(t, http.StatusCreated, r.Status, string(r.Raw))
	zref := r.str("reference")
	r = e.postJSON(t, fmt.Sprintf("/api/v1/register/%d/terminations", nid), ts, term)
	require.Equal(t, http.StatusConflict, r.Status, "a second open termination: %s", r.Raw)
	zc, err := e.db.CaseByReference(ctx, zref)
	require.NoError(t, err)
	e.waitStage(t, zc.ID, civicflow.StageIntake, 60*time.Second)
	r = e.act(t, ts, zref, "request_supplements", map[string]any{"items": []string{"死亡证明"}})
	require.Equal(t, http.StatusForbidden, r.Status, "a termination has no applicant to ask: %s", r.Raw)
	e.mustAct(t, ts, zref, "accept", map[string]any{}, "district_review")
	e.mustAct(t, dr, zref, "approve", map[string]any{}, "public_notice", "completed")
	e.waitStage(t, zc.ID, civicflow.StageCompleted, 30*time.Second)
	r = e.do(t, http.MethodGet, fmt.Sprintf("/api/v1/register/%d", nid), ts, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	ended := r.Body["entry"].(map[string]any)
	require.Equal(t, "died", ended["end_reason"])
	require.Equal(t, today, ended["ends_on"].(string)[:10])
	zevs, err := e.db.Events(ctx, zc.ID)
	require.NoError(t, err)
	for _, ev := range zevs {
		require.NotEqual(t, civicflow.StepNoticeNotSent, ev.Action, "a termination has no applicant to notify")
	}
	al, err := e.db.Allocation(ctx, tcs.AllocationID)
	require.NoError(t, err)
	require.NotNil(t, al.ReleasedAt, "the bed is freed")
	for _, en := range e.registerEntries(t, ts, "limit=500") {
		require.NotEqual(t, c.Ref, en["opened_by_case"])
		require.NotEqual(t, tref, en["opened_by_case"], "the person is no longer in the register")
	}
	// 4. Standards: a date already passed is history (422, nothing
	// changes); a later one is set, set again the same, removed once.
	admin := e.login(t, "admin")
	before := count(t, e, `SELECT count(*) FROM support_standards`)
	r = e.putJSON(t, "/api/v1/admin/support-standards/610113/2020-01-01", admin, map[string]any{"monthly_amount": 900})
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Raw))
	require.Contains(t, string(r.Raw), `"field":"effective_from"`)
	require.Equal(t, before, count(t, e, `SELECT count(*) FROM support_standards`))
	for range 2 {
		r = e.putJSON(t, "/api/v1/admin/support-standards/610113/2099-01-01", admin, map[string]any{"monthly_amount": 1500})
		require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	}
	require.Equal(t, before+1, count(t, e, `SELECT count(*) FROM support_standards`), "the same standard set twice is one")
	require.Equal(t, http.StatusNoContent, e.do(t, http.MethodDelete, "/api/v1/admin/support-standards/610113/2099-01-01", admin, nil).Status)
	require.Equal(t, http.StatusNotFound, e.do(t, http.MethodDelete, "/api/v1/admin/support-standards/610113/2099-01-01", admin, nil).Status)
	require.Equal(t, before, count(t, e, `SELECT count(*) FROM support_standards`))

	saveHistory(t, e, civicflow.CaseWorkflowID(c.ID), "centralised_care_dispersed")
	saveHistory(t, e, civicflow.CaseWorkflowID(tc.ID), "support_transfer_admitted")
	saveHistory(t, e, civicflow.CaseWorkflowID(zc.ID), "support_termination_completed")
}
