package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"civicflow"
)

// fakeAPI stands in for the JSON API in these fast tests (the end-to-end
// console test in cmd/civicflow drives the real one): it answers the
// routes the console calls and records what it was sent.
type fakeAPI struct {
	mu    sync.Mutex
	calls []string
	keys  []string
	now   time.Time
	// actionStatus answers POST .../actions/:action (0: 200).
	actionStatus int
	// bodies holds the last JSON body sent to each method and path.
	bodies map[string]map[string]any
}

// body is the last JSON body sent to "METHOD /path".
func (f *fakeAPI) body(route string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bodies[route]
}

func (f *fakeAPI) called(prefix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func apiError(w http.ResponseWriter, status int, code string, fields ...civicflow.FieldError) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": "x", "fields": fields}})
}

var fakeUsers = map[string]civicflow.User{
	"tok-ts": {ID: 1, Username: "ts.xiaozhai", DisplayName: "王芳", Role: civicflow.RoleTownshipOfficial, Jurisdiction: "610113001"},
	"tok-sv": {ID: 2, Username: "sv.city", DisplayName: "孙红", Role: civicflow.RoleSupervisor, Jurisdiction: civicflow.CityCode},
	"tok-ad": {ID: 3, Username: "admin", DisplayName: "管理员", Role: civicflow.RoleAdministrator, Jurisdiction: civicflow.CityCode},
	"tok-dr": {ID: 5, Username: "dr.yanta", DisplayName: "陈静", Role: civicflow.RoleDistrictReviewer, Jurisdiction: "610113"},
	"tok-ra": {ID: 4, Username: "ra.yanta", DisplayName: "吴刚", Role: civicflow.RoleRehabAssessor, Jurisdiction: "610113", RehabCentreID: 5},
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var raw []byte
	if r.Body != nil {
		raw, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(raw))
	}
	var sent map[string]any
	_ = json.Unmarshal(raw, &sent)
	f.mu.Lock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	f.keys = append(f.keys, r.Header.Get("Idempotency-Key"))
	if f.bodies == nil {
		f.bodies = map[string]map[string]any{}
	}
	if sent != nil {
		f.bodies[r.Method+" "+r.URL.Path] = sent
	}
	f.mu.Unlock()
	user, authed := fakeUsers[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	due := func(d time.Duration) *time.Time { t := f.now.Add(d); return &t }
	detail := func(ref string, stage civicflow.Stage, dueAt *time.Time) map[string]any {
		allowed := []civicflow.Action{}
		if user.Role == civicflow.RoleTownshipOfficial {
			allowed = civicflow.AllowedActions(user.Actor(), civicflow.Scope{CaseID: 1, Stage: stage, DistrictCode: "610113", TownshipCode: "610113001"})
		}
		return map[string]any{"id": 1, "reference": ref, "stage": stage, "person_name": "张桂兰", "id_number_masked": "6101**********1015",
			"district_code": "610113", "township_code": "610113001", "stage_entered_at": f.now.Add(-72 * time.Hour), "stage_due_at": dueAt,
			"allowed_actions": allowed, "timeline": []civicflow.Event{{Action: "submitted", ToStage: civicflow.StageIntake, Actor: civicflow.SystemActor, At: f.now}},
			"papers": []civicflow.Document{{ID: 7, Filename: "户口簿.pdf", ContentType: "application/pdf"}}, "economic_checks": []civicflow.CheckResult{}}
	}
	// Community rehab cases held by centre 5: one in assessment, one in planning.
	rehabDetail := func(ref string, stage civicflow.Stage) map[string]any {
		sc := civicflow.Scope{CaseID: 10, Stage: stage, DistrictCode: "610113", TownshipCode: "610113001", RehabCentreID: 5}
		allowed := civicflow.AllowedActions(user.Actor(), sc)
		return map[string]any{"id": 10, "reference": ref, "case_type": "community_rehab", "stage": stage, "person_name": "刘洋",
			"id_number_masked": "6101**********2013", "district_code": "610113", "township_code": "610113001", "rehab_centre_id": 5,
			"stage_entered_at": f.now.Add(-24 * time.Hour), "allowed_actions": allowed, "timeline": []civicflow.Event{},
			"papers": []civicflow.Document{}, "economic_checks": []civicflow.CheckResult{},
			"rehab": civicflow.RehabSummary{CentreID: 5, Centre: "雁塔区精神障碍社区康复服务中心", ReviewsDone: 0}}
	}
	p := r.URL.Path
	switch {
	case p == "/api/v1/cases/RH-610113-000010":
		writeJSON(w, 200, rehabDetail("RH-610113-000010", civicflow.StageAssessment))
	case p == "/api/v1/cases/RH-610113-000011":
		writeJSON(w, 200, rehabDetail("RH-610113-000011", civicflow.StagePlanning))
	case p == "/api/v1/cases/RH-610113-000012":
		writeJSON(w, 200, rehabDetail("RH-610113-000012", civicflow.StageRegistration))
	case p == "/api/v1/cases/RH-610113-000014":
		writeJSON(w, 200, rehabDetail("RH-610113-000014", civicflow.StageDistrictReview))
	case p == "/api/v1/cases/RH-610113-000013":
		writeJSON(w, 200, rehabDetail("RH-610113-000013", civicflow.StageInRehab))
	case strings.HasPrefix(p, "/api/v1/cases/RH-") && strings.HasSuffix(p, "/rehab/sessions") && r.Method == http.MethodPost:
		// As the API: a plan service (the fake plan holds social_skills),
		// 1-50 sessions, a day not after today.
		var bad []civicflow.FieldError
		if sent["service"] != "social_skills" {
			bad = append(bad, civicflow.FieldError{Field: "service", Reason: "is not in the case's plan"})
		}
		if n, _ := sent["sessions"].(float64); n < 1 || n > 50 {
			bad = append(bad, civicflow.FieldError{Field: "sessions", Reason: "must be 1 to 50"})
		}
		if on, _ := sent["on"].(string); on == "" || on > f.now.Format(time.DateOnly) {
			bad = append(bad, civicflow.FieldError{Field: "on", Reason: "must not be in the future"})
		}
		if len(bad) > 0 {
			apiError(w, 422, civicflow.EINVALID, bad...)
			return
		}
		writeJSON(w, 202, map[string]any{"recorded": true})
	case strings.HasPrefix(p, "/api/v1/cases/RH-") && strings.HasSuffix(p, "/rehab"):
		if user.Role != civicflow.RoleRehabAssessor && user.Role != civicflow.RoleDistrictReviewer {
			apiError(w, 403, civicflow.EFORBIDDEN)
			return
		}
		writeJSON(w, 200, map[string]any{"reference": "RH-610113-000011", "stage": "planning",
			"summary": civicflow.RehabSummary{CentreID: 5, Centre: "雁塔区精神障碍社区康复服务中心"},
			"records": []map[string]any{
				{"id": 1, "kind": "registration", "actor": user.Actor(), "recorded_at": f.now,
					"content": map[string]any{"kind": "registration", "input": map[string]any{"file_number": "YT-2026-001", "diagnosis": "F20.0 偏执型精神分裂症"}}},
				{"id": 2, "kind": "assessment", "actor": user.Actor(), "recorded_at": f.now,
					"content": map[string]any{"kind": "assessment", "input": map[string]any{"suitable": true, "risk_level": 1,
						"services": []string{"medication_training", "social_skills"}, "physician": "陈医生", "findings": "病情稳定"}}},
				{"id": 3, "kind": "plan", "actor": user.Actor(), "recorded_at": f.now,
					"content": map[string]any{"kind": "plan", "input": map[string]any{"agreed_by": "guardian", "agreed_by_name": "刘建国",
						"plan": []map[string]any{{"service": "social_skills", "frequency": "每周2次", "start_date": "2026-12-01"}}}}}}})
	case strings.HasPrefix(p, "/api/v1/cases/RH-") && strings.Contains(p, "/actions/"):
		rehab, _ := sent["rehab"].(map[string]any)
		var bad []civicflow.FieldError
		switch {
		case strings.HasSuffix(p, "/assess") && rehab["physician"] == nil:
			bad = append(bad, civicflow.FieldError{Field: "rehab.physician", Reason: "is required"})
		case strings.HasSuffix(p, "/agree_plan") && len(rehab["plan"].([]any)) == 0:
			bad = append(bad, civicflow.FieldError{Field: "rehab.plan", Reason: "choose at least one service"})
		}
		if len(bad) > 0 {
			apiError(w, 422, civicflow.EINVALID, bad...)
			return
		}
		writeJSON(w, 200, map[string]any{})
	case p == "/api/v1/rehab/centres":
		writeJSON(w, 200, map[string]any{"centres": []civicflow.RehabCentre{{ID: 5, Name: "雁塔区精神障碍社区康复服务中心", DistrictCode: "610113"},
			{ID: 6, Name: "新城区精神障碍社区康复服务中心", DistrictCode: "610102"}}})
	case strings.HasPrefix(p, "/api/v1/supervision/cases/") && strings.HasSuffix(p, "/assignees"):
		writeJSON(w, 200, map[string]any{"reassignable": true, "stage": "investigation", "assignees": []map[string]any{
			{"id": 1, "username": "ts.xiaozhai", "display_name": "王芳", "role": "township_official", "current": true},
			{"id": 9, "username": "ts.second", "display_name": "周丽", "role": "township_official", "current": false}}})
	case p == "/api/v1/jurisdictions":
		writeJSON(w, 200, map[string]any{"jurisdictions": []civicflow.Jurisdiction{
			{Code: "610113", Name: "雁塔区", Level: civicflow.LevelDistrict, ParentCode: "610100"},
			{Code: "610113001", Name: "小寨路街道", Level: civicflow.LevelTownship, ParentCode: "610113"}}})
	case p == "/api/v1/applications" && r.Method == http.MethodPost:
		var body struct {
			Person struct {
				IDNumber string `json:"id_number"`
			} `json:"person"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		if body.Person.IDNumber != "610113194503121015" {
			apiError(w, 422, civicflow.EINVALID, civicflow.FieldError{Field: "person.id_number", Reason: "the check character is wrong"},
				civicflow.FieldError{Field: "person.address", Reason: "is required"})
			return
		}
		writeJSON(w, 201, map[string]any{"reference": "TK-610113-000001", "access_code": "ABCD-2345", "stage": "intake"})
	case strings.HasPrefix(p, "/api/v1/applications/"):
		if r.Header.Get("X-Access-Code") != "ABCD-2345" {
			apiError(w, 401, civicflow.EUNAUTHORIZED)
			return
		}
		writeJSON(w, 200, map[string]any{"reference": "TK-610113-000001", "stage": "awaiting_supplements", "waiting_for": []string{"户口簿复印件"},
			"person_name": "张桂兰", "id_number_masked": "6101**********1015", "can_withdraw": true, "papers": []any{},
			"history": []map[string]any{{"at": f.now, "action": "request_supplements", "stage": "awaiting_supplements", "by": "street office / town"}}})
	case p == "/api/v1/auth/login":
		var body map[string]string
		_ = json.NewDecoder(r.Body).Decode(&body)
		for tok, u := range fakeUsers {
			if u.Username == body["username"] && body["password"] == "pw" {
				writeJSON(w, 200, map[string]any{"token": tok, "expires_at": f.now.Add(time.Hour), "user": u})
				return
			}
		}
		apiError(w, 401, civicflow.EUNAUTHORIZED)
	case !authed:
		apiError(w, 401, civicflow.EUNAUTHORIZED)
	case p == "/api/v1/me":
		writeJSON(w, 200, user)
	case p == "/api/v1/auth/logout":
		w.WriteHeader(204)
	case p == "/api/v1/cases":
		writeJSON(w, 200, map[string]any{"cases": []map[string]any{
			{"id": 1, "reference": "TK-610113-000001", "stage": "intake", "district_code": "610113", "township_code": "610113001"},
			{"id": 2, "reference": "TK-610113-000002", "stage": "investigation", "district_code": "610113", "township_code": "610113001"},
			{"id": 3, "reference": "TK-610113-000003", "stage": "public_notice", "district_code": "610113", "township_code": "610113001"}}})
	case p == "/api/v1/cases/TK-610113-000001":
		writeJSON(w, 200, detail("TK-610113-000001", civicflow.StageIntake, due(48*time.Hour)))
	case p == "/api/v1/cases/TK-610113-000002":
		writeJSON(w, 200, detail("TK-610113-000002", civicflow.StageInvestigation, due(-50*time.Hour)))
	case p == "/api/v1/cases/TK-610113-000003":
		writeJSON(w, 200, detail("TK-610113-000003", civicflow.StagePublicNotice, nil))
	case strings.HasPrefix(p, "/api/v1/cases/") && strings.Contains(p, "/actions/"):
		if f.actionStatus == http.StatusConflict {
			apiError(w, 409, civicflow.ECONFLICT)
			return
		}
		writeJSON(w, 200, map[string]any{})
	case p == "/api/v1/supervision/overdue":
		writeJSON(w, 200, map[string]any{"cases": []map[string]any{{"id": 2, "reference": "TK-610113-000002", "stage": "investigation",
			"district_code": "610113", "township_code": "610113001", "stage_due_at": f.now.Add(-50 * time.Hour), "days_late": 2.1}}})
	case p == "/api/v1/supervision/overdue/counts":
		writeJSON(w, 200, map[string]any{"counts": []map[string]any{{"district_code": "610113", "stage": "investigation", "count": 1}}})
	case p == "/api/v1/supervision/stuck":
		writeJSON(w, 200, map[string]any{"stuck": []map[string]any{{"kind": "activity_retrying", "reference": "TK-610113-000001", "stage": "intake"}}})
	case p == "/api/v1/supervision/stage-durations":
		writeJSON(w, 200, map[string]any{"stages": []map[string]any{{"stage": "intake", "visits": 3, "median_days": 1.5}}})
	case strings.HasPrefix(p, "/api/v1/admin/calendar/"):
		w.WriteHeader(http.StatusNoContent)
	case strings.HasPrefix(p, "/api/v1/supervision/cases/"):
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		if body["note"] == "" && strings.HasSuffix(p, "/notes") {
			apiError(w, 422, civicflow.EINVALID, civicflow.FieldError{Field: "note", Reason: "is required"})
			return
		}
		writeJSON(w, 200, map[string]any{})
	case p == "/api/v1/admin/users" && r.Method == http.MethodPost:
		apiError(w, 422, civicflow.EINVALID, civicflow.FieldError{Field: "password", Reason: "must be at least 12 characters"})
	case p == "/api/v1/admin/users":
		writeJSON(w, 200, map[string]any{"users": []any{fakeUsers["tok-ts"], fakeUsers["tok-ad"]}})
	case p == "/api/v1/institutions":
		writeJSON(w, 200, map[string]any{"institutions": []civicflow.Institution{{ID: 1, Name: "雁塔区社会福利院"}}})
	case p == "/api/v1/admin/deadlines":
		writeJSON(w, 200, map[string]any{"rules": []civicflow.DeadlineRule{{CaseType: civicflow.CaseTypeCentralisedCare, Stage: "intake", Jurisdiction: "610100", Days: 5, Unit: "working_days"}}})
	case p == "/api/v1/admin/calendar":
		writeJSON(w, 200, map[string]any{"year": 2026, "days": []civicflow.CalendarDay{{Date: "2026-10-01", Kind: "holiday", Name: "国庆节"}}, "source": "official"})
	default:
		apiError(w, 404, civicflow.ENOTFOUND)
	}
}

// harness serves a console over a fakeAPI.
type harness struct {
	t      *testing.T
	api    *fakeAPI
	srv    *httptest.Server
	client *http.Client
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	f := &fakeAPI{now: time.Now()}
	con, err := New(f, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	e := echo.New()
	con.Register(e)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &harness{t: t, api: f, srv: srv, client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (h *harness) get(path string) (int, string, *http.Response) {
	h.t.Helper()
	resp, err := h.client.Get(h.srv.URL + path)
	require.NoError(h.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(h.t, err)
	return resp.StatusCode, string(b), resp
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (h *harness) csrf(path string) string {
	h.t.Helper()
	_, body, _ := h.get(path)
	m := csrfRe.FindStringSubmatch(body)
	require.NotNil(h.t, m, "no CSRF token on %s", path)
	return m[1]
}

func (h *harness) post(path string, form url.Values) (int, string, *http.Response) {
	h.t.Helper()
	resp, err := h.client.PostForm(h.srv.URL+path, form)
	require.NoError(h.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(h.t, err)
	return resp.StatusCode, string(b), resp
}

func (h *harness) login(user string) {
	h.t.Helper()
	status, _, resp := h.post("/console/login", url.Values{"csrf": {h.csrf("/console/login")}, "username": {user}, "password": {"pw"}})
	require.Equal(h.t, http.StatusSeeOther, status)
	require.NotEmpty(h.t, resp.Header.Get("Location"))
}

func (h *harness) setLang(lang string) {
	h.t.Helper()
	status, _, _ := h.get("/console/lang/" + lang)
	require.Equal(h.t, http.StatusSeeOther, status)
}

func TestCatalogueIsComplete(t *testing.T) {
	t.Parallel()
	cat, err := loadCatalogue()
	require.NoError(t, err)
	verbs := regexp.MustCompile(`%[dsvf]`)
	for _, lang := range languages[1:] {
		for k, zh := range cat[languages[0]] {
			other, ok := cat[lang][k]
			require.True(t, ok, "%s has no %q", lang, k)
			require.NotEmpty(t, strings.TrimSpace(other), "%s: %q is empty", lang, k)
			require.NotEmpty(t, strings.TrimSpace(zh), "%s: %q is empty", languages[0], k)
			require.Equal(t, verbs.FindAllString(zh, -1), verbs.FindAllString(other, -1), "%q: the languages take different arguments", k)
		}
		for k := range cat[lang] {
			_, ok := cat[languages[0]][k]
			require.True(t, ok, "%s has %q, which %s lacks", lang, k, languages[0])
		}
	}
	// Every key the templates and the Go code name literally.
	used := map[string]bool{}
	tmplKey := regexp.MustCompile(`\.T "([a-z_.]+)"`)
	goKey := regexp.MustCompile(`"((?:err|field|title|flash|apply|track|login|paper|supplements|reveal|supervise|admin|board|due|disability|by|form|inbox|case|rehab)\.[a-z_.]+)"`)
	require.NoError(t, fs.WalkDir(templateFS, "templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(templateFS, p)
		for _, m := range tmplKey.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = true
		}
		return err
	}))
	gofiles, err := filepath.Glob("*.go")
	require.NoError(t, err)
	for _, f := range gofiles {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range goKey.FindAllStringSubmatch(string(b), -1) {
			if !strings.HasSuffix(m[1], ".") {
				used[m[1]] = true
			}
		}
	}
	require.Greater(t, len(used), 150)
	// Keys built from domain values.
	// Stage and action names come from the vocabulary (vocabulary_test.go).
	for _, s := range civicflow.AllStages {
		used["explain."+string(s)] = true
	}
	for a := range consoleActions {
		used["action.help."+string(a)] = true
	}
	for _, r := range append(civicflow.OfficialRoles, civicflow.RoleApplicant) {
		used["role."+string(r)] = true
	}
	for _, c := range []civicflow.CareLevel{civicflow.CareSelf, civicflow.CareSemiDependent, civicflow.CareDependent} {
		used["care."+string(c)] = true
	}
	for _, f := range apiFieldToForm {
		used["field."+f] = true
	}
	for _, f := range []string{"items", "visitors", "visited_on", "findings", "visit_care", "opinion", "reasons", "note", "objector", "care_level", "rehab_centre_id", "form"} {
		used["action.field."+f] = true
	}
	for _, code := range []string{civicflow.EINVALID, civicflow.ENOTFOUND, civicflow.ECONFLICT, civicflow.EFORBIDDEN, civicflow.EUNAUTHORIZED,
		civicflow.ETOOLARGE, civicflow.EUNAVAILABLE, civicflow.ETOOMANY, civicflow.EINTERNAL} {
		used["err."+code] = true
	}
	for a := range rehabConsoleActions {
		used["rehab.help."+string(a)] = true
	}
	for _, s := range civicflow.RehabServices {
		used["rehab.service."+string(s)] = true
	}
	for _, f := range rehabFormFields {
		used["rehab.field."+f] = true
	}
	for _, f := range sessionFields {
		used["sessions.field."+f] = true
	}
	used["flash.sessions"] = true
	for _, k := range []string{"kind.registration", "kind.assessment", "kind.plan", "kind.review", "kind.closure", "kind.referral",
		"rating.improved", "rating.stable", "rating.worse", "closure.goals_met", "closure.moved_away", "closure.withdrew",
		"closure.died", "closure.not_suitable", "refer_to.hospital", "refer_to.centre", "agreed_by.patient", "agreed_by.guardian",
		"interval_hint.agree_plan", "interval_hint.record_review", "suitable_yes", "suitable_no"} {
		used["rehab."+k] = true
	}
	for _, k := range []string{"no_worker", "activity_retrying", "workflow_task_failing", "workflow_missing", "workflow_ended", "read_model_disagrees"} {
		used["stuck."+k] = true
	}
	for k := range used {
		for _, lang := range languages {
			_, ok := cat[lang][k]
			require.True(t, ok, "catalogue %s has no %q", lang, k)
		}
	}
}

// TestPagesRender renders every page in both languages: no key is missing
// (a missing key shows as ⟦key⟧), the document says its language, and the
// page has the one stylesheet and no script.
func TestPagesRender(t *testing.T) {
	t.Parallel()
	for _, lang := range languages {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.setLang(lang)
			check := func(path, want string) {
				t.Helper()
				status, body, resp := h.get(path)
				require.Equal(t, http.StatusOK, status, "%s: %s", path, body)
				require.NotContains(t, body, "⟦", "%s has a missing message", path)
				require.Contains(t, body, `<html lang="`+lang+`">`, path)
				require.NotContains(t, body, "<script", path)
				require.Contains(t, body, want, path)
				require.Contains(t, resp.Header.Get("Content-Security-Policy"), "style-src 'self'")
			}
			cat, err := loadCatalogue()
			require.NoError(t, err)
			tr := func(k string) string { return cat.text(lang, k) }
			check("/console/", tr("home.heading"))
			check("/console/apply", "小寨路街道")
			check("/console/track", tr("track.heading"))
			check("/console/login", tr("login.heading"))
			status, _, _ := h.post("/console/track", url.Values{"csrf": {h.csrf("/console/track")}, "reference": {"TK-610113-000001"}, "access_code": {"ABCD-2345"}})
			require.Equal(t, http.StatusSeeOther, status)
			check("/console/my", "户口簿复印件")
			check("/console/my/withdraw", tr("withdraw.confirm"))
			h.login("ts.xiaozhai")
			check("/console/inbox", "TK-610113-000002")
			check("/console/cases/TK-610113-000001", "6101**********1015")
			check("/console/cases/TK-610113-000001/act/request_supplements", tr("action.items"))
			h.login("ra.yanta")
			check("/console/cases/RH-610113-000013/sessions", tr("sessions.heading"))
			h.login("sv.city")
			check("/console/board", "<svg")
			h.login("admin")
			check("/console/admin/users", "ts.xiaozhai")
			check("/console/admin/deadlines", tr("deadlines.heading"))
			check("/console/admin/calendar", "国庆节")
			_, css, _ := h.get("/console/static/console.css")
			require.Contains(t, css, "@media")
		})
	}
}

func TestPostWithoutCSRFTokenIsRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	good := h.csrf("/console/login")
	for _, token := range []string{"", "forged", good + "x"} {
		status, body, _ := h.post("/console/login", url.Values{"csrf": {token}, "username": {"ts.xiaozhai"}, "password": {"pw"}})
		require.Equal(t, http.StatusForbidden, status)
		require.Contains(t, body, "页面已过期")
	}
	require.Zero(t, h.api.called("POST /api/v1/auth/login"), "a refused form reaches the API")

	// A token is bound to this browser's cookie: another browser's is refused.
	other := newHarness(t)
	other.srv.Close()
	other.srv = h.srv
	otherToken := other.csrf("/console/login")
	require.NotEqual(t, good, otherToken)
	status, _, _ := h.post("/console/login", url.Values{"csrf": {otherToken}, "username": {"ts.xiaozhai"}, "password": {"pw"}})
	require.Equal(t, http.StatusForbidden, status)

	// The login changes the token: the one of the anonymous page stops working.
	h.login("ts.xiaozhai")
	status, _, _ = h.post("/console/cases/TK-610113-000001/act/accept", url.Values{"csrf": {good}, "confirm": {"yes"}})
	require.Equal(t, http.StatusForbidden, status)
	require.Zero(t, h.api.called("POST /api/v1/cases/"))
}

func TestSessionCookieFlags(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, _, resp := h.post("/console/login", url.Values{"csrf": {h.csrf("/console/login")}, "username": {"ts.xiaozhai"}, "password": {"pw"}})
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == cookieSession {
			session = c
		}
	}
	require.NotNil(t, session)
	require.True(t, session.HttpOnly)
	require.Equal(t, http.SameSiteLaxMode, session.SameSite)
	require.Equal(t, consolePath, session.Path)
	require.False(t, session.Secure, "plain HTTP here")

	// Behind TLS (a proxy saying so) the cookies are Secure.
	req, err := http.NewRequest(http.MethodGet, h.srv.URL+"/console/login", nil)
	require.NoError(t, err)
	req.Header.Set("X-Forwarded-Proto", "https")
	resp2, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp2.Body.Close()
	require.NotEmpty(t, resp2.Cookies())
	for _, c := range resp2.Cookies() {
		require.True(t, c.Secure, c.Name)
		require.True(t, c.HttpOnly, c.Name)
	}
}

func TestApplyShowsFieldErrorsInChinese(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	form := url.Values{"csrf": {h.csrf("/console/apply")}, "nonce": {"n1"}, "name": {"张桂兰"}, "id_number": {"610113194503121016"},
		"township": {"610113001"}, "self_care": {"dependent"}, "relation": {"relative"}, "applicant_name": {"张明"}}
	status, body, _ := h.post("/console/apply", form)
	require.Equal(t, http.StatusUnprocessableEntity, status)
	require.Contains(t, body, "身份证号码无效")
	require.Contains(t, body, `id="id_number-err"`)
	require.Contains(t, body, `aria-invalid="true"`)
	require.Contains(t, body, `<p class="err" id="address-err">此项为必填项。</p>`)
	require.Contains(t, body, `value="张桂兰"`, "the form keeps what was typed")

	form.Set("id_number", "610113194503121015")
	status, body, _ = h.post("/console/apply", form)
	require.Equal(t, http.StatusCreated, status, body)
	require.Contains(t, body, "TK-610113-000001")
	require.Contains(t, body, "ABCD-2345")
	require.Equal(t, "console-n1", h.api.keys[len(h.api.keys)-1], "the form's nonce is the Idempotency-Key")
	// The applicant may go straight on to the case.
	status, body, _ = h.get("/console/my")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "待补正材料")
}

func TestTrackWithWrongCodeIsRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	status, body, _ := h.post("/console/track", url.Values{"csrf": {h.csrf("/console/track")}, "reference": {"TK-610113-000001"}, "access_code": {"WRONG"}})
	require.Equal(t, http.StatusUnauthorized, status)
	require.Contains(t, body, "申请编号或查询码不正确")
	status, _, resp := h.get("/console/my")
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/console/track", resp.Header.Get("Location"))
}

func TestInboxListsOverdueFirstAndSkipsOptionalWork(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login("ts.xiaozhai")
	status, body, _ := h.get("/console/inbox")
	require.Equal(t, http.StatusOK, status)
	late := strings.Index(body, "TK-610113-000002")
	onTime := strings.Index(body, "TK-610113-000001")
	require.True(t, late > 0 && onTime > 0 && late < onTime, "overdue case first")
	require.Contains(t, body, "已超期 3 天")
	require.Contains(t, body, "剩余 2 天")
	require.NotContains(t, body, "TK-610113-000003", "a case in public notice waits for nobody")
}

func TestActionIsConfirmedBeforeItIsSent(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login("ts.xiaozhai")
	path := "/console/cases/TK-610113-000001/act/request_supplements"
	token := h.csrf(path)
	form := url.Values{"csrf": {token}, "nonce": {"n2"}, "items": {"户口簿复印件\n收入证明"}}
	status, body, _ := h.post(path, form)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "请确认")
	require.Contains(t, body, "<li>收入证明</li>")
	require.Zero(t, h.api.called("POST /api/v1/cases/"), "nothing is sent before the confirmation")

	form.Set("confirm", "yes")
	status, _, resp := h.post(path, form)
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/console/cases/TK-610113-000001?done=action", resp.Header.Get("Location"))
	require.Equal(t, 1, h.api.called("POST /api/v1/cases/TK-610113-000001/actions/request_supplements"))
	require.Equal(t, "console-n2", h.api.keys[len(h.api.keys)-1])

	// Someone acted first: the workflow refuses; the page says so plainly.
	h.api.actionStatus = http.StatusConflict
	status, body, _ = h.post(path, form)
	require.Equal(t, http.StatusConflict, status)
	require.Contains(t, body, "可能其他人已先行办理")

	// An action the role may not do in this stage is not offered.
	status, body, _ = h.get("/console/cases/TK-610113-000001/act/approve")
	require.Equal(t, http.StatusConflict, status)
	require.Contains(t, body, "此事项现在不由您办理")
}

func TestOfficialPagesNeedLogin(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, p := range []string{"/console/inbox", "/console/cases/TK-610113-000001", "/console/board", "/console/admin/users"} {
		status, _, resp := h.get(p)
		require.Equal(t, http.StatusSeeOther, status, p)
		require.True(t, strings.HasPrefix(resp.Header.Get("Location"), "/console/login?next="), p)
	}
	h.login("ts.xiaozhai")
	for _, p := range []string{"/console/board", "/console/admin/users"} {
		status, _, _ := h.get(p)
		require.Equal(t, http.StatusForbidden, status, p)
	}
}

func TestLanguageSwitchStaysOnTheConsole(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for back, want := range map[string]string{"/console/track": "/console/track", "https://evil.example/": "/console/", "//evil.example": "/console/"} {
		status, _, resp := h.get("/console/lang/en?back=" + url.QueryEscape(back))
		require.Equal(t, http.StatusSeeOther, status)
		require.Equal(t, want, resp.Header.Get("Location"))
	}
	_, body, _ := h.get("/console/track")
	require.Contains(t, body, "Track your case")
}

func TestChartScalesBarsToTheLargestValue(t *testing.T) {
	t.Parallel()
	ch := newChart("c", "title", []string{"a", "b", "c"}, []float64{10, 5, 0.01}, func(v float64) string { return "x" })
	require.Len(t, ch.Bars, 3)
	require.Equal(t, chartBarWidth, ch.Bars[0].Width)
	require.Equal(t, chartBarWidth/2, ch.Bars[1].Width)
	require.Equal(t, 2, ch.Bars[2].Width, "a small value stays visible")
	require.Less(t, ch.Bars[0].Y, ch.Bars[1].Y)
	require.Equal(t, 3*chartRow+8, ch.Height)
	empty := newChart("c", "title", []string{"a"}, []float64{0}, func(v float64) string { return "0" })
	require.Zero(t, empty.Bars[0].Width)
}

func TestDueSaysDaysLeftOrLate(t *testing.T) {
	t.Parallel()
	cat, err := loadCatalogue()
	require.NoError(t, err)
	now := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC) // 11:00 in China
	p := &page{Lang: "zh-CN", cat: cat, now: now}
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	require.Equal(t, "不计时", p.Due(nil))
	require.Equal(t, "剩余 2 天", p.Due(at(26*time.Hour)))
	require.Equal(t, "今天到期", p.Due(at(5*time.Hour)))
	require.Equal(t, "剩余 1 天", p.Due(at(20*time.Hour)), "due tomorrow in China")
	require.Equal(t, "已超期 1 天", p.Due(at(-time.Hour)))
	require.Equal(t, "已超期 3 天", p.Due(at(-50*time.Hour)))
	require.True(t, p.Overdue(at(-time.Minute)))
	require.False(t, p.Overdue(at(time.Minute)))
	p.Lang = "en"
	require.Equal(t, "3 day(s) late", p.Due(at(-50*time.Hour)))
}

func TestSupervisorAndAdministratorFormsReachTheAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login("sv.city")
	casePath := "/console/cases/TK-610113-000002"
	status, _, resp := h.post(casePath+"/remind", url.Values{"csrf": {h.csrf(casePath)}, "note": {"请尽快办理"}})
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, casePath+"?done=reminded", resp.Header.Get("Location"))
	require.Equal(t, 1, h.api.called("POST /api/v1/supervision/cases/TK-610113-000002/remind"))
	status, body, _ := h.post(casePath+"/note", url.Values{"csrf": {h.csrf(casePath)}, "note": {""}})
	require.Equal(t, http.StatusUnprocessableEntity, status)
	require.Contains(t, body, "督办意见不能为空")

	h.login("admin")
	status, _, resp = h.post("/console/admin/calendar", url.Values{"csrf": {h.csrf("/console/admin/calendar")},
		"date": {"2026-12-31"}, "kind": {"holiday"}, "name": {"测试"}})
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/console/admin/calendar?done=saved&year=2026", resp.Header.Get("Location"))
	require.Equal(t, 1, h.api.called("PUT /api/v1/admin/calendar/2026-12-31"))
	status, body, _ = h.post("/console/admin/users", url.Values{"csrf": {h.csrf("/console/admin/users")},
		"username": {"new.user"}, "password": {"short"}, "role": {"supervisor"}, "jurisdiction": {"610100"}})
	require.Equal(t, http.StatusUnprocessableEntity, status)
	require.Contains(t, body, "保存失败")
}

// A page answers the status the API answered (the API maps codes to
// statuses; the console does not map them again), and the domain error
// stays readable behind it; an error the API did not answer is a 500.
func TestStatusOfKeepsTheAPIsStatus(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		code   string
	}{
		{422, `{"error":{"code":"invalid","message":"x","fields":[{"field":"service","reason":"r"}]}}`, civicflow.EINVALID},
		{429, `{"error":{"code":"rate_limited","message":"x"}}`, civicflow.ETOOMANY},
		{400, `{"error":{"code":"bad_request","message":"x"}}`, "bad_request"},
		{502, `not json`, civicflow.EINTERNAL},
	} {
		err := decodeError(&reply{status: tc.status, body: []byte(tc.body)})
		require.Equal(t, tc.status, statusOf(err), tc.body)
		require.Equal(t, tc.code, civicflow.ErrorCode(err), tc.body)
		var de *civicflow.Error
		require.True(t, asDomain(err, &de))
	}
	require.Equal(t, http.StatusInternalServerError, statusOf(errors.New("local")))
	require.Equal(t, http.StatusInternalServerError, statusOf(nil))
}

// The API's 422 fields become the form's inline errors: the first message
// per form field, a field the form lacks under "form", and "form" when the
// API named none.
func TestInlineErrors(t *testing.T) {
	cat, err := loadCatalogue()
	require.NoError(t, err)
	p := &page{Lang: "zh-CN", cat: cat}
	de := &civicflow.Error{Code: civicflow.EINVALID, Fields: []civicflow.FieldError{
		{Field: "service", Reason: "a"}, {Field: "service", Reason: "b"}, {Field: "rehab.something", Reason: "c"}}}
	errs := p.inlineErrors(de, "sessions.field.", sessionFieldToForm)
	require.Equal(t, map[string]string{"service": cat.text("zh-CN", "sessions.field.service"),
		"form": cat.text("zh-CN", "sessions.field.form")}, errs)
	errs = p.inlineErrors(&civicflow.Error{Code: civicflow.EINVALID}, "action.field.", actionFieldToForm)
	require.Equal(t, map[string]string{"form": cat.text("zh-CN", "action.field.form")}, errs)
}
