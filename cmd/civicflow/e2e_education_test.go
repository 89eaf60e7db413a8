package main

// End-to-end tests of the education grant for college freshmen (issue 15)
// through the HTTP API: the shared pipeline, the township's verification
// with the household check, the district's approval against the tier rules
// (data, per district), the award recorded for payment, and one award per
// student and admission year.

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"civicflow"
)

// Demo students seeded in the verification stand-in (households.json).
const (
	studentDibao         = "610113200803150131" // 低保 household in 雁塔区
	studentExtremelyPoor = "610113200806200317" // 特困
)

// newStudentIDNumber returns a valid ID number of a Yanta freshman born in
// 2007, unknown to the verification stand-in.
func newStudentIDNumber() string {
	n := idSeq.Add(1)
	first17 := fmt.Sprintf("6101132007%02d%02d%03d", 1+n%12, 1+n%28, 600+n%400)
	return first17 + string(civicflow.IDCheckChar(first17))
}

func admissionYear() int { return time.Now().In(civicflow.ChinaZone()).Year() }

func educationApplication(idNumber, status, kind string) map[string]any {
	return map[string]any{
		"person": map[string]any{"name": "李思远", "id_number": idNumber, "phone": "13800005678",
			"hukou_township_code": "610113001", "community_code": "610113001001", "address": "长安路社区 3 号楼"},
		"applicant": map[string]any{"relation": "relative", "name": "李建军", "phone": "13912340001"},
		"education": map[string]any{"family_status": status, "school": "西北大学", "school_kind": kind,
			"major": "汉语言文学", "admission_year": admissionYear(), "notice_number": "2026610113000123"},
		"statement": "父亲残疾，家庭享受低保",
	}
}

func (e *e2eSystem) submitEducation(t *testing.T, app map[string]any, key string) submitted {
	t.Helper()
	h := map[string]string{}
	if key != "" {
		h["Idempotency-Key"] = key
	}
	r := e.postJSON(t, "/api/v1/education/applications", h, app)
	require.Contains(t, []int{http.StatusCreated, http.StatusOK}, r.Status, string(r.Raw))
	c := submitted{Ref: r.str("reference"), Code: r.str("access_code"), ID: int64(r.Body["case_id"].(float64))}
	e.waitStage(t, c.ID, civicflow.StageIntake, 60*time.Second)
	return c
}

// waitCheck waits until the household check of the given round answered:
// the workflow refuses an eligible verification before it has.
func (e *e2eSystem) waitCheck(t *testing.T, caseID int64, round int) []civicflow.CheckResult {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		// The answer is saved by the activity before the workflow records
		// its step: wait for the step, so that counts taken next are final.
		checks, err := e.db.CheckResults(context.Background(), caseID)
		require.NoError(t, err)
		evs, err := e.db.Events(context.Background(), caseID)
		require.NoError(t, err)
		recorded := 0
		for _, ev := range evs {
			if ev.Action == civicflow.StepEconomicCheckCompleted {
				recorded++
			}
		}
		if len(checks) >= round && recorded >= round {
			return checks
		}
		require.True(t, time.Now().Before(deadline), "case %d: no household check of round %d", caseID, round)
		time.Sleep(50 * time.Millisecond)
	}
}

func verificationBody(status, kind, opinion string, confirmed bool) map[string]any {
	return map[string]any{"verification": map[string]any{"family_status": status, "school_kind": kind,
		"enrolment_confirmed": confirmed, "findings": "低保证有效；已与学校核实报到", "opinion": opinion}}
}

// education is the education part of a case page.
func education(t *testing.T, r response) map[string]any {
	t.Helper()
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	ed, ok := r.Body["education"].(map[string]any)
	require.True(t, ok, "no education part: %s", r.Raw)
	return ed
}

func TestE2EEducationFromApplicationToAward(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	ts, tsOther, dr, drOther := e.login(t, "ts.xiaozhai"), e.login(t, "ts.dayanta"), e.login(t, "dr.yanta"), e.login(t, "dr.xincheng")

	// Bad input: 422 naming each field, nothing written.
	bad := educationApplication(studentDibao, "rich", "undergraduate")
	bad["education"].(map[string]any)["admission_year"] = admissionYear() - 3
	bad["education"].(map[string]any)["notice_number"] = "2026 0001"
	r := e.postJSON(t, "/api/v1/education/applications", nil, bad)
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Raw))
	for _, f := range []string{`"field":"education.family_status"`, `"field":"education.notice_number"`} {
		require.Contains(t, string(r.Raw), f)
	}
	bad = educationApplication(studentDibao, "dibao", "undergraduate")
	bad["education"].(map[string]any)["admission_year"] = admissionYear() - 3
	r = e.postJSON(t, "/api/v1/education/applications", nil, bad)
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Raw))
	require.Contains(t, string(r.Raw), `"field":"education.admission_year"`)
	require.Zero(t, e.caseCount(t, studentDibao))

	app := educationApplication(studentDibao, "dibao", "undergraduate")
	c := e.submitEducation(t, app, "e2e-edu-1")
	cs := e.waitStage(t, c.ID, civicflow.StageIntake, time.Second)
	require.Equal(t, civicflow.CaseTypeEducationGrant, cs.Type)
	ed := education(t, e.do(t, http.MethodGet, "/api/v1/cases/"+c.Ref, ts, nil))
	require.Equal(t, float64(admissionYear()), ed["application"].(map[string]any)["admission_year"])
	tier := ed["tier"].(map[string]any)
	require.Equal(t, "declared", tier["basis"])
	require.Equal(t, float64(5000), tier["amount"])
	require.Nil(t, ed["award"])

	// Another township's official may not act (403); an action the stage
	// does not allow is refused (409); neither writes anything.
	events := e.eventCount(t, c.ID)
	require.Equal(t, http.StatusForbidden, e.act(t, tsOther, c.Ref, "accept", map[string]any{}).Status)
	require.Equal(t, http.StatusForbidden,
		e.act(t, tsOther, c.Ref, "record_verification", verificationBody("dibao", "undergraduate", "eligible", true)).Status)
	r = e.act(t, ts, c.Ref, "record_verification", verificationBody("dibao", "undergraduate", "eligible", true))
	require.Equal(t, http.StatusConflict, r.Status, "record_verification in intake: %s", r.Raw)
	require.Equal(t, http.StatusConflict, e.act(t, dr, c.Ref, "approve", map[string]any{"tier_amount": 5000}).Status)
	require.Equal(t, events, e.eventCount(t, c.ID))

	// Verification: the household check runs by itself; the township
	// records what it found.
	e.mustAct(t, ts, c.Ref, "accept", map[string]any{}, "verification")
	checks := e.waitCheck(t, c.ID, 1)
	require.Equal(t, civicflow.FamilyDibao, checks[0].AssistanceStatus, "the platform knows the household's 低保")
	events = e.eventCount(t, c.ID)
	r = e.act(t, ts, c.Ref, "record_verification", verificationBody("dibao", "undergraduate", "eligible", false))
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Raw))
	require.Contains(t, string(r.Raw), `"field":"verification.enrolment_confirmed"`)
	r = e.act(t, ts, c.Ref, "record_verification", map[string]any{"verification": map[string]any{"opinion": "eligible"}})
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Raw))
	require.Equal(t, events, e.eventCount(t, c.ID), "refused actions write nothing")
	e.mustAct(t, ts, c.Ref, "record_verification", verificationBody("dibao", "undergraduate", "eligible", true), "district_review")
	ed = education(t, e.do(t, http.MethodGet, "/api/v1/cases/"+c.Ref, dr, nil))
	require.Equal(t, "dibao", ed["verification"].(map[string]any)["family_status"])
	require.Equal(t, true, ed["verification"].(map[string]any)["enrolment_confirmed"])
	tier = ed["tier"].(map[string]any)
	require.Equal(t, "verified", tier["basis"])
	require.Equal(t, float64(5000), tier["amount"])
	require.Equal(t, civicflow.CityCode, tier["jurisdiction"])

	// The district approves the tier the rules give, and no other.
	events, history := e.eventCount(t, c.ID), e.historyLength(t, c.ID)
	r = e.act(t, dr, c.Ref, "approve", map[string]any{})
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Raw))
	require.Contains(t, string(r.Raw), `"field":"tier_amount"`)
	r = e.act(t, dr, c.Ref, "approve", map[string]any{"tier_amount": 7000})
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Raw))
	require.Contains(t, string(r.Raw), `"field":"tier_amount"`)
	require.Contains(t, string(r.Raw), "the rules of 雁塔区 give 5000 for dibao/undergraduate")
	require.Equal(t, http.StatusForbidden, e.act(t, drOther, c.Ref, "approve", map[string]any{"tier_amount": 5000}).Status)
	require.Equal(t, events, e.eventCount(t, c.ID), "refused approvals write nothing")
	require.Equal(t, history, e.historyLength(t, c.ID), "nor reach the workflow's history")
	require.Equal(t, civicflow.StageDistrictReview, e.waitStage(t, c.ID, civicflow.StageDistrictReview, time.Second).Stage)
	aw, err := e.db.AwardOf(ctx, c.ID)
	require.NoError(t, err)
	require.Nil(t, aw)
	r = e.do(t, http.MethodGet, "/api/v1/applications/"+c.Ref, map[string]string{"X-Access-Code": c.Code}, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.NotContains(t, r.Body, "award", "nothing is awarded before the district approves")

	r = e.mustAct(t, dr, c.Ref, "approve", map[string]any{"tier_amount": 5000}, "completed")
	award := education(t, r)["award"].(map[string]any)
	require.Equal(t, float64(5000), award["amount"])
	require.Equal(t, "awaiting_payment", award["state"])
	aw, err = e.db.AwardOf(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, 5000, aw.Amount)
	require.Equal(t, admissionYear(), aw.AdmissionYear)
	require.Equal(t, civicflow.FamilyDibao, aw.FamilyStatus)
	var amount int
	require.NoError(t, e.db.Pool().QueryRow(ctx, `SELECT (data ->> 'amount')::int FROM notifications
		WHERE case_id = $1 AND template = 'decision_approved'`, c.ID).Scan(&amount))
	require.Equal(t, 5000, amount, "the approval notice states the amount")
	// The applicant sees the award on their own view too.
	r = e.do(t, http.MethodGet, "/api/v1/applications/"+c.Ref, map[string]string{"X-Access-Code": c.Code}, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, map[string]any{"amount": float64(5000), "admission_year": float64(admissionYear()), "state": "awaiting_payment"},
		r.Body["award"])
	// After completion no action fits the stage.
	require.Equal(t, http.StatusConflict, e.act(t, ts, c.Ref, "accept", map[string]any{}).Status)
	require.Equal(t, http.StatusConflict, e.act(t, dr, c.Ref, "approve", map[string]any{"tier_amount": 5000}).Status)

	// The first request sent again gets its case back; a new application
	// for the same student and year is refused, naming no case.
	r = e.postJSON(t, "/api/v1/education/applications", map[string]string{"Idempotency-Key": "e2e-edu-1"}, app)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, float64(c.ID), r.Body["case_id"])
	r = e.postJSON(t, "/api/v1/education/applications", nil, app)
	require.Equal(t, http.StatusConflict, r.Status, string(r.Raw))
	require.NotContains(t, string(r.Raw), c.Ref)
	require.NotContains(t, string(r.Raw), `"reference"`)
	require.Equal(t, 1, e.caseCount(t, studentDibao))

	// A second award for the student and year is refused by the constraint,
	// whatever writes it.
	other := e.submitEducation(t, educationApplication(newStudentIDNumber(), "dibao_margin", "vocational"), "")
	_, err = e.db.Pool().Exec(ctx, `INSERT INTO education_awards (case_id, person_id, admission_year, amount, family_status,
			school_kind, district_code, rule_jurisdiction, event_key, awarded_at)
		SELECT $1, person_id, admission_year, amount, family_status, school_kind, district_code, rule_jurisdiction, 'e2e', now()
		FROM education_awards WHERE case_id = $2`, other.ID, c.ID)
	require.Error(t, err)
	require.Contains(t, err.Error(), "education_awards_one_per_student_year")
	require.Equal(t, 1, e.awardCount(t, c.ID, other.ID))

	saveRunHistory(t, e, c.ID, "", "education_grant_awarded")
}

func (e *e2eSystem) awardCount(t *testing.T, caseIDs ...int64) int {
	t.Helper()
	var n int
	require.NoError(t, e.db.Pool().QueryRow(context.Background(),
		`SELECT count(*) FROM education_awards WHERE case_id = ANY($1)`, caseIDs).Scan(&n))
	return n
}

func TestE2EEducationDistrictRulesReturnAndIneligible(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	ts, dr, admin, sv := e.login(t, "ts.xiaozhai"), e.login(t, "dr.yanta"), e.login(t, "admin"), e.login(t, "sv.city")

	// The tier rules are data: a district's rule overrides the city's.
	r := e.do(t, http.MethodGet, "/api/v1/admin/education/tiers?district=610113", sv, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Len(t, r.Body["rules"], 6, "the city's six defaults")
	require.Equal(t, http.StatusForbidden, e.putJSON(t, "/api/v1/admin/education/tiers/610113/extremely_poor/vocational", sv,
		map[string]any{"amount": 5000}).Status, "supervisors read, administrators change")
	require.Equal(t, http.StatusForbidden, e.do(t, http.MethodGet, "/api/v1/admin/education/tiers", ts, nil).Status)
	r = e.putJSON(t, "/api/v1/admin/education/tiers/610113/extremely_poor/vocational", admin, map[string]any{"amount": 4000})
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Raw))
	r = e.putJSON(t, "/api/v1/admin/education/tiers/610113001/extremely_poor/vocational", admin, map[string]any{"amount": 5000})
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, "a township has no rules: %s", r.Raw)
	r = e.putJSON(t, "/api/v1/admin/education/tiers/610113/extremely_poor/vocational", admin, map[string]any{"amount": 5000})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, "610113", r.str("jurisdiction"))
	t.Cleanup(func() {
		e.do(t, http.MethodDelete, "/api/v1/admin/education/tiers/610113/extremely_poor/vocational", admin, nil)
	})
	entries, err := e.db.AuditEntries(ctx, "config", "610113", 1000)
	require.NoError(t, err)
	require.Equal(t, "education_tier.put", entries[len(entries)-1].Action)

	// 特困 student at a 高职: verified, returned by the district for a new
	// verification (a new household check), approved at the district's tier.
	c := e.submitEducation(t, educationApplication(studentExtremelyPoor, "extremely_poor", "undergraduate"), "")
	e.mustAct(t, ts, c.Ref, "accept", map[string]any{}, "verification")
	e.waitCheck(t, c.ID, 1)
	e.mustAct(t, ts, c.Ref, "record_verification", verificationBody("extremely_poor", "undergraduate", "eligible", true), "district_review")
	r = e.act(t, dr, c.Ref, "return", map[string]any{})
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, "a return needs reasons: %s", r.Raw)
	e.mustAct(t, dr, c.Ref, "return", map[string]any{"reasons": "录取通知书显示为高职（专科），请重新核实"}, "verification")
	e.waitCheck(t, c.ID, 2)
	e.mustAct(t, ts, c.Ref, "record_verification", verificationBody("extremely_poor", "vocational", "eligible", true), "district_review")
	tier := education(t, e.do(t, http.MethodGet, "/api/v1/cases/"+c.Ref, dr, nil))["tier"].(map[string]any)
	require.Equal(t, "610113", tier["jurisdiction"])
	require.Equal(t, float64(5000), tier["amount"])
	r = e.act(t, dr, c.Ref, "approve", map[string]any{"tier_amount": 7000})
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Raw))
	require.Contains(t, string(r.Raw), "the rules of 雁塔区 give 5000 for extremely_poor/vocational")
	e.mustAct(t, dr, c.Ref, "approve", map[string]any{"tier_amount": 5000}, "completed")

	// Back to the city's rule; the award keeps its amount.
	require.Equal(t, http.StatusNoContent,
		e.do(t, http.MethodDelete, "/api/v1/admin/education/tiers/610113/extremely_poor/vocational", admin, nil).Status)
	require.Equal(t, http.StatusConflict,
		e.do(t, http.MethodDelete, "/api/v1/admin/education/tiers/610100/extremely_poor/vocational", admin, nil).Status)
	aw, err := e.db.AwardOf(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, 5000, aw.Amount)

	// Ineligible: the case ends with the reasons, and the applicant's
	// refusal is enqueued.
	n := e.submitEducation(t, educationApplication(newStudentIDNumber(), "dibao", "undergraduate"), "")
	e.mustAct(t, ts, n.Ref, "accept", map[string]any{}, "verification")
	e.waitCheck(t, n.ID, 1)
	r = e.act(t, ts, n.Ref, "record_verification", verificationBody("dibao", "undergraduate", "ineligible", true))
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, "an ineligible opinion needs reasons: %s", r.Raw)
	body := verificationBody("dibao", "undergraduate", "ineligible", true)
	body["reasons"] = "核对平台无该户低保记录"
	e.mustAct(t, ts, n.Ref, "record_verification", body, "rejected")
	var notices int
	require.NoError(t, e.db.Pool().QueryRow(ctx, `SELECT count(*) FROM notifications WHERE case_id = $1 AND template = 'decision_rejected'`,
		n.ID).Scan(&notices))
	require.Equal(t, 1, notices)
	aw, err = e.db.AwardOf(ctx, n.ID)
	require.NoError(t, err)
	require.Nil(t, aw)

	saveRunHistory(t, e, c.ID, "", "education_grant_returned_awarded")
	saveRunHistory(t, e, n.ID, "", "education_grant_ineligible")
}
