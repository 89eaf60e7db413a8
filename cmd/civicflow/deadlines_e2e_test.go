package main

// End-to-end tests of deadlines and supervision (issue 4): the due date on
// the case and in Temporal's visibility, administrators' calendar, the
// supervisors' overdue list and actions (audited), and the stuck list
// finding a failing activity and a task queue without workers.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"civicflow"
	"civicflow/verification"
)

func (e *e2eSystem) putJSON(t *testing.T, path string, headers map[string]string, v any) response {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	h := map[string]string{"Content-Type": "application/json"}
	for k, v := range headers {
		h[k] = v
	}
	return e.do(t, http.MethodPut, path, h, bytes.NewReader(b))
}

func (e *e2eSystem) userID(t *testing.T, username string) int64 {
	t.Helper()
	var id int64
	require.NoError(t, e.db.Pool().QueryRow(context.Background(), `SELECT id FROM users WHERE username = $1`, username).Scan(&id))
	return id
}

func (e *e2eSystem) auditCount(t *testing.T, action, target string) int {
	t.Helper()
	var n int
	require.NoError(t, e.db.Pool().QueryRow(context.Background(),
		`SELECT count(*) FROM audit_log WHERE action = $1 AND target_id = $2 AND outcome = 'success'`, action, target).Scan(&n))
	return n
}

// stuck fetches the stuck list as a supervisor: the task queues as asked
// live, and the findings the background scan stored.
func (e *e2eSystem) stuck(t *testing.T, who map[string]string, query string) (queues []map[string]any, entries []map[string]any) {
	t.Helper()
	r := e.do(t, http.MethodGet, "/api/v1/supervision/stuck?"+query, who, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	for _, q := range r.Body["task_queues"].([]any) {
		queues = append(queues, q.(map[string]any))
	}
	for _, s := range r.Body["stuck"].([]any) {
		entries = append(entries, s.(map[string]any))
	}
	return queues, entries
}

// scanAfter waits until a stuck scan has started and finished after
// now, so that the list reflects the state of things at now.
func (e *e2eSystem) scanAfter(t *testing.T, now time.Time) {
	t.Helper()
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, e.db.Pool().QueryRow(context.Background(), `SELECT count(*) FROM stuck_scan_runs
			WHERE status = 'finished' AND started_at > $1`, now).Scan(&n))
		return n > 0
	}, 60*time.Second, 200*time.Millisecond, "a stuck scan runs after %v", now)
}

func findStuck(entries []map[string]any, ref, kind string) map[string]any {
	for _, s := range entries {
		if s["reference"] == ref && s["kind"] == kind {
			return s
		}
	}
	return nil
}

func TestE2EDeadlinesAndSupervision(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	admin, sv, svOther, ts := e.login(t, "admin"), e.login(t, "sv.yanta"), e.login(t, "sv.city"), e.login(t, "ts.xiaozhai")

	// Administrators keep the calendar; others may not change it.
	r := e.putJSON(t, "/api/v1/admin/calendar/2027-01-01", admin, map[string]any{"kind": "holiday", "name": "元旦"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, 1, e.auditCount(t, "calendar.put", "2027-01-01"))
	require.Equal(t, http.StatusForbidden, e.putJSON(t, "/api/v1/admin/calendar/2027-01-02", sv, map[string]any{"kind": "holiday"}).Status)
	r = e.putJSON(t, "/api/v1/admin/calendar/2027-01-04", admin, map[string]any{"kind": "workday"})
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, "a Monday cannot be a 调休 working day: %s", r.Raw)
	r = e.do(t, http.MethodGet, "/api/v1/admin/calendar?year=2026", admin, nil)
	require.Equal(t, http.StatusOK, r.Status)
	require.Len(t, r.Body["days"], 39, "2026: 33 holidays and 6 adjusted working weekend days")
	require.Equal(t, http.StatusNoContent, e.do(t, http.MethodDelete, "/api/v1/admin/calendar/2027-01-01", admin, nil).Status)

	// A district's own limit.
	r = e.putJSON(t, "/api/v1/admin/deadlines/610113/district_review", admin, map[string]any{"days": 10, "unit": "working_days"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, 0.8, r.Body["reminder_share"])
	r = e.putJSON(t, "/api/v1/admin/deadlines/610113/rejected", admin, map[string]any{"days": 10, "unit": "working_days"})
	require.Equal(t, http.StatusUnprocessableEntity, r.Status)
	// A stage of another process is not one of this process's limits.
	r = e.putJSON(t, "/api/v1/admin/deadlines/610113/verification", admin, map[string]any{"days": 10, "unit": "working_days"})
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Raw))
	require.Contains(t, string(r.Raw), "a stage of centralised_care with a time limit")
	r = e.putJSON(t, "/api/v1/admin/deadlines/610113/verification", admin,
		map[string]any{"days": 10, "unit": "working_days", "case_type": "education_grant"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, http.StatusNoContent, e.do(t, http.MethodDelete, "/api/v1/admin/deadlines/610113/verification?case_type=education_grant", admin, nil).Status)
	require.Equal(t, http.StatusNoContent, e.do(t, http.MethodDelete, "/api/v1/admin/deadlines/610113/district_review", admin, nil).Status)

	// Every case shows its stage's due date (in Temporal's visibility too when
	// stage attributes are on: TestE2EStageSearchAttributes).
	c := e.submit(t, application(newIDNumber(t), "610113001", "dependent"), "")
	r = e.do(t, http.MethodGet, "/api/v1/cases/"+c.Ref, sv, nil)
	require.Equal(t, http.StatusOK, r.Status)
	due, err := time.Parse(time.RFC3339, r.str("stage_due_at"))
	require.NoError(t, err, "intake has a due date: %s", r.Raw)
	require.True(t, due.After(time.Now().Add(5*24*time.Hour)), "5 working days ahead, at least a week: %v", due)

	// Overdue (its due date moved into the past, as if days had gone by).
	_, err = e.db.Pool().Exec(ctx, `UPDATE cases SET stage_due_at = now() - interval '2 days' WHERE id = $1`, c.ID)
	require.NoError(t, err)
	r = e.do(t, http.MethodGet, "/api/v1/supervision/overdue?stage=intake&township=610113001&limit=500", sv, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	var late map[string]any
	for _, o := range r.Body["cases"].([]any) {
		if o.(map[string]any)["reference"] == c.Ref {
			late = o.(map[string]any)
		}
	}
	require.NotNil(t, late, "the overdue case is listed: %s", r.Raw)
	require.InDelta(t, 2.0, late["days_late"], 0.01)
	r = e.do(t, http.MethodGet, "/api/v1/supervision/overdue/counts", svOther, nil)
	require.Equal(t, http.StatusOK, r.Status)
	require.Contains(t, string(r.Raw), `"district_code":"610113","stage":"intake"`)
	require.Equal(t, http.StatusForbidden, e.do(t, http.MethodGet, "/api/v1/supervision/overdue?district=610102", sv, nil).Status)
	require.Equal(t, http.StatusForbidden, e.do(t, http.MethodGet, "/api/v1/supervision/overdue", ts, nil).Status)
	require.Equal(t, http.StatusUnprocessableEntity, e.do(t, http.MethodGet, "/api/v1/supervision/overdue?stage=nope", sv, nil).Status)
	r = e.do(t, http.MethodGet, "/api/v1/supervision/stage-durations?from=2026-01-01", sv, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))

	// Supervisors act without deciding: reassign, note, remind; all audited.
	r = e.postJSON(t, "/api/v1/supervision/cases/"+c.Ref+"/reassign", sv, map[string]any{"user_id": e.userID(t, "ts.dayanta")})
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, "an official of another township: %s", r.Raw)
	r = e.postJSON(t, "/api/v1/supervision/cases/"+c.Ref+"/reassign", sv, map[string]any{"user_id": e.userID(t, "ts.xiaozhai"), "reasons": "负责人休假"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, float64(e.userID(t, "ts.xiaozhai")), r.Body["assigned_user_id"])
	require.Equal(t, "intake", r.str("stage"), "the case itself does not move")
	require.Equal(t, http.StatusOK, e.postJSON(t, "/api/v1/supervision/cases/"+c.Ref+"/notes", sv, map[string]any{"note": "请本周内受理"}).Status)
	require.Equal(t, http.StatusOK, e.postJSON(t, "/api/v1/supervision/cases/"+c.Ref+"/remind", sv, map[string]any{}).Status)
	require.Equal(t, http.StatusForbidden, e.postJSON(t, "/api/v1/supervision/cases/"+c.Ref+"/notes", ts, map[string]any{"note": "x"}).Status)
	for _, action := range []string{"case.reassign", "case.supervisory_note", "case.remind"} {
		require.Equal(t, 1, e.auditCount(t, action, c.Ref), action)
	}
	var actions []string
	evs, err := e.db.Events(ctx, c.ID)
	require.NoError(t, err)
	for _, ev := range evs {
		actions = append(actions, string(ev.Action))
	}
	require.Subset(t, actions, []string{"reassigned", "supervisory_note", "supervisor_reminder"})
	// The workflow still agrees with the read model: supervisors changed nothing it knows.
	e.scanAfter(t, time.Now())
	_, entries := e.stuck(t, sv, "kind=read_model_disagrees&limit=1000")
	require.Nil(t, findStuck(entries, c.Ref, "read_model_disagrees"), "%v", entries)
	// A read model that lost a step disagrees with its workflow.
	_, err = e.db.Pool().Exec(ctx, `UPDATE cases SET seq = seq - 1 WHERE id = $1`, c.ID)
	require.NoError(t, err)
	var behind map[string]any
	require.Eventually(t, func() bool {
		_, entries = e.stuck(t, sv, "kind=read_model_disagrees&limit=1000")
		behind = findStuck(entries, c.Ref, "read_model_disagrees")
		return behind != nil
	}, 60*time.Second, 250*time.Millisecond, "the scan finds the read model behind")
	require.Contains(t, behind["cause"], "the workflow is in stage intake at step 1")
	_, err = e.db.Pool().Exec(ctx, `UPDATE cases SET seq = seq + 1 WHERE id = $1`, c.ID)
	require.NoError(t, err)
	// Once they agree again, the next scan resolves the finding.
	require.Eventually(t, func() bool {
		_, entries = e.stuck(t, sv, "kind=read_model_disagrees&limit=1000")
		return findStuck(entries, c.Ref, "read_model_disagrees") == nil
	}, 60*time.Second, 250*time.Millisecond, "the cleared finding leaves the list")
	e.mustAct(t, ts, c.Ref, "reject", map[string]any{"reasons": "户籍不在本街道"}, "rejected")
}

func (s submitted) workflowID() string { return civicflow.CaseWorkflowID(s.ID) }

// An activity failing again and again (the verification platform answers
// 503) shows in the stuck list with its last error.
func TestE2EStuckListFindsRetryingActivity(t *testing.T) {
	e := setup(t)
	sv, ts := e.login(t, "sv.yanta"), e.login(t, "ts.xiaozhai")
	fault := func(f any) {
		b, err := json.Marshal(f)
		require.NoError(t, err)
		req, err := http.NewRequest(http.MethodPut, e.verifierURL+verification.FaultsPath, bytes.NewReader(b))
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Less(t, resp.StatusCode, 300)
	}
	fault(verification.Fault{Mode: verification.FaultError})
	t.Cleanup(func() { fault(verification.Fault{}) })

	c := e.submit(t, application(newIDNumber(t), "610113001", "dependent"), "")
	e.mustAct(t, ts, c.Ref, "accept", map[string]any{}, "investigation")
	var found map[string]any
	require.Eventually(t, func() bool {
		_, entries := e.stuck(t, sv, "retrying_for=3s&kind=activity_retrying&limit=1000")
		found = findStuck(entries, c.Ref, "activity_retrying")
		return found != nil
	}, 45*time.Second, 500*time.Millisecond, "the case shows as stuck on its household check")
	require.Equal(t, "CheckHousehold", found["activity"])
	require.GreaterOrEqual(t, found["attempt"], float64(2))
	require.Contains(t, found["last_error"], "household check")
	require.Contains(t, found["cause"], "still being retried")

	// Once the platform answers again, the case moves on and leaves the list.
	fault(verification.Fault{})
	require.Eventually(t, func() bool {
		cs, err := e.db.Case(context.Background(), c.ID)
		require.NoError(t, err)
		evs, err := e.db.Events(context.Background(), cs.ID)
		require.NoError(t, err)
		for _, ev := range evs {
			if ev.Action == "economic_check_completed" {
				return true
			}
		}
		return false
	}, 60*time.Second, 250*time.Millisecond)
	require.Eventually(t, func() bool {
		_, entries := e.stuck(t, sv, "retrying_for=0s&kind=activity_retrying&limit=1000")
		return findStuck(entries, c.Ref, "activity_retrying") == nil
	}, 60*time.Second, 250*time.Millisecond, "the next scan resolves the finding")
	body := visitBody("ineligible")
	body["reasons"] = "收入高于当地低保标准"
	e.mustAct(t, ts, c.Ref, "record_investigation", body, "rejected")
}

// With no worker polling the task queue, the stuck list says so at once
// (asked live), and the scan — which runs in the API process, not the
// worker — records it for the queue and for the open case whose next step
// waits in it. Once a worker polls again, the next scan resolves both
// findings: they leave the list and show among the resolved ones.
func TestE2EStuckListFindsQueueWithoutWorker(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	sv := e.login(t, "sv.yanta")
	c := e.submit(t, application(newIDNumber(t), "610113001", "dependent"), "")
	queues, _ := e.stuck(t, sv, "")
	for _, q := range queues {
		require.Equal(t, true, q["polled"], "a worker is running: %v", q)
	}
	e.scanAfter(t, time.Now())
	_, entries := e.stuck(t, sv, "kind=no_worker&limit=1000")
	require.Nil(t, findStuck(entries, c.Ref, "no_worker"))

	e.stopWorker()
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			require.NoError(t, e.startWorker())
		}
	})
	// A signal the workflow does not handle gives the case a workflow task
	// that no worker picks up.
	require.NoError(t, e.tc.SignalWorkflow(ctx, c.workflowID(), "", "civicflow-test-nudge", nil))
	var found map[string]any
	require.Eventually(t, func() bool {
		queues, entries := e.stuck(t, sv, "poller_silence=3s&kind=no_worker&limit=1000")
		found = findStuck(entries, c.Ref, "no_worker")
		return found != nil && queues[0]["polled"] == false
	}, 60*time.Second, 500*time.Millisecond, "the queue without worker is found, live and by the scan")
	require.Contains(t, found["cause"], "the case's next step has waited")
	require.Contains(t, found["cause"], "no worker is polling")
	r := e.do(t, http.MethodGet, "/api/v1/supervision/stuck?kind=no_worker", sv, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.NotEmpty(t, r.Body["queue_findings"], "the queue itself is a finding: %s", r.Raw)
	require.Contains(t, string(r.Raw), `"task_queue":"`+e.cfg.TaskQueue+`"`)
	scan := r.Body["scan"].(map[string]any)
	require.Equal(t, false, scan["stale"], "the scan is fresh: %v", scan)

	// A worker again: the next scan clears both findings.
	require.NoError(t, e.startWorker())
	restarted = true
	require.Eventually(t, func() bool {
		r := e.do(t, http.MethodGet, "/api/v1/supervision/stuck?kind=no_worker&limit=1000", sv, nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
		return !strings.Contains(string(r.Raw), c.Ref) && len(r.Body["queue_findings"].([]any)) == 0
	}, 90*time.Second, 500*time.Millisecond, "the cleared findings leave the list")
	_, resolved := e.stuck(t, sv, "kind=no_worker&resolved=true&limit=1000")
	gone := findStuck(resolved, c.Ref, "no_worker")
	require.NotNil(t, gone, "kept as resolved: %v", resolved)
	require.NotEmpty(t, gone["resolved_at"])
}

// TestE2ECalendarGapWarning: a deadline that runs into a year with no
// holiday calendar is a warning in the supervisors' calendar-gap list, in
// /readyz and in the API's log, and stops being one once an administrator
// enters that year's first holiday.
func TestE2ECalendarGapWarning(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	admin, city, yanta := e.login(t, "admin"), e.login(t, "sv.city"), e.login(t, "sv.yanta")

	// Chang'an (no other test uses it) gives intake the longest limit
	// allowed, which ends more than a year ahead.
	r := e.putJSON(t, "/api/v1/admin/deadlines/610116/intake", admin, map[string]any{"days": 365, "unit": "working_days"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	t.Cleanup(func() { e.do(t, http.MethodDelete, "/api/v1/admin/deadlines/610116/intake", admin, nil) })
	c := e.submit(t, application(newIDNumber(t), "610116001", "dependent"), "")
	cs := e.waitStage(t, c.ID, civicflow.StageIntake, 30*time.Second)
	require.NotNil(t, cs.StageDueAt)
	year := cs.StageDueAt.In(civicflow.ChinaZone()).Year()
	require.Greater(t, year, time.Now().In(civicflow.ChinaZone()).Year())
	r = e.do(t, http.MethodGet, "/api/v1/admin/calendar?year="+strconv.Itoa(year), admin, nil)
	require.Equal(t, http.StatusOK, r.Status)
	require.Empty(t, r.Body["days"], "the test needs a year that is not loaded: %d is", year)

	gapIn := func(who map[string]string) int64 {
		t.Helper()
		r := e.do(t, http.MethodGet, "/api/v1/supervision/calendar-gaps", who, nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
		var ans struct {
			Gaps []civicflow.CalendarGap `json:"gaps"`
		}
		require.NoError(t, json.Unmarshal(r.Raw, &ans))
		for _, g := range ans.Gaps {
			if g.Year == year {
				return g.OpenDeadlines
			}
		}
		return 0
	}
	readyWarns := func(base string) bool {
		t.Helper()
		r := doAt(t, base, http.MethodGet, "/readyz", nil, nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
		warned := strings.Contains(string(r.Raw), fmt.Sprintf("run into %d, which has no holiday calendar loaded", year))
		var ans struct {
			Gaps []civicflow.CalendarGap `json:"calendar_gaps"`
		}
		require.NoError(t, json.Unmarshal(r.Raw, &ans))
		listed := slices.ContainsFunc(ans.Gaps, func(g civicflow.CalendarGap) bool { return g.Year == year })
		require.Equal(t, warned, listed, "warnings and calendar_gaps agree: %s", r.Raw)
		return warned
	}
	require.GreaterOrEqual(t, gapIn(city), int64(1), "the city's supervisor sees the case's year")
	require.Zero(t, gapIn(yanta), "Yanta's supervisor does not: the case is in Chang'an")
	require.Equal(t, http.StatusForbidden, e.do(t, http.MethodGet, "/api/v1/supervision/calendar-gaps", admin, nil).Status,
		"the list is the supervisors' view")

	// An API instance of its own, so that its /readyz answers from its own
	// last look (the suite's may have looked before this case existed).
	// Its start-up check logs the year; the log is read before the
	// instance serves, which then writes to it from other goroutines.
	var logged bytes.Buffer
	a := newAPI(e.cfg, e.tc, e.db, slog.New(slog.NewTextHandler(&logged, nil)))
	a.CheckCalendar(ctx)
	require.Contains(t, logged.String(), fmt.Sprintf("year=%d", year))
	require.Contains(t, logged.String(), "level=WARN")
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	require.True(t, readyWarns(srv.URL))

	// The year loaded through another instance: the list sees it at once,
	// this instance's /readyz on its next look (within a minute).
	date := fmt.Sprintf("%d-01-01", year)
	holiday := map[string]any{"kind": "holiday", "name": "元旦"}
	r = e.putJSON(t, "/api/v1/admin/calendar/"+date, admin, holiday)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	t.Cleanup(func() { e.do(t, http.MethodDelete, "/api/v1/admin/calendar/"+date, admin, nil) })
	require.Zero(t, gapIn(city), "the year is loaded now")
	require.True(t, readyWarns(srv.URL), "answered from the last look")
	// A calendar change through this instance makes it look again.
	body, err := json.Marshal(holiday)
	require.NoError(t, err)
	h := map[string]string{"Content-Type": "application/json", "Authorization": admin["Authorization"]}
	r = doAt(t, srv.URL, http.MethodPut, "/api/v1/admin/calendar/"+date, h, bytes.NewReader(body))
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.False(t, readyWarns(srv.URL))
}
