package main

import (
	"fmt"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestE2ESupervisorAssignees: the officials a supervisor may reassign a
// case to are the active officials of the case's township who act in its
// stage, named by username and display name only; another district's
// supervisor and officials are refused; the read is audited.
func TestE2ESupervisorAssignees(t *testing.T) {
	e := setup(t)
	admin, sv, svCity, ts := e.login(t, "admin"), e.login(t, "sv.yanta"), e.login(t, "sv.city"), e.login(t, "ts.xiaozhai")
	suffix := fmt.Sprintf("%d", time.Now().UnixNano()%1_000_000_000)
	newUser := func(name, role, jurisdiction string) int64 {
		r := e.postJSON(t, "/api/v1/admin/users", admin, map[string]any{"username": name + suffix, "display_name": "测试" + name,
			"password": "a long enough password", "role": role, "jurisdiction": jurisdiction})
		require.Equal(t, http.StatusCreated, r.Status, string(r.Raw))
		return int64(r.Body["id"].(float64))
	}
	second := newUser("as.second", "township_official", "610113001")
	gone := newUser("as.gone", "township_official", "610113001")
	require.Equal(t, http.StatusOK, e.postJSON(t, fmt.Sprintf("/api/v1/admin/users/%d/disable", gone), admin, map[string]any{}).Status)
	newUser("as.other", "township_official", "610113002")
	newUser("sv.xc", "supervisor", "610102")
	svOther, _ := e.loginWith(t, "sv.xc"+suffix, "a long enough password")

	c := e.submit(t, application(newIDNumber(t), "610113001", "dependent"), "")
	path := "/api/v1/supervision/cases/" + c.Ref + "/assignees"
	r := e.do(t, http.MethodGet, path, sv, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, true, r.Body["reassignable"])
	require.Equal(t, "intake", r.str("stage"))
	var ids []int64
	for _, a := range r.Body["assignees"].([]any) {
		m := a.(map[string]any)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		require.Equal(t, []string{"current", "display_name", "id", "role", "username"}, keys, "no personal data beyond names and role")
		require.Equal(t, "township_official", m["role"])
		ids = append(ids, int64(m["id"].(float64)))
	}
	require.ElementsMatch(t, []int64{e.userID(t, "ts.xiaozhai"), second}, ids,
		"the township's active officials only: %s", r.Raw)
	require.Equal(t, 1, e.auditCount(t, "case.assignees_read", c.Ref))

	// The city's supervisor may; another district's supervisor and officials may not.
	require.Equal(t, http.StatusOK, e.do(t, http.MethodGet, path, svCity, nil).Status)
	r = e.do(t, http.MethodGet, path, svOther, nil)
	require.Equal(t, http.StatusForbidden, r.Status, string(r.Raw))
	require.Equal(t, http.StatusForbidden, e.do(t, http.MethodGet, path, ts, nil).Status)

	// What is listed is what reassign accepts.
	r = e.postJSON(t, "/api/v1/supervision/cases/"+c.Ref+"/reassign", sv, map[string]any{"user_id": second})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	r = e.do(t, http.MethodGet, path, sv, nil)
	require.Equal(t, http.StatusOK, r.Status)
	for _, a := range r.Body["assignees"].([]any) {
		m := a.(map[string]any)
		require.Equal(t, int64(m["id"].(float64)) == second, m["current"], "the assigned official is marked: %s", r.Raw)
	}

	// A rehab case waiting for registration: the assessors of the centre's
	// district, whom reassign accepts.
	dr := e.login(t, "dr.yanta")
	rc := e.submitRehab(t, rehabApplication(newRehabIDNumber(1979)), "")
	e.mustAct(t, ts, rc.Ref, "accept", map[string]any{}, "district_review")
	r = e.do(t, http.MethodGet, "/api/v1/supervision/cases/"+rc.Ref+"/assignees", sv, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, "district_review", r.str("stage"))
	e.mustAct(t, dr, rc.Ref, "approve", map[string]any{"rehab_centre_id": e.centreID(t, dr, "610113")}, "registration")
	r = e.do(t, http.MethodGet, "/api/v1/supervision/cases/"+rc.Ref+"/assignees", sv, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	var names []string
	for _, a := range r.Body["assignees"].([]any) {
		m := a.(map[string]any)
		require.Equal(t, "rehab_assessor", m["role"])
		names = append(names, m["username"].(string))
	}
	require.Contains(t, names, "ra.yanta")
	require.NotContains(t, names, "ra.xincheng")
	r = e.postJSON(t, "/api/v1/supervision/cases/"+rc.Ref+"/reassign", sv, map[string]any{"user_id": e.userID(t, "ra.yanta")})
	require.Equal(t, http.StatusOK, r.Status, "a listed assessor is accepted: %s", r.Raw)

	// Waiting for the applicant's papers, nobody can be assigned.
	e.mustAct(t, ts, c.Ref, "request_supplements", map[string]any{"items": []string{"户口簿复印件"}}, "awaiting_supplements")
	r = e.do(t, http.MethodGet, path, sv, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, false, r.Body["reassignable"])
	require.Empty(t, r.Body["assignees"])
}
