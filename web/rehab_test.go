package web

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"civicflow"
	"civicflow/wire"
)

var nonceRe = regexp.MustCompile(`name="nonce" value="([^"]+)"`)

// actForm posts a rehab action's form: first for the confirmation page,
// then confirmed with the fields the confirmation page carries.
func (h *harness) actRehab(path string, form url.Values) (int, string, *http.Response) {
	h.t.Helper()
	form.Set("csrf", h.csrf(path))
	status, body, _ := h.post(path, form)
	require.Equal(h.t, http.StatusOK, status, body)
	require.Contains(h.t, body, `id="confirm-action"`, "the confirmation step comes first")
	confirmed := url.Values{"confirm": {"yes"}}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`).FindAllStringSubmatch(body, -1) {
		confirmed.Add(m[1], htmlUnescape(m[2]))
	}
	return h.post(path, confirmed)
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&#43;", "+", "&amp;", "&", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">").Replace(s)
}

func TestRehabCasePageOffersTheCentresForms(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login("ra.yanta")
	status, body, _ := h.get("/console/cases/RH-610113-000010")
	require.Equal(t, http.StatusOK, status, body)
	for _, act := range []string{"assess", "close", "refer"} {
		require.Contains(t, body, `id="act-`+act+`"`, act)
	}
	require.NotContains(t, body, "请通过业务接口办理", "every rehab action has a form")
	require.Contains(t, body, `id="open-clinical"`)
	require.Zero(t, h.api.called("GET /api/v1/cases/RH-610113-000010/rehab"), "the case page itself reads no clinical content")

	status, body, _ = h.get("/console/cases/RH-610113-000010/rehab")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "F20.0 偏执型精神分裂症")
	require.Contains(t, body, "服药训练、社交能力训练")

	// A supervisor reads the case but not the clinical record.
	h.login("sv.city")
	status, body, _ = h.get("/console/cases/RH-610113-000010")
	require.Equal(t, http.StatusOK, status, body)
	require.NotContains(t, body, `id="open-clinical"`)
	require.Contains(t, body, "雁塔区精神障碍社区康复服务中心", "the non-clinical summary is shown")
	status, _, _ = h.get("/console/cases/RH-610113-000010/rehab")
	require.Equal(t, http.StatusForbidden, status)
}

func TestRehabAssessFormPostsTheAssessment(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login("ra.yanta")
	path := "/console/cases/RH-610113-000010/act/assess"
	status, body, _ := h.get(path)
	require.Equal(t, http.StatusOK, status, body)
	for _, name := range []string{"服药训练", "预防复发训练", "躯体管理训练", "生活技能训练", "社交能力训练", "职业康复训练", "心理康复", "同伴支持", "家庭支持"} {
		require.Contains(t, body, name)
	}
	require.Equal(t, 9, strings.Count(body, `name="services"`))

	// The API refuses a missing physician: the field says so, what was typed stays.
	status, body, _ = h.actRehab(path, url.Values{"suitable": {"yes"}, "risk_level": {"2"}, "services": {"medication_training", "peer_support"},
		"findings": {"病情稳定，自知力部分恢复"}})
	require.Equal(t, http.StatusUnprocessableEntity, status, body)
	require.Contains(t, body, `id="physician-err"`)
	require.Contains(t, body, "请填写评估医师的姓名。")
	require.Contains(t, body, "病情稳定，自知力部分恢复")
	require.Regexp(t, `id="svc-peer_support" name="services" value="peer_support" checked`, body)

	status, _, resp := h.actRehab(path, url.Values{"suitable": {"yes"}, "risk_level": {"2"}, "services": {"medication_training", "peer_support"},
		"physician": {"陈医生"}, "findings": {"病情稳定"}})
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/console/cases/RH-610113-000010?done=action", resp.Header.Get("Location"))
	sent := sentAs[wire.ActionRequest](t, h.api, "POST /api/v1/cases/RH-610113-000010/actions/assess")
	require.Equal(t, wire.ActionRequest{Rehab: &wire.RehabInput{Suitable: new(true), RiskLevel: new(2),
		Services: []string{"medication_training", "peer_support"}, Physician: "陈医生", Findings: "病情稳定"}}, sent,
		"the assessment's fields and nothing else")
	require.True(t, strings.HasPrefix(h.api.keys[len(h.api.keys)-1], "console-"), "the update carries the form's nonce")
}

func TestRehabAgreePlanOffersTheRecommendedServices(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login("ra.yanta")
	path := "/console/cases/RH-610113-000011/act/agree_plan"
	status, body, _ := h.get(path)
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `id="plan-medication_training"`)
	require.Contains(t, body, `id="plan-social_skills"`)
	require.NotContains(t, body, `id="plan-family_support"`, "only what the assessment recommended")
	require.Contains(t, body, "社交能力训练")
	require.Equal(t, 1, h.api.called("GET /api/v1/cases/RH-610113-000011/rehab"))

	// A bad interval is caught before the API is asked.
	calls := h.api.called("POST /api/v1/cases/")
	status, body, _ = h.post(path, url.Values{"csrf": {h.csrf(path)}, "plan_service": {"social_skills"}, "review_interval_days": {"soon"},
		"confirm": {"yes"}, "nonce": {"n1"}})
	require.Equal(t, http.StatusUnprocessableEntity, status, body)
	require.Contains(t, body, "定期评估间隔须为7至365天的整数。")
	require.Equal(t, calls, h.api.called("POST /api/v1/cases/"))

	// No service chosen: the API's field error is shown at the plan.
	status, body, _ = h.actRehab(path, url.Values{"agreed_by": {"guardian"}, "agreed_by_name": {"刘建国"}, "review_interval_days": {"90"}})
	require.Equal(t, http.StatusUnprocessableEntity, status, body)
	require.Contains(t, body, `id="plan-err"`)

	status, _, resp := h.actRehab(path, url.Values{"plan_service": {"social_skills"}, "frequency.social_skills": {"每周2次"},
		"start_date.social_skills": {"2026-12-01"}, "frequency.medication_training": {"ignored, not ticked"},
		"agreed_by": {"guardian"}, "agreed_by_name": {"刘建国"}, "review_interval_days": {"60"}})
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/console/cases/RH-610113-000011?done=action", resp.Header.Get("Location"))
	sent := sentAs[wire.ActionRequest](t, h.api, "POST /api/v1/cases/RH-610113-000011/actions/agree_plan").Rehab
	require.Equal(t, &wire.RehabInput{Plan: []wire.PlanItemInput{{Service: "social_skills", Frequency: "每周2次", StartDate: "2026-12-01"}},
		AgreedBy: "guardian", AgreedByName: "刘建国", ReviewIntervalDays: 60}, sent)
}

func TestSupervisorReassignsFromAList(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login("sv.city")
	casePath := "/console/cases/TK-610113-000002"
	status, body, _ := h.get(casePath)
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `<select id="user_id" name="user_id" required>`)
	require.Regexp(t, `<option value="1" selected>王芳 \(ts\.xiaozhai, [^)]+\)`, body)
	require.Contains(t, body, `<option value="9">周丽 (ts.second`)
	require.NotContains(t, body, `inputmode="numeric" required`, "no typing of user numbers")
	require.Equal(t, 1, h.api.called("GET /api/v1/supervision/cases/TK-610113-000002/assignees"))

	status, _, resp := h.post(casePath+"/reassign", url.Values{"csrf": {h.csrf(casePath)}, "user_id": {"9"}, "reasons": {"负责人休假"}})
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, casePath+"?done=reassigned", resp.Header.Get("Location"))
	require.Equal(t, wire.ReassignRequest{UserID: 9, Reasons: "负责人休假"},
		sentAs[wire.ReassignRequest](t, h.api, "POST /api/v1/supervision/cases/TK-610113-000002/reassign"))
}

// TestRehabFormsRender renders every rehab action's form, and its
// confirmation, in both languages.
func TestRehabFormsRender(t *testing.T) {
	t.Parallel()
	for _, lang := range languages {
		h := newHarness(t)
		h.setLang(lang)
		h.login("ra.yanta")
		cat, err := loadCatalogue()
		require.NoError(t, err)
		for _, tc := range []struct{ ref, action, want string }{
			{"RH-610113-000012", "register", `id="diagnosis"`},
			{"RH-610113-000010", "assess", `id="svc-family_support"`},
			{"RH-610113-000011", "agree_plan", `id="plan-social_skills"`},
			{"RH-610113-000013", "record_review", `id="rating-social_skills"`},
			{"RH-610113-000013", "close", `id="closure"`},
			{"RH-610113-000010", "refer", "新城区精神障碍社区康复服务中心"},
		} {
			path := "/console/cases/" + tc.ref + "/act/" + tc.action
			status, body, _ := h.get(path)
			require.Equal(t, http.StatusOK, status, "%s %s: %s", lang, path, body)
			require.NotContains(t, body, "⟦", "%s %s has a missing message", lang, path)
			require.Contains(t, body, tc.want, path)
			require.Contains(t, body, html.EscapeString(cat.text(lang, "rehab.help."+tc.action)), path)
			status, body, _ = h.post(path, url.Values{"csrf": {h.csrf(path)}, "notes": {"说明"}, "closure": {"goals_met"},
				"refer_to": {"centre"}, "centre_id": {"6"}, "review_service": {"social_skills"}, "rating.social_skills": {"improved"}})
			require.Equal(t, http.StatusOK, status, "%s %s: %s", lang, path, body)
			require.NotContains(t, body, "⟦", "%s %s confirmation has a missing message", lang, path)
			require.Contains(t, body, `id="confirm-action"`, path)
		}
		require.NotContains(t, func() string { _, b, _ := h.get("/console/cases/RH-610113-000010/act/refer"); return b }(),
			`<option value="5">`, "the case's own centre is not offered")
	}
}

func TestDistrictApprovesARehabCaseToItsCentre(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login("dr.yanta")
	path := "/console/cases/RH-610113-000014/act/approve"
	status, body, _ := h.get(path)
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `<option value="5">雁塔区精神障碍社区康复服务中心</option>`)
	require.NotContains(t, body, `id="care_level"`, "care levels are for centralised care")
	status, body, _ = h.post(path, url.Values{"csrf": {h.csrf(path)}, "rehab_centre_id": {"5"}, "nonce": {"n-approve"}})
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `<input type="hidden" name="rehab_centre_id" value="5">`)
	status, _, _ = h.post(path, url.Values{"csrf": {h.csrf(path)}, "rehab_centre_id": {"5"}, "nonce": {"n-approve"}, "confirm": {"yes"}})
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, wire.ActionRequest{RehabCentreID: 5},
		sentAs[wire.ActionRequest](t, h.api, "POST /api/v1/cases/RH-610113-000014/actions/approve"))
}

func TestRehabSessionsForm(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login("ra.yanta")
	// Offered in rehab only.
	_, body, _ := h.get("/console/cases/RH-610113-000013")
	require.Contains(t, body, `id="open-sessions"`)
	_, body, _ = h.get("/console/cases/RH-610113-000011")
	require.NotContains(t, body, `id="open-sessions"`, "planning: nothing to attend yet")

	path := "/console/cases/RH-610113-000013/sessions"
	status, body, _ := h.get(path)
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `<option value="social_skills"`, "the plan's service")
	require.NotContains(t, body, `<option value="medication_training"`, "recommended but not in the plan")
	require.Contains(t, body, `value="`+h.api.now.In(civicflow.ChinaZone()).Format("2006-01-02")+`"`, "today by default")

	// A number that is not one: refused here, nothing sent.
	status, body, _ = h.post(path, url.Values{"csrf": {h.csrf(path)}, "service": {"social_skills"}, "sessions": {"zwei"}, "on": {"2026-11-20"}})
	require.Equal(t, http.StatusUnprocessableEntity, status, body)
	require.Contains(t, body, `id="sessions-err"`)
	require.Zero(t, h.api.called("POST /api/v1/cases/RH-610113-000013/rehab/sessions"))

	// The API refuses a service outside the plan and a future day: each
	// field says so, and what was typed stays.
	status, body, _ = h.post(path, url.Values{"csrf": {h.csrf(path)}, "service": {"peer_support"}, "sessions": {"3"}, "on": {"2099-01-01"}})
	require.Equal(t, http.StatusUnprocessableEntity, status, body)
	require.Contains(t, body, `id="service-err"`)
	require.Contains(t, body, `id="on-err"`)
	require.NotContains(t, body, `id="sessions-err"`)
	require.Contains(t, body, `value="2099-01-01"`)
	require.Contains(t, body, "出勤未记录")

	// The form's nonce is the Idempotency-Key: the same form sent twice
	// (a double click) sends the same key, which the workflow counts once.
	_, form, _ := h.get(path)
	nonce := nonceRe.FindStringSubmatch(form)[1]
	filled := url.Values{"csrf": {h.csrf(path)}, "nonce": {nonce}, "service": {"social_skills"}, "sessions": {"2"}, "on": {"2026-11-20"}}
	status, _, resp := h.post(path, filled)
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/console/cases/RH-610113-000013?done=sessions", resp.Header.Get("Location"))
	require.Equal(t, wire.SessionRequest{Service: "social_skills", Sessions: 2, On: "2026-11-20"},
		sentAs[wire.SessionRequest](t, h.api, "POST /api/v1/cases/RH-610113-000013/rehab/sessions"))
	require.Equal(t, "console-"+nonce, h.api.keys[len(h.api.keys)-1])
	filled.Set("csrf", h.csrf(path))
	status, _, _ = h.post(path, filled)
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "console-"+nonce, h.api.keys[len(h.api.keys)-1], "sent again: the same key")
	_, body, _ = h.get("/console/cases/RH-610113-000013?done=sessions")
	require.Contains(t, body, "出勤已记录")

	// A supervisor sees the case, not the form.
	h.login("sv.city")
	_, body, _ = h.get("/console/cases/RH-610113-000013")
	require.NotContains(t, body, `id="open-sessions"`)
	status, _, _ = h.get(path)
	require.Equal(t, http.StatusConflict, status)
}
