package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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
	"civicflow/wire"
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
	// calendarGaps answers GET /api/v1/supervision/calendar-gaps;
	// calendarGapsDown makes it answer 503.
	calendarGaps     []civicflow.CalendarGap
	calendarGapsDown bool
	// bodies holds the last JSON body sent to each method and path.
	bodies map[string][]byte
	// registerQueries are the queries GET /api/v1/register was asked
	// (register_test.go).
	registerQueries []url.Values
}

// sentAs decodes the last JSON body sent to "METHOD /path" into a wire
// type, strictly as the API binds it: a field the API does not know fails
// the test.
func sentAs[T any](t *testing.T, f *fakeAPI, route string) T {
	t.Helper()
	f.mu.Lock()
	raw := f.bodies[route]
	f.mu.Unlock()
	require.NotNil(t, raw, "nothing was sent to %s", route)
	var v T
	require.NoError(t, strictJSON(raw, &v), "%s", route)
	return v
}

// strictJSON decodes b into dst, refusing fields dst lacks (as the API does).
func strictJSON(b []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(dst)
}

// bind decodes the request's body into dst as the API would, or answers
// the API's 422 and returns false.
func bind(w http.ResponseWriter, raw []byte, dst any) bool {
	if err := strictJSON(raw, dst); err != nil {
		apiError(w, 422, civicflow.EINVALID, civicflow.FieldError{Field: "body", Reason: err.Error()})
		return false
	}
	return true
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
	writeJSON(w, status, wire.ErrorOf(&civicflow.Error{Code: code, Message: "x", Fields: fields}))
}

// dupIDNumber already has an open rehab case in the fake.
const dupIDNumber = "610113198805060025"

var fakeUsers = map[string]civicflow.User{
	"tok-ts": {ID: 1, Username: "ts.xiaozhai", DisplayName: "王芳", Role: civicflow.RoleTownshipOfficial, Jurisdiction: "610113001"},
	"tok-sv": {ID: 2, Username: "sv.city", DisplayName: "孙红", Role: civicflow.RoleSupervisor, Jurisdiction: civicflow.CityCode},
	"tok-ad": {ID: 3, Username: "admin", DisplayName: "管理员", Role: civicflow.RoleAdministrator, Jurisdiction: civicflow.CityCode},
	"tok-dr": {ID: 5, Username: "dr.yanta", DisplayName: "陈静", Role: civicflow.RoleDistrictReviewer, Jurisdiction: "610113"},
	"tok-ra": {ID: 4, Username: "ra.yanta", DisplayName: "吴刚", Role: civicflow.RoleRehabAssessor, Jurisdiction: "610113", RehabCentreID: 5},
	"tok-st": {ID: 6, Username: "st.yanta", DisplayName: "赵敏", Role: civicflow.RoleInstitutionStaff, Jurisdiction: "610113", InstitutionID: 1},
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var raw []byte
	if r.Body != nil {
		raw, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(raw))
	}
	f.mu.Lock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	f.keys = append(f.keys, r.Header.Get("Idempotency-Key"))
	if f.bodies == nil {
		f.bodies = map[string][]byte{}
	}
	if len(raw) > 0 {
		f.bodies[r.Method+" "+r.URL.Path] = raw
	}
	f.mu.Unlock()
	user, authed := fakeUsers[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	due := func(d time.Duration) *time.Time { t := f.now.Add(d); return &t }
	detail := func(ref string, stage civicflow.Stage, dueAt *time.Time) wire.CaseDetail {
		allowed := []civicflow.Action{}
		if user.Role == civicflow.RoleTownshipOfficial {
			allowed = civicflow.AllowedActions(user.Actor(), civicflow.Scope{CaseID: 1, Stage: stage, DistrictCode: "610113", TownshipCode: "610113001"})
		}
		return wire.CaseDetail{Case: &civicflow.Case{ID: 1, Reference: ref, Type: civicflow.CaseTypeCentralisedCare, Stage: stage,
			PersonName: "张桂兰", IDNumberMasked: "6101**********1015", DistrictCode: "610113", TownshipCode: "610113001",
			StageEnteredAt: f.now.Add(-72 * time.Hour), StageDueAt: dueAt},
			AllowedActions: allowed, Timeline: []civicflow.Event{{Action: "submitted", ToStage: civicflow.StageIntake, Actor: civicflow.SystemActor, At: f.now}},
			Papers: []civicflow.Document{{ID: 7, Filename: "户口簿.pdf", ContentType: "application/pdf"}}, Checks: []civicflow.CheckResult{}}
	}
	// Community rehab cases held by centre 5: one in assessment, one in planning.
	rehabDetail := func(ref string, stage civicflow.Stage) wire.CaseDetail {
		sc := civicflow.Scope{CaseID: 10, Stage: stage, DistrictCode: "610113", TownshipCode: "610113001", RehabCentreID: 5}
		allowed := civicflow.AllowedActions(user.Actor(), sc)
		return wire.CaseDetail{Case: &civicflow.Case{ID: 10, Reference: ref, Type: civicflow.CaseTypeCommunityRehab, Stage: stage,
			PersonName: "刘洋", IDNumberMasked: "6101**********2013", DistrictCode: "610113", TownshipCode: "610113001", RehabCentreID: 5,
			StageEnteredAt: f.now.Add(-24 * time.Hour)},
			AllowedActions: allowed, Timeline: []civicflow.Event{}, Papers: []civicflow.Document{}, Checks: []civicflow.CheckResult{},
			Rehab: &civicflow.RehabSummary{CentreID: 5, Centre: "雁塔区精神障碍社区康复服务中心", ReviewsDone: 0}}
	}
	p := r.URL.Path
	switch {
	case registerRoute(p):
		f.serveRegister(w, r, raw, user, authed) // register_test.go
	case educationRoute(p):
		f.serveEducation(w, r, raw, user, authed) // education_test.go
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
		var req wire.SessionRequest
		if !bind(w, raw, &req) {
			return
		}
		var bad []civicflow.FieldError
		if req.Service != "social_skills" {
			bad = append(bad, civicflow.FieldError{Field: "service", Reason: "is not in the case's plan"})
		}
		if req.Sessions < 1 || req.Sessions > 50 {
			bad = append(bad, civicflow.FieldError{Field: "sessions", Reason: "must be 1 to 50"})
		}
		if req.On == "" || req.On > f.now.In(civicflow.ChinaZone()).Format(time.DateOnly) {
			bad = append(bad, civicflow.FieldError{Field: "on", Reason: "must not be in the future"})
		}
		if len(bad) > 0 {
			apiError(w, 422, civicflow.EINVALID, bad...)
			return
		}
		writeJSON(w, 202, wire.SessionRecorded{Recorded: true, Reference: strings.Split(p, "/")[4]})
	case strings.HasPrefix(p, "/api/v1/cases/RH-") && strings.HasSuffix(p, "/rehab"):
		if user.Role != civicflow.RoleRehabAssessor && user.Role != civicflow.RoleDistrictReviewer {
			apiError(w, 403, civicflow.EFORBIDDEN)
			return
		}
		record := func(id int64, kind string, in wire.RehabInput) wire.ClinicalRecord {
			content, err := json.Marshal(wire.ClinicalContent{Case: "RH-610113-000011", Input: in, Kind: kind})
			if err != nil {
				panic(err)
			}
			return wire.ClinicalRecord{ID: id, Kind: kind, CentreID: 5, Actor: user.Actor(), Content: content, RecordedAt: f.now}
		}
		writeJSON(w, 200, wire.ClinicalView{Reference: "RH-610113-000011", Stage: civicflow.StagePlanning,
			Summary:     &civicflow.RehabSummary{CentreID: 5, Centre: "雁塔区精神障碍社区康复服务中心"},
			Application: &civicflow.RehabApplication{AppliedBy: civicflow.ApplicantGuardian, GuardianName: "刘建国", GuardianConsent: true},
			Records: []wire.ClinicalRecord{
				record(1, "registration", wire.RehabInput{FileNumber: "YT-2026-001", Diagnosis: "F20.0 偏执型精神分裂症"}),
				record(2, "assessment", wire.RehabInput{Suitable: new(true), RiskLevel: new(1),
					Services: []string{"medication_training", "social_skills"}, Physician: "陈医生", Findings: "病情稳定"}),
				record(3, "plan", wire.RehabInput{AgreedBy: "guardian", AgreedByName: "刘建国",
					Plan: []wire.PlanItemInput{{Service: "social_skills", Frequency: "每周2次", StartDate: "2026-12-01"}}})}})
	case strings.HasPrefix(p, "/api/v1/cases/RH-") && strings.Contains(p, "/actions/"):
		var req wire.ActionRequest
		if !bind(w, raw, &req) {
			return
		}
		var bad []civicflow.FieldError
		switch {
		case req.Rehab == nil && !strings.HasSuffix(p, "/approve"):
			bad = append(bad, civicflow.FieldError{Field: "rehab", Reason: "is required"})
		case strings.HasSuffix(p, "/assess") && req.Rehab.Physician == "":
			bad = append(bad, civicflow.FieldError{Field: "rehab.physician", Reason: "is required"})
		case strings.HasSuffix(p, "/agree_plan") && len(req.Rehab.Plan) == 0:
			bad = append(bad, civicflow.FieldError{Field: "rehab.plan", Reason: "choose at least one service"})
		}
		if len(bad) > 0 {
			apiError(w, 422, civicflow.EINVALID, bad...)
			return
		}
		writeJSON(w, 200, rehabDetail(strings.Split(p, "/")[4], civicflow.StageAssessment))
	case p == "/api/v1/rehab/centres":
		writeJSON(w, 200, wire.RehabCentres{Centres: []civicflow.RehabCentre{{ID: 5, Name: "雁塔区精神障碍社区康复服务中心", DistrictCode: "610113"},
			{ID: 6, Name: "新城区精神障碍社区康复服务中心", DistrictCode: "610102"}}})
	case strings.HasPrefix(p, "/api/v1/supervision/cases/") && strings.HasSuffix(p, "/assignees"):
		writeJSON(w, 200, map[string]any{"reassignable": true, "stage": "investigation", "assignees": []map[string]any{
			{"id": 1, "username": "ts.xiaozhai", "display_name": "王芳", "role": "township_official", "current": true},
			{"id": 9, "username": "ts.second", "display_name": "周丽", "role": "township_official", "current": false}}})
	case p == "/api/v1/jurisdictions":
		writeJSON(w, 200, wire.Jurisdictions{Jurisdictions: []civicflow.Jurisdiction{
			{Code: "610113", Name: "雁塔区", Level: civicflow.LevelDistrict, ParentCode: "610100"},
			{Code: "610113001", Name: "小寨路街道", Level: civicflow.LevelTownship, ParentCode: "610113"}}})
	case p == "/api/v1/applications" && r.Method == http.MethodPost:
		var req wire.ApplicationRequest
		if !bind(w, raw, &req) {
			return
		}
		if req.Person.IDNumber != "610113194503121015" {
			apiError(w, 422, civicflow.EINVALID, civicflow.FieldError{Field: "person.id_number", Reason: "the check character is wrong"},
				civicflow.FieldError{Field: "person.address", Reason: "is required"})
			return
		}
		writeJSON(w, 201, wire.Submitted{CaseID: 1, Reference: "TK-610113-000001", AccessCode: "ABCD-2345", Stage: civicflow.StageSubmitted,
			TrackURL: "/api/v1/applications/TK-610113-000001"})
	case p == "/api/v1/rehab/applications" && r.Method == http.MethodPost:
		// As the API: a guardian, with consent on a date, for a person
		// without capacity; one open case per person.
		var req wire.RehabApplicationRequest
		if !bind(w, raw, &req) {
			return
		}
		if req.Person.IDNumber == dupIDNumber {
			writeJSON(w, 409, wire.ErrorOf(&civicflow.Error{Code: civicflow.ECONFLICT, Reference: "RH-610113-****20",
				Message: "an open application for this person already exists: RH-610113-****20"}))
			return
		}
		var bad []civicflow.FieldError
		if req.Person.Name == "" {
			bad = append(bad, civicflow.FieldError{Field: "person.name", Reason: "is required"})
		}
		if req.Person.WithoutCapacity {
			if req.Applicant.AppliedBy != "guardian" {
				bad = append(bad, civicflow.FieldError{Field: "applicant.applied_by", Reason: "for a person without full capacity the guardian applies"})
			}
			if !req.Applicant.GuardianConsent {
				bad = append(bad, civicflow.FieldError{Field: "applicant.guardian_consent", Reason: "the guardian's consent must be recorded"})
			}
			if req.Applicant.ConsentOn == "" {
				bad = append(bad, civicflow.FieldError{Field: "applicant.consent_on", Reason: "give the date the guardian consented"})
			}
		}
		if len(bad) > 0 {
			apiError(w, 422, civicflow.EINVALID, bad...)
			return
		}
		writeJSON(w, 201, wire.Submitted{CaseID: 20, Reference: "RH-610113-000020", AccessCode: "EFGH-6789", Stage: civicflow.StageSubmitted,
			TrackURL: "/api/v1/applications/RH-610113-000020"})
	case strings.HasPrefix(p, "/api/v1/applications/"):
		if r.Header.Get("X-Access-Code") != "ABCD-2345" {
			apiError(w, 401, civicflow.EUNAUTHORIZED)
			return
		}
		switch {
		case strings.HasSuffix(p, "/supplements"):
			var req wire.SupplementsRequest
			if !bind(w, raw, &req) {
				return
			}
		case strings.HasSuffix(p, "/withdraw"):
			var req wire.WithdrawRequest
			if !bind(w, raw, &req) {
				return
			}
		}
		writeJSON(w, 200, wire.ApplicantCase{Reference: "TK-610113-000001", Type: civicflow.CaseTypeCentralisedCare, Stage: civicflow.StageAwaitingSupplements,
			StageSince: f.now.Add(-time.Hour), WaitingFor: []string{"户口簿复印件"}, PersonName: "张桂兰",
			IDNumberMasked: "6101**********1015", CanWithdraw: true, Papers: []civicflow.Document{},
			History: []wire.HistoryEntry{{At: f.now, Action: string(civicflow.ActionRequestSupplements),
				Stage: civicflow.StageAwaitingSupplements, By: wire.ByTownship}}})
	case p == "/api/v1/auth/login":
		var req wire.LoginRequest
		if !bind(w, raw, &req) {
			return
		}
		for tok, u := range fakeUsers {
			if u.Username == req.Username && req.Password == "pw" {
				writeJSON(w, 200, wire.Session{Token: tok, ExpiresAt: f.now.Add(time.Hour), User: &u})
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
		row := func(id int64, stage civicflow.Stage) wire.CaseListItem {
			return wire.CaseListItem{ID: id, Reference: fmt.Sprintf("TK-610113-%06d", id), Stage: stage, PersonName: "张桂兰",
				IDNumberMasked: "6101**********1015", DistrictCode: "610113", TownshipCode: "610113001",
				StageEnteredAt: f.now.Add(-72 * time.Hour), CreatedAt: f.now.Add(-96 * time.Hour)}
		}
		edu := row(31, civicflow.StageVerification)
		edu.Reference = "JY-610113-000031"
		writeJSON(w, 200, wire.CaseList{Cases: []wire.CaseListItem{row(1, civicflow.StageIntake), row(2, civicflow.StageInvestigation),
			row(3, civicflow.StagePublicNotice), edu}})
	case p == "/api/v1/cases/TK-610113-000001":
		writeJSON(w, 200, detail("TK-610113-000001", civicflow.StageIntake, due(48*time.Hour)))
	case p == "/api/v1/cases/TK-610113-000002":
		writeJSON(w, 200, detail("TK-610113-000002", civicflow.StageInvestigation, due(-50*time.Hour)))
	case p == "/api/v1/cases/TK-610113-000003":
		writeJSON(w, 200, detail("TK-610113-000003", civicflow.StagePublicNotice, nil))
	case strings.HasPrefix(p, "/api/v1/cases/") && strings.Contains(p, "/actions/"):
		var req wire.ActionRequest
		if !bind(w, raw, &req) {
			return
		}
		if f.actionStatus == http.StatusConflict {
			apiError(w, 409, civicflow.ECONFLICT)
			return
		}
		writeJSON(w, 200, detail(strings.Split(p, "/")[4], civicflow.StageAwaitingSupplements, nil))
	case p == "/api/v1/supervision/overdue":
		writeJSON(w, 200, map[string]any{"cases": []map[string]any{{"id": 2, "reference": "TK-610113-000002", "stage": "investigation",
			"district_code": "610113", "township_code": "610113001", "stage_due_at": f.now.Add(-50 * time.Hour), "days_late": 2.1}}})
	case p == "/api/v1/supervision/overdue/counts":
		writeJSON(w, 200, map[string]any{"counts": []map[string]any{{"district_code": "610113", "stage": "investigation", "count": 1}}})
	case p == "/api/v1/supervision/calendar-gaps":
		f.mu.Lock()
		gaps, down := append([]civicflow.CalendarGap{}, f.calendarGaps...), f.calendarGapsDown
		f.mu.Unlock()
		if down {
			apiError(w, 503, civicflow.EUNAVAILABLE)
			return
		}
		writeJSON(w, 200, wire.CalendarGaps{Gaps: gaps, AsOf: f.now})
	case p == "/api/v1/supervision/stuck":
		writeJSON(w, 200, map[string]any{"stuck": []map[string]any{{"kind": "activity_retrying", "reference": "TK-610113-000001", "stage": "intake"}}})
	case p == "/api/v1/supervision/stage-durations":
		writeJSON(w, 200, map[string]any{"stages": []map[string]any{{"stage": "intake", "visits": 3, "median_days": 1.5}}})
	case strings.HasPrefix(p, "/api/v1/admin/calendar/"):
		var req wire.CalendarDayRequest
		if r.Method == http.MethodPut && !bind(w, raw, &req) {
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case strings.HasPrefix(p, "/api/v1/supervision/cases/"):
		ref := strings.Split(p, "/")[5]
		switch {
		case strings.HasSuffix(p, "/reassign"):
			var req wire.ReassignRequest
			if !bind(w, raw, &req) {
				return
			}
		case strings.HasSuffix(p, "/notes"):
			var req wire.SupervisorNoteRequest
			if !bind(w, raw, &req) {
				return
			}
			if req.Note == "" {
				apiError(w, 422, civicflow.EINVALID, civicflow.FieldError{Field: "note", Reason: "is required"})
				return
			}
		case strings.HasSuffix(p, "/remind"):
			var req wire.RemindRequest
			if !bind(w, raw, &req) {
				return
			}
		}
		writeJSON(w, 200, detail(ref, civicflow.StageInvestigation, nil))
	case p == "/api/v1/admin/users" && r.Method == http.MethodPost:
		var req wire.CreateUserRequest
		if !bind(w, raw, &req) {
			return
		}
		apiError(w, 422, civicflow.EINVALID, civicflow.FieldError{Field: "password", Reason: "must be at least 12 characters"})
	case p == "/api/v1/admin/users":
		writeJSON(w, 200, map[string]any{"users": []any{fakeUsers["tok-ts"], fakeUsers["tok-ad"]}})
	case p == "/api/v1/institutions":
		writeJSON(w, 200, wire.Institutions{Institutions: []civicflow.Institution{{ID: 1, Name: "雁塔区社会福利院"}}})
	case p == "/api/v1/admin/deadlines":
		writeJSON(w, 200, wire.DeadlineRules{Rules: []civicflow.DeadlineRule{{CaseType: civicflow.CaseTypeCentralisedCare, Stage: "intake", Jurisdiction: "610100", Days: 5, Unit: "working_days"}}})
	case p == "/api/v1/admin/calendar":
		writeJSON(w, 200, map[string]any{"year": 2026, "days": []civicflow.CalendarDay{{Date: "2026-10-01", Kind: "holiday", Name: "国庆节"}}, "source": "official"})
	case strings.HasPrefix(p, "/api/v1/admin/support-standards"):
		serveStandards(w, r, raw) // standards_test.go
	case opsRoute(p):
		f.serveOps(w, r, raw, user) // campaign_test.go
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
	goKey := regexp.MustCompile(`"((?:err|field|title|flash|apply|track|login|paper|supplements|reveal|supervise|admin|board|due|disability|by|form|inbox|case|rehab|education|register)\.[a-z_.]+)"`)
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
	// The API's names of the forms' fields ("education.school") are not keys.
	apiNames := map[string]bool{}
	for _, pr := range applyProcesses() {
		for _, f := range pr.fields() {
			for _, a := range f.API {
				apiNames[a] = true
			}
		}
	}
	gofiles, err := filepath.Glob("*.go")
	require.NoError(t, err)
	for _, f := range gofiles {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range goKey.FindAllStringSubmatch(string(b), -1) {
			if !strings.HasSuffix(m[1], ".") && !apiNames[m[1]] {
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
	// Every text of every process's application form.
	for _, pr := range applyProcesses() {
		used["apply.choose."+pr.Key], used[pr.Title], used[pr.Lead] = true, true, true
		for _, s := range pr.Sections {
			used[s.Legend] = true
			for _, f := range s.Fields {
				used[pr.errKey(f.Name)] = true // sub-fields of a group share its error
			}
		}
		for _, f := range pr.fields() {
			for _, k := range append([]string{f.Label, f.Hint, f.Blank, f.Err}, optionLabels(f)...) {
				if k != "" {
					used[k] = true
				}
			}
		}
	}
	for _, f := range actionFormFields {
		used["action.field."+f] = true
	}
	for a := range consoleActions {
		for _, t := range civicflow.AllCaseTypes {
			d := actionData{Case: &wire.CaseDetail{Case: &civicflow.Case{Type: t}}, Action: a}
			for _, r := range civicflow.OfficialRoles {
				if d.Role = r; d.AsksReasons() {
					used["action.reasons_hint."+string(a)] = true
				}
			}
		}
	}
	// The education grant's names (templates: Family, School, the award's state).
	for _, s := range civicflow.FamilyStatuses {
		used["education.family."+string(s)] = true
	}
	for _, k := range civicflow.SchoolKinds {
		used["education.school."+string(k)] = true
	}
	used["education.state."+string(civicflow.AwardAwaitingPayment)] = true
	// The register's names (register.go: Form, EndReason, TransferReason,
	// RaisedBy; the kinds of change).
	for _, f := range civicflow.SupportForms {
		used["register.form."+string(f)] = true
	}
	for _, r := range []civicflow.RegisterEndReason{civicflow.EndTransferred, civicflow.EndDied, civicflow.EndRegainedIncome,
		civicflow.EndSupporterFound, civicflow.EndMovedAway, civicflow.EndDeparted} {
		used["register.end."+string(r)] = true
	}
	for _, r := range []civicflow.TransferReason{civicflow.TransferCarerUnable, civicflow.TransferCareLevelChanged, civicflow.TransferPersonsOwnRequest} {
		used["register.transfer_reason."+string(r)] = true
	}
	for _, r := range []civicflow.RaisedBy{civicflow.RaisedByPerson, civicflow.RaisedByRelative, civicflow.RaisedByCommittee,
		civicflow.RaisedByInstitution, civicflow.RaisedByTownship} {
		used["register.raised_by."+string(r)] = true
	}
	for _, k := range []string{civicflow.RegisterEntered, civicflow.RegisterEnded} {
		used["register.change."+k] = true
	}
	for _, f := range terminationFields {
		used["register.field."+f] = true
	}
	used["flash.termination"] = true
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

func optionLabels(f applyField) []string {
	var out []string
	for _, o := range f.Options {
		out = append(out, o.Label)
	}
	return out
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
			check("/console/apply/rehab", tr("apply.rehab.guardian_consent"))
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
			check("/console/apply/transfer", tr("apply.transfer.person_hint"))
			check("/console/register", tr("register.search"))
			check("/console/register/41", tr("register.term_heading"))
			check("/console/cases/ZJ-610113-000050", `id="transfer-visit"`)
			check("/console/cases/ZJ-610113-000050/act/record_transfer_visit", tr("action.transfer.reason_hint"))
			check("/console/cases/ZZ-610113-000060", tr("case.register.termination_heading"))
			h.login("ra.yanta")
			check("/console/cases/RH-610113-000013/sessions", tr("sessions.heading"))
			h.login("dr.yanta")
			check("/console/cases/TK-610113-000045/act/approve", tr("action.carer_heading"))
			h.login("sv.city")
			check("/console/board", "<svg")
			check("/console/register", tr("register.counts_heading"))
			h.login("admin")
			check("/console/admin/users", "ts.xiaozhai")
			check("/console/admin/deadlines", tr("deadlines.heading"))
			check("/console/admin/standards", tr("standards.heading"))
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
	status, body, resp := h.post("/console/apply", form)
	require.Equal(t, http.StatusSeeOther, status, body)
	require.Equal(t, "/console/apply/done", resp.Header.Get("Location"), "post, redirect, get")
	status, body, _ = h.get("/console/apply/done")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `<dd id="reference">TK-610113-000001</dd>`)
	require.Contains(t, body, `<dd id="access-code">ABCD-2345</dd>`)
	require.Equal(t, "console-n1", h.api.keys[len(h.api.keys)-1], "the form's nonce is the Idempotency-Key")
	req := sentAs[wire.ApplicationRequest](t, h.api, "POST /api/v1/applications")
	require.Equal(t, wire.PersonInput{PersonIdentity: wire.PersonIdentity{Name: "张桂兰", IDNumber: "610113194503121015",
		HukouTownshipCode: "610113001"}, SelfCare: "dependent"}, req.Person)
	require.Equal(t, wire.ApplicantInput{Relation: "relative", Name: "张明"}, req.Applicant)
	// The access code is shown once: a reload goes to the case, where the
	// applicant may go straight on.
	status, _, resp = h.get("/console/apply/done")
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/console/my", resp.Header.Get("Location"))
	status, body, _ = h.get("/console/my")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "待补正材料")
	require.NotContains(t, body, "ABCD-2345")
}

// The applicant's case page hands papers in and withdraws through the
// API's typed requests.
func TestApplicantHandsInAndWithdraws(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	status, _, _ := h.post("/console/track", url.Values{"csrf": {h.csrf("/console/track")}, "reference": {"TK-610113-000001"}, "access_code": {"ABCD-2345"}})
	require.Equal(t, http.StatusSeeOther, status)
	status, _, resp := h.post("/console/my/supplements", url.Values{"csrf": {h.csrf("/console/my")}, "document": {"7", "8"}, "note": {" 户口簿 "}})
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/console/my?done=supplements", resp.Header.Get("Location"))
	require.Equal(t, wire.SupplementsRequest{DocumentIDs: []int64{7, 8}, Note: "户口簿"},
		sentAs[wire.SupplementsRequest](t, h.api, "POST /api/v1/applications/TK-610113-000001/supplements"))
	status, _, _ = h.post("/console/my/withdraw", url.Values{"csrf": {h.csrf("/console/my")}, "confirm": {"yes"}, "reasons": {"已由女儿照料"}})
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, wire.WithdrawRequest{Reasons: "已由女儿照料"},
		sentAs[wire.WithdrawRequest](t, h.api, "POST /api/v1/applications/TK-610113-000001/withdraw"))
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
	require.Equal(t, wire.ActionRequest{Items: []string{"户口簿复印件", "收入证明"}},
		sentAs[wire.ActionRequest](t, h.api, "POST /api/v1/cases/TK-610113-000001/actions/request_supplements"))
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
	require.Equal(t, wire.RemindRequest{Note: "请尽快办理"}, sentAs[wire.RemindRequest](t, h.api, "POST /api/v1/supervision/cases/TK-610113-000002/remind"))
	status, body, _ := h.post(casePath+"/note", url.Values{"csrf": {h.csrf(casePath)}, "note": {""}})
	require.Equal(t, http.StatusUnprocessableEntity, status)
	require.Contains(t, body, "督办意见不能为空")

	h.login("admin")
	status, _, resp = h.post("/console/admin/calendar", url.Values{"csrf": {h.csrf("/console/admin/calendar")},
		"date": {"2026-12-31"}, "kind": {"holiday"}, "name": {"测试"}})
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/console/admin/calendar?done=saved&year=2026", resp.Header.Get("Location"))
	require.Equal(t, 1, h.api.called("PUT /api/v1/admin/calendar/2026-12-31"))
	require.Equal(t, wire.CalendarDayRequest{Kind: "holiday", Name: "测试"}, sentAs[wire.CalendarDayRequest](t, h.api, "PUT /api/v1/admin/calendar/2026-12-31"))
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

// TestBoardWarnsOfCalendarGaps: a year open deadlines run into without a
// loaded calendar is a warning above the supervisors' board, in the
// console's language; with none there is no warning.
func TestBoardWarnsOfCalendarGaps(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login("sv.city")
	_, body, _ := h.get("/console/board")
	require.NotContains(t, body, `id="calendar-gaps"`)
	h.api.mu.Lock()
	h.api.calendarGaps = []civicflow.CalendarGap{{Year: 2027, OpenDeadlines: 12}, {Year: 2028, OpenDeadlines: 1}}
	h.api.mu.Unlock()
	status, body, _ := h.get("/console/board")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `id="calendar-gaps"`)
	require.Contains(t, body, "2027 年的法定节假日安排尚未录入：12 个未结案件")
	require.Contains(t, body, "2028 年的法定节假日安排尚未录入：1 个未结案件")
	require.Equal(t, 2, h.api.called("GET /api/v1/supervision/calendar-gaps"), "asked once per board")

	// Without the list the board still stands, with no warning.
	h.api.mu.Lock()
	h.api.calendarGapsDown = true
	h.api.mu.Unlock()
	status, body, _ = h.get("/console/board")
	require.Equal(t, http.StatusOK, status, body)
	require.NotContains(t, body, `id="calendar-gaps"`)
	require.Contains(t, body, `id="matrix"`)
}
