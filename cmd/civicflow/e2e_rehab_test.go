package main

// End-to-end tests of community rehabilitation (issue 5) through the HTTP
// API: the shared pipeline, the rehab centre's actions, reviews across the
// workflow's continue-as-new boundary, transfer, privacy of clinical content.

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"civicflow"
	"civicflow/workflows"
)

const (
	rehabDiagnosis = "F20.0 偏执型精神分裂症，病情稳定"
	rehabPhysician = "欧阳·明远"
)

// newRehabIDNumber returns a valid ID number of a Yanta resident born in
// the given year.
func newRehabIDNumber(year int) string {
	n := idSeq.Add(1)
	first17 := fmt.Sprintf("610113%04d0615%03d", year, 500+n%500)
	return first17 + string(civicflow.IDCheckChar(first17))
}

func rehabApplication(idNumber string) map[string]any {
	return map[string]any{
		"person": map[string]any{"name": "李𠀋华", "id_number": idNumber, "hukou_township_code": "610113001",
			"address": "小寨西路8号"},
		"applicant": map[string]any{"applied_by": "family", "name": "李建国", "phone": "13912340000"},
		"statement": "出院后居家，希望参加社区康复",
	}
}

func (e *e2eSystem) submitRehab(t *testing.T, app map[string]any, key string) submitted {
	t.Helper()
	h := map[string]string{}
	if key != "" {
		h["Idempotency-Key"] = key
	}
	r := e.postJSON(t, "/api/v1/rehab/applications", h, app)
	require.Contains(t, []int{http.StatusCreated, http.StatusOK}, r.Status, string(r.Raw))
	c := submitted{Ref: r.str("reference"), Code: r.str("access_code"), ID: int64(r.Body["case_id"].(float64))}
	e.waitStage(t, c.ID, civicflow.StageIntake, 60*time.Second)
	return c
}

// centreID finds the rehab centre of a district.
func (e *e2eSystem) centreID(t *testing.T, who map[string]string, district string) float64 {
	t.Helper()
	r := e.do(t, http.MethodGet, "/api/v1/rehab/centres?district="+district, who, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	cs := r.Body["centres"].([]any)
	require.Len(t, cs, 1)
	return cs[0].(map[string]any)["id"].(float64)
}

func rehabBody(fields map[string]any) map[string]any { return map[string]any{"rehab": fields} }

func registerBody() map[string]any {
	return rehabBody(map[string]any{"file_number": "YT-2026-0042", "diagnosis": rehabDiagnosis})
}

func assessBody(suitable bool) map[string]any {
	f := map[string]any{"suitable": suitable, "risk_level": 1, "physician": rehabPhysician,
		"findings": "自知力部分恢复，服药依从性一般"}
	if suitable {
		f["services"] = []string{"medication_training", "social_skills", "family_support"}
	} else {
		f["referral_suggestion"] = "建议精神专科医院住院治疗"
	}
	return rehabBody(f)
}

func planBody() map[string]any {
	return rehabBody(map[string]any{"agreed_by": "guardian", "agreed_by_name": "李建国",
		"plan": []map[string]any{
			{"service": "medication_training", "frequency": "每周1次", "start_date": "2026-01-05"},
			{"service": "social_skills", "frequency": "每周2次", "start_date": "2026-01-07"},
		}})
}

func reviewBody(note string) map[string]any {
	return rehabBody(map[string]any{"progress": []map[string]any{
		{"service": "medication_training", "rating": "improved", "note": note},
		{"service": "social_skills", "rating": "stable", "note": note},
	}})
}

func sameInstant(t *testing.T, want time.Time, got any) {
	t.Helper()
	s, _ := got.(string)
	at, err := time.Parse(time.RFC3339, s)
	require.NoError(t, err, "%v", got)
	require.True(t, want.Equal(at), "want %s, got %s", want, at)
}

// runID is the current run of a case's workflow.
func (e *e2eSystem) runID(t *testing.T, caseID int64) (current, first string) {
	t.Helper()
	desc, err := e.tc.DescribeWorkflow(context.Background(), civicflow.CaseWorkflowID(caseID), "")
	require.NoError(t, err)
	d := desc.RawResponse
	return d.GetWorkflowExecutionInfo().GetExecution().GetRunId(), d.GetWorkflowExecutionInfo().GetFirstRunId()
}

func TestE2ERehabFromApplicationToClosure(t *testing.T) {
	e := setup(t)
	ts, dr, drOther := e.login(t, "ts.xiaozhai"), e.login(t, "dr.yanta"), e.login(t, "dr.xincheng")
	ra, raOther, sv, svDistrict := e.login(t, "ra.yanta"), e.login(t, "ra.xincheng"), e.login(t, "sv.city"), e.login(t, "sv.yanta")
	yanta, xincheng := e.centreID(t, dr, "610113"), e.centreID(t, dr, "610102")

	// A minor applies through a guardian whose consent is recorded: refused
	// otherwise, with the fields at fault, and nothing written.
	minorID := newRehabIDNumber(2012)
	bad := rehabApplication(minorID)
	r := e.postJSON(t, "/api/v1/rehab/applications", nil, bad)
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Raw))
	for _, f := range []string{`"field":"applicant.applied_by"`, `"field":"applicant.guardian_consent"`, `"field":"applicant.consent_on"`} {
		require.Contains(t, string(r.Raw), f)
	}
	require.Equal(t, 0, e.caseCount(t, minorID))
	minor := rehabApplication(minorID)
	minor["applicant"] = map[string]any{"applied_by": "guardian", "name": "李建国", "phone": "13912340000",
		"guardian_consent": true, "consent_on": "2025-12-20"}
	m := e.submitRehab(t, minor, "")
	require.Equal(t, 1, e.caseCount(t, minorID))
	var minorFlag, consent bool
	require.NoError(t, e.db.Pool().QueryRow(context.Background(),
		`SELECT minor, guardian_consent FROM rehab_applications WHERE case_id = $1`, m.ID).Scan(&minorFlag, &consent))
	require.True(t, minorFlag && consent)

	app := rehabApplication(newRehabIDNumber(1985))
	c := e.submitRehab(t, app, "e2e-rehab-1")
	cs := e.waitStage(t, c.ID, civicflow.StageIntake, time.Second)
	require.Equal(t, civicflow.CaseTypeCommunityRehab, cs.Type)
	// The same request again answers the same case, now in intake; the
	// same key with another body is refused and writes nothing.
	eventsBefore := e.eventCount(t, c.ID)
	r = e.postJSON(t, "/api/v1/rehab/applications", map[string]string{"Idempotency-Key": "e2e-rehab-1"}, app)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, true, r.Body["replayed"])
	require.Equal(t, float64(c.ID), r.Body["case_id"])
	require.Equal(t, string(civicflow.StageIntake), r.str("stage"))
	otherID := newRehabIDNumber(1986)
	r = e.postJSON(t, "/api/v1/rehab/applications", map[string]string{"Idempotency-Key": "e2e-rehab-1"}, rehabApplication(otherID))
	require.Equal(t, http.StatusConflict, r.Status, string(r.Raw))
	require.Equal(t, eventsBefore, e.eventCount(t, c.ID), "the replays added nothing to the case")
	require.Zero(t, e.caseCount(t, otherID), "the refused request created no case")

	// Intake and district review: the shared pipeline, without investigation.
	e.mustAct(t, ts, c.Ref, "accept", map[string]any{}, "district_review")
	events := e.eventCount(t, c.ID)
	r = e.act(t, dr, c.Ref, "approve", map[string]any{})
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Raw))
	require.Contains(t, string(r.Raw), `"field":"rehab_centre_id"`)
	r = e.act(t, dr, c.Ref, "approve", map[string]any{"rehab_centre_id": xincheng})
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, "another district's centre: %s", r.Raw)
	require.Equal(t, http.StatusForbidden, e.act(t, drOther, c.Ref, "approve", map[string]any{"rehab_centre_id": yanta}).Status)
	require.Equal(t, events, e.eventCount(t, c.ID), "refused actions write nothing")
	r = e.mustAct(t, dr, c.Ref, "approve", map[string]any{"rehab_centre_id": yanta}, "registration")
	require.Equal(t, yanta, r.Body["rehab_centre_id"])
	events = e.eventCount(t, c.ID)

	// The centre: only its own staff act; clinical fields checked, 422.
	require.Equal(t, http.StatusForbidden, e.act(t, raOther, c.Ref, "register", registerBody()).Status)
	r = e.act(t, ra, c.Ref, "register", rehabBody(map[string]any{"file_number": "YT-1"}))
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Raw))
	require.Contains(t, string(r.Raw), `"field":"rehab.diagnosis"`)
	r = e.act(t, ra, c.Ref, "register", rehabBody(map[string]any{"file_number": "YT-1", "diagnosis": "x", "mood": "ok"}))
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, "unknown field: %s", r.Raw)
	require.Equal(t, events, e.eventCount(t, c.ID), "refused actions write nothing")
	e.mustAct(t, ra, c.Ref, "register", registerBody(), "assessment")
	r = e.act(t, ra, c.Ref, "assess", rehabBody(map[string]any{"suitable": true, "risk_level": 7, "physician": rehabPhysician,
		"findings": "x", "services": []string{"karaoke"}}))
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Raw))
	e.mustAct(t, ra, c.Ref, "assess", assessBody(true), "planning")
	r = e.mustAct(t, ra, c.Ref, "agree_plan", planBody(), "in_rehab")
	rehab := r.Body["rehab"].(map[string]any)
	// Reviews every 90 days from the plan's first start (2026-01-05).
	due := time.Date(2026, 4, 5, 0, 0, 0, 0, civicflow.ChinaZone())
	sameInstant(t, due, rehab["next_review_due"])
	sameInstant(t, due, r.Body["stage_due_at"])

	// Supervisors see stages and dates, never clinical content.
	r = e.do(t, http.MethodGet, "/api/v1/cases/"+c.Ref, sv, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, "in_rehab", r.str("stage"))
	require.NotNil(t, r.Body["rehab"])
	for _, secret := range []string{rehabDiagnosis, rehabPhysician, "medication_training", "自知力", "k1:"} {
		require.NotContains(t, string(r.Raw), secret)
	}
	require.Equal(t, http.StatusForbidden, e.do(t, http.MethodGet, "/api/v1/cases/"+c.Ref+"/rehab", sv, nil).Status)
	require.Equal(t, http.StatusForbidden, e.do(t, http.MethodGet, "/api/v1/cases/"+c.Ref+"/rehab", svDistrict, nil).Status)
	require.Equal(t, http.StatusForbidden, e.do(t, http.MethodGet, "/api/v1/cases/"+c.Ref+"/rehab", ts, nil).Status)
	// The centre and the reviewing district read it, and each read is audited.
	before, err := e.db.AuditEntries(context.Background(), "case", c.Ref, 1000)
	require.NoError(t, err)
	r = e.do(t, http.MethodGet, "/api/v1/cases/"+c.Ref+"/rehab", dr, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Contains(t, string(r.Raw), rehabDiagnosis)
	require.Contains(t, string(r.Raw), rehabPhysician)
	require.Len(t, r.Body["records"], 3)
	after, err := e.db.AuditEntries(context.Background(), "case", c.Ref, 1000)
	require.NoError(t, err)
	require.Len(t, after, len(before)+1)
	require.Equal(t, "case.clinical_read", after[len(after)-1].Action)
	require.Equal(t, "dr.yanta", after[len(after)-1].Actor.Username)
	// At rest the records are sealed.
	var sealed string
	require.NoError(t, e.db.Pool().QueryRow(context.Background(),
		`SELECT string_agg(content_enc, ' ') FROM rehab_records WHERE case_id = $1`, c.ID).Scan(&sealed))
	require.True(t, strings.HasPrefix(sealed, "k1:"))
	require.NotContains(t, sealed, "F20")

	// Attendance is a signal; the review counts it.
	r = e.postJSON(t, "/api/v1/cases/"+c.Ref+"/rehab/sessions", ra, map[string]any{"service": "peer_support", "sessions": 1, "on": "2026-01-08"})
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, "not in the plan: %s", r.Raw)
	r = e.postJSON(t, "/api/v1/cases/"+c.Ref+"/rehab/sessions", ra, map[string]any{"service": "medication_training", "sessions": 2, "on": "2026-01-08"})
	require.Equal(t, http.StatusAccepted, r.Status, string(r.Raw))
	// Sent twice with one Idempotency-Key, attendance counts once.
	keyed := map[string]string{"Idempotency-Key": "attendance-" + c.Ref}
	for k, v := range ra {
		keyed[k] = v
	}
	for range 2 {
		r = e.postJSON(t, "/api/v1/cases/"+c.Ref+"/rehab/sessions", keyed, map[string]any{"service": "medication_training", "sessions": 1, "on": "2026-01-09"})
		require.Equal(t, http.StatusAccepted, r.Status, string(r.Raw))
	}
	require.Eventually(t, func() bool {
		v, err := e.tc.QueryWorkflow(context.Background(), civicflow.CaseWorkflowID(c.ID), "", workflows.QueryState)
		var st workflows.CaseState
		return err == nil && v.Get(&st) == nil && st.Rehab != nil && len(st.Rehab.SessionKeys) == 1 &&
			slices.Contains(st.Rehab.Sessions, workflows.SessionCount{Service: civicflow.ServiceMedication, Sessions: 3})
	}, 20*time.Second, 100*time.Millisecond, "2 + 1 sessions, the keyed one once")
	require.Equal(t, http.StatusForbidden,
		e.postJSON(t, "/api/v1/cases/"+c.Ref+"/rehab/sessions", raOther, map[string]any{"service": "medication_training", "sessions": 2, "on": "2026-01-08"}).Status)

	// Five reviews: the fourth ends the workflow's first run (continue as
	// new); the fifth goes to the next run through the same API.
	_, firstRun := e.runID(t, c.ID)
	r = e.act(t, ra, c.Ref, "record_review", rehabBody(map[string]any{"progress": []map[string]any{
		{"service": "medication_training", "rating": "improved", "note": "ok"}}}))
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, "a plan service missing: %s", r.Raw)
	for i := 1; i <= 5; i++ {
		r = e.mustAct(t, ra, c.Ref, "record_review", reviewBody(fmt.Sprintf("第%d次评估", i)), "in_rehab")
		rehab = r.Body["rehab"].(map[string]any)
		require.Equal(t, float64(i), rehab["reviews_done"])
		sameInstant(t, due.AddDate(0, 0, 90*i), rehab["next_review_due"])
		if i == 4 {
			deadline := time.Now().Add(30 * time.Second)
			for cur, _ := e.runID(t, c.ID); cur == firstRun; cur, _ = e.runID(t, c.ID) {
				require.True(t, time.Now().Before(deadline), "the run did not continue as new")
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	current, _ := e.runID(t, c.ID)
	require.NotEqual(t, firstRun, current)
	timeline := e.do(t, http.MethodGet, "/api/v1/cases/"+c.Ref, ra, nil)
	var reviews []float64
	for _, ev := range timeline.Body["timeline"].([]any) {
		ev := ev.(map[string]any)
		if ev["action"] == "record_review" {
			reviews = append(reviews, ev["details"].(map[string]any)["review"].(float64))
			if len(reviews) == 1 {
				require.Equal(t, float64(2+1), ev["details"].(map[string]any)["sessions"], "the attendance was counted, the keyed one once")
			}
		}
	}
	require.Equal(t, []float64{1, 2, 3, 4, 5}, reviews, "no gap or duplicate across the boundary")

	r = e.act(t, ra, c.Ref, "close", rehabBody(map[string]any{"closure": "cured", "notes": "x"}))
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Raw))
	r = e.act(t, ra, c.Ref, "close", map[string]any{"reasons": "病情稳定", "rehab": map[string]any{"closure": "goals_met", "notes": "x"}})
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, "clinical reasons stay off the timeline: %s", r.Raw)
	e.mustAct(t, ra, c.Ref, "close", rehabBody(map[string]any{"closure": "goals_met", "notes": "康复目标达成，回归社区"}), "closed")
	code := map[string]string{"X-Access-Code": c.Code}
	view := e.do(t, http.MethodGet, "/api/v1/applications/"+c.Ref, code, nil)
	require.Equal(t, http.StatusOK, view.Status)
	require.Equal(t, "closed", view.str("stage"))
	require.Equal(t, false, view.Body["can_withdraw"])
	require.NotContains(t, string(view.Raw), rehabDiagnosis)

	// The assessor's list holds the centre's cases, not the township's.
	list := e.do(t, http.MethodGet, "/api/v1/cases?limit=500", ra, nil)
	require.Equal(t, http.StatusOK, list.Status, string(list.Raw))
	require.Contains(t, string(list.Raw), c.Ref)
	require.NotContains(t, string(list.Raw), m.Ref, "the minor's case has no centre yet")

	saveRunHistory(t, e, c.ID, firstRun, "community_rehab_continued")
	saveRunHistory(t, e, c.ID, current, "community_rehab_closed")
}

func TestE2ERehabTransferRejectNotSuitableWithdraw(t *testing.T) {
	e := setup(t)
	ts, dr, ra, raOther := e.login(t, "ts.xiaozhai"), e.login(t, "dr.yanta"), e.login(t, "ra.yanta"), e.login(t, "ra.xincheng")
	yanta, xincheng := e.centreID(t, dr, "610113"), e.centreID(t, dr, "610102")
	toAssessment := func() submitted {
		c := e.submitRehab(t, rehabApplication(newRehabIDNumber(1979)), "")
		e.mustAct(t, ts, c.Ref, "accept", map[string]any{}, "district_review")
		e.mustAct(t, dr, c.Ref, "approve", map[string]any{"rehab_centre_id": yanta}, "registration")
		e.mustAct(t, ra, c.Ref, "register", registerBody(), "assessment")
		return c
	}

	// Referral to another centre of the city transfers the case there.
	c := toAssessment()
	e.mustAct(t, ra, c.Ref, "assess", assessBody(true), "planning")
	r := e.act(t, ra, c.Ref, "refer", rehabBody(map[string]any{"refer_to": "centre", "centre_id": 9999, "notes": "x"}))
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Raw))
	r = e.mustAct(t, ra, c.Ref, "refer", rehabBody(map[string]any{"refer_to": "centre", "centre_id": xincheng,
		"notes": "家属搬迁至新城区"}), "registration")
	require.Equal(t, xincheng, r.Body["rehab_centre_id"])
	require.Equal(t, http.StatusForbidden, e.do(t, http.MethodGet, "/api/v1/cases/"+c.Ref, ra, nil).Status, "the old centre no longer reads it")
	list := e.do(t, http.MethodGet, "/api/v1/cases?stage=registration", raOther, nil)
	require.Contains(t, string(list.Raw), c.Ref)
	e.mustAct(t, raOther, c.Ref, "register", registerBody(), "assessment")
	e.mustAct(t, raOther, c.Ref, "refer", rehabBody(map[string]any{"refer_to": "hospital", "hospital": "西安市精神卫生中心",
		"notes": "病情波动，需住院"}), "referred")
	// The clinical record keeps who wrote what, at which centre.
	r = e.do(t, http.MethodGet, "/api/v1/cases/"+c.Ref+"/rehab", raOther, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	var centres []float64
	for _, rec := range r.Body["records"].([]any) {
		centres = append(centres, rec.(map[string]any)["centre_id"].(float64))
	}
	require.Equal(t, []float64{yanta, yanta, yanta, xincheng, xincheng}, centres)

	// Not suitable: the case closes with a referral suggestion.
	n := toAssessment()
	r = e.act(t, ra, n.Ref, "assess", rehabBody(map[string]any{"suitable": false, "risk_level": 3, "physician": rehabPhysician, "findings": "x"}))
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Raw))
	require.Contains(t, string(r.Raw), `"field":"rehab.referral_suggestion"`)
	e.mustAct(t, ra, n.Ref, "assess", assessBody(false), "closed")

	// Withdrawal by the applicant during assessment.
	w := toAssessment()
	code := map[string]string{"X-Access-Code": w.Code}
	view := e.do(t, http.MethodGet, "/api/v1/applications/"+w.Ref, code, nil)
	require.Equal(t, true, view.Body["can_withdraw"])
	r = e.postJSON(t, "/api/v1/applications/"+w.Ref+"/withdraw", code, map[string]any{"reasons": "家属决定居家照护"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, "withdrawn", r.str("stage"))

	// Rejected at intake, with written reasons.
	j := e.submitRehab(t, rehabApplication(newRehabIDNumber(1990)), "")
	r = e.act(t, ts, j.Ref, "reject", map[string]any{})
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Raw))
	e.mustAct(t, ts, j.Ref, "reject", map[string]any{"reasons": "户籍不在本街道"}, "rejected")
	saveRunHistory(t, e, c.ID, "", "community_rehab_transferred_referred")
}

// saveRunHistory writes one run of a case's workflow to the saved
// histories (CIVICFLOW_SAVE_HISTORIES, make histories), like saveHistory
// for a run that is not the latest.
func saveRunHistory(t *testing.T, e *e2eSystem, caseID int64, runID, name string) {
	t.Helper()
	if runID == "" {
		saveHistory(t, e, civicflow.CaseWorkflowID(caseID), name)
		return
	}
	saveHistoryRun(t, e, civicflow.CaseWorkflowID(caseID), runID, name)
}
