package main

// The authorization matrix (issue 3): every endpoint and action, called by
// every kind of principal, against cases in and out of their jurisdiction.
// Every denied cell must answer 401 or 403 AND leave everything as it was:
// no timeline event, no workflow history, no paper, no user change.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"mime/multipart"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"civicflow"
	"civicflow/postgres"
)

// Keys of the e2e system's keyring, fresh for each run.
var (
	e2eDataKey   = postgres.NewKey()
	e2eLookupKey = postgres.NewKey()
)

// caseCount counts the cases of the person with this ID number, found by
// its keyed hash (the number itself is not stored).
func (e *e2eSystem) caseCount(t *testing.T, idNumber string) int {
	t.Helper()
	h, err := e.db.IDNumberHash(idNumber)
	require.NoError(t, err)
	var n int
	require.NoError(t, e.db.Pool().QueryRow(context.Background(),
		`SELECT count(*) FROM cases c JOIN persons p ON p.id = c.person_id WHERE p.id_number_hash = $1`, h).Scan(&n))
	return n
}

// loginWith logs in with a password and returns the bearer header and token.
func (e *e2eSystem) loginWith(t *testing.T, username, password string) (map[string]string, string) {
	t.Helper()
	r := e.postJSON(t, "/api/v1/auth/login", nil, map[string]string{"username": username, "password": password})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	return map[string]string{"Authorization": "Bearer " + r.str("token")}, r.str("token")
}

// ensureOfficial creates an account for the test unless it exists.
func (e *e2eSystem) ensureOfficial(t *testing.T, username string, role civicflow.Role, jurisdiction string) int64 {
	t.Helper()
	id, err := e.db.EnsureUser(context.Background(), postgres.NewUser{Username: username, DisplayName: username,
		Password: testPassword, Role: role, Jurisdiction: jurisdiction})
	require.NoError(t, err)
	return id
}

// fixture is a case the matrix acts on.
type fixture struct {
	submitted
	docID   int64
	allocID int64
}

// principal is who calls: headers for a fixture (applicants' codes depend
// on the case) and whether the credentials are valid bearer tokens.
type principal struct {
	name    string
	headers func(fx *fixture) map[string]string
	bearer  bool // a live official token: a refusal is 403, not 401
}

// matrixRow is one endpoint or action on one fixture.
type matrixRow struct {
	name      string
	fx        *fixture
	applicant bool // an applicant route (access code)
	allowed   []string
	// call makes the request; mutates marks rows whose allowed cells change
	// state on purpose (they run after the denied cells).
	call    func(t *testing.T, h map[string]string) response
	mutates bool
}

// matrixCampaign is the title of the matrix's campaign fixture.
const matrixCampaign = "矩阵年审"

// snapshot is everything a denied request must leave alone.
type snapshot struct {
	events, history, docs, cases          int
	caseRow, users, allocations, register string
}

func (e *e2eSystem) snapshot(t *testing.T, caseID int64) snapshot {
	t.Helper()
	ctx := context.Background()
	s := snapshot{events: e.eventCount(t, caseID), history: e.historyLength(t, caseID)}
	require.NoError(t, e.db.Pool().QueryRow(ctx, `SELECT
		(SELECT count(*) FROM documents WHERE case_id = $1),
		(SELECT count(*) FROM cases),
		(SELECT row_to_json(c)::text FROM cases c WHERE id = $1),
		(SELECT md5(string_agg(row_to_json(u)::text, ',' ORDER BY id)) FROM users u),
		(SELECT md5(coalesce(string_agg(row_to_json(a)::text, ',' ORDER BY id), '')) FROM bed_allocations a),
		(SELECT md5(coalesce((SELECT string_agg(row_to_json(r)::text, ',' ORDER BY id) FROM register_periods r), '') ||
			coalesce((SELECT string_agg(row_to_json(g)::text, ',' ORDER BY id) FROM register_changes g), '') ||
			coalesce((SELECT string_agg(row_to_json(d)::text, ',' ORDER BY district_code, effective_from) FROM support_standards d), '') ||
			-- Campaigns: how many there are, and everything of the fixture's
			-- (others, created by allowed cells, fill their tasks meanwhile).
			(SELECT count(*) FROM campaigns)::text ||
			coalesce((SELECT string_agg(row_to_json(m)::text, ',' ORDER BY id) FROM campaigns m WHERE title = $2), '') ||
			coalesce((SELECT string_agg(row_to_json(k)::text, ',' ORDER BY k.id) FROM campaign_tasks k
				JOIN campaigns m ON m.id = k.campaign_id WHERE m.title = $2), '') ||
			coalesce((SELECT string_agg(row_to_json(l)::text, ',' ORDER BY l.id) FROM campaign_ledger_items l
				JOIN campaigns m ON m.id = l.campaign_id WHERE m.title = $2), '')))`, caseID, matrixCampaign).
		Scan(&s.docs, &s.cases, &s.caseRow, &s.users, &s.allocations, &s.register))
	return s
}

func pngUpload(name string) (string, *bytes.Buffer) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", name)
	// Distinct content per call, so every allowed upload adds a paper.
	_, _ = fw.Write(append(pngBytes(), []byte(strconv.FormatInt(time.Now().UnixNano(), 10))...))
	_ = mw.Close()
	return mw.FormDataContentType(), &buf
}

func with(h map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func TestE2EAuthorizationMatrix(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	ts := e.login(t, "ts.xiaozhai")
	dr, st := e.login(t, "dr.yanta"), e.login(t, "st.yanta")

	// Fixtures: a case at intake (with an applicant's paper), one in
	// district review, one completed in 雁塔区社会福利院.
	var cIntake, cReview, cDone fixture
	cIntake.submitted = e.submit(t, application(newIDNumber(t), "610113001", "self_care"), "")
	up := e.upload(t, "/api/v1/applications/"+cIntake.Ref+"/papers", map[string]string{"X-Access-Code": cIntake.Code}, "a.png", pngBytes())
	require.Equal(t, http.StatusCreated, up.Status, string(up.Raw))
	cIntake.docID = int64(up.Body["id"].(float64))
	cReview.submitted = e.toReview(t, ts, "self_care")
	cDone.submitted = e.toReview(t, ts, "self_care")
	e.mustAct(t, dr, cDone.Ref, "approve", map[string]any{}, "placement", "awaiting_admission")
	done := e.waitStage(t, cDone.ID, civicflow.StageAwaitingAdmission, 30*time.Second)
	al, err := e.db.Allocation(ctx, done.AllocationID)
	require.NoError(t, err)
	require.Equal(t, "雁塔区社会福利院", al.Institution, "the district's own institution has a self-care bed")
	e.mustAct(t, st, cDone.Ref, "confirm_admission", map[string]any{}, "completed")
	cDone.allocID = done.AllocationID
	// The admitted resident is in the register (issue 18).
	var entryID int64
	require.NoError(t, e.db.Pool().QueryRow(ctx, `SELECT id FROM register_periods WHERE opened_by_case = $1`, cDone.ID).Scan(&entryID))
	entryP := fmt.Sprintf("/api/v1/register/%d", entryID)
	// A transfer at intake, of a person approved in dispersed support, and
	// a termination at intake, of the admitted resident.
	disp := e.toReview(t, ts, "self_care")
	e.mustAct(t, dr, disp.Ref, "approve", map[string]any{"support_form": "dispersed", "carer": carerBody()}, "completed")
	pd, err := e.db.PersonalData(ctx, disp.ID)
	require.NoError(t, err)
	r := e.postJSON(t, "/api/v1/transfer/applications", nil, map[string]any{
		"person": map[string]any{"id_number": pd.IDNumber, "name": "买买提·艾力"}, "applicant": map[string]any{"relation": "self"},
		"reason": "care_level_changed"})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Raw))
	var cTransfer, cTerm fixture
	tc, err := e.db.CaseByReference(ctx, r.str("reference"))
	require.NoError(t, err)
	cTransfer.submitted = submitted{Ref: tc.Reference, Code: r.str("access_code"), ID: tc.ID}
	r = e.postJSON(t, entryP+"/terminations", ts, map[string]any{"reason": "moved_away",
		"effective_on": time.Now().In(civicflow.ChinaZone()).Format(time.DateOnly), "raised_by": "township",
		"reporter": "小寨路街道", "statement": "户籍迁出"})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Raw))
	zc, err := e.db.CaseByReference(ctx, r.str("reference"))
	require.NoError(t, err)
	cTerm.submitted = submitted{Ref: zc.Reference, ID: zc.ID}
	e.waitStage(t, cTransfer.ID, civicflow.StageIntake, 30*time.Second)
	e.waitStage(t, cTerm.ID, civicflow.StageIntake, 30*time.Second)
	// A campaign over 雁塔区 (issue 18 item 5) and a task of 小寨路街道 in it.
	svCity := e.login(t, "sv.city")
	r = e.postJSON(t, "/api/v1/campaigns", svCity, map[string]any{"kind": "annual_review", "scope": "610113", "title": matrixCampaign,
		// Support confirmed today starts on the first of next month.
		"as_of": civicflow.SupportStart(time.Now()).Format(time.DateOnly)})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Raw))
	campaignP := fmt.Sprintf("/api/v1/campaigns/%d", num(r.Body["campaign"].(map[string]any)["id"]))
	var taskID int64
	require.Eventually(t, func() bool {
		tr := e.do(t, http.MethodGet, campaignP+"/tasks", ts, nil)
		tasks, _ := tr.Body["tasks"].([]any)
		if len(tasks) == 0 {
			return false
		}
		taskID = num(tasks[0].(map[string]any)["id"])
		return true
	}, 30*time.Second, 100*time.Millisecond, "the campaign's tasks are created")
	taskP := fmt.Sprintf("%s/tasks/%d", campaignP, taskID)
	// An education-grant case at intake (issue 15): the third process.
	var cEdu fixture
	cEdu.submitted = e.submitEducation(t, educationApplication(newStudentIDNumber(), "dibao", "undergraduate"), "")
	e.waitStage(t, cEdu.ID, civicflow.StageIntake, 10*time.Second)

	// Principals.
	e.ensureOfficial(t, "mx.sv.xincheng", civicflow.RoleSupervisor, "610102")
	e.ensureOfficial(t, "mx.expired", civicflow.RoleTownshipOfficial, "610113001")
	disabledID := e.ensureOfficial(t, "mx.disabled", civicflow.RoleTownshipOfficial, "610113001")
	targetID := e.ensureOfficial(t, "mx.target", civicflow.RoleTownshipOfficial, "610113002")
	expired, expiredToken := e.loginWith(t, "mx.expired", testPassword)
	sum := sha256.Sum256([]byte(expiredToken))
	_, err = e.db.Pool().Exec(ctx, `UPDATE sessions SET expires_at = now() - interval '1 second' WHERE token_hash = $1`, sum[:])
	require.NoError(t, err)
	revoked, _ := e.loginWith(t, "ts.xiaozhai", testPassword)
	require.Equal(t, http.StatusNoContent, e.do(t, http.MethodPost, "/api/v1/auth/logout", revoked, nil).Status)
	disabled, _ := e.loginWith(t, "mx.disabled", testPassword)
	// Disabled behind the API's back (sessions kept): the token must still fail.
	_, err = e.db.Pool().Exec(ctx, `UPDATE users SET disabled = true WHERE id = $1`, disabledID)
	require.NoError(t, err)

	static := func(h map[string]string) func(*fixture) map[string]string {
		return func(*fixture) map[string]string { return h }
	}
	official := func(name, username string) principal {
		return principal{name: name, headers: static(e.login(t, username)), bearer: true}
	}
	principals := []principal{
		{name: "anonymous", headers: static(map[string]string{})},
		{name: "expired-token", headers: static(expired)},
		{name: "revoked-token", headers: static(revoked)},
		{name: "disabled-user", headers: static(disabled)},
		{name: "garbage-token", headers: static(map[string]string{"Authorization": "Bearer ' OR '1'='1"})},
		{name: "applicant-own", headers: func(fx *fixture) map[string]string { return map[string]string{"X-Access-Code": fx.Code} }},
		{name: "applicant-other", headers: func(fx *fixture) map[string]string {
			other := cIntake.Code
			if fx.Ref == cIntake.Ref {
				other = cReview.Code
			}
			return map[string]string{"X-Access-Code": other}
		}},
		official("ts-own", "ts.xiaozhai"),
		official("ts-other-township", "ts.dayanta"),
		official("ts-other-district", "ts.xiyilu"),
		official("dr-own", "dr.yanta"),
		official("dr-other-district", "dr.xincheng"),
		official("st-own", "st.yanta"),
		official("st-other", "st.xincheng"),
		official("rehab-assessor", "ra.yanta"),
		official("sv-district", "sv.yanta"),
		official("sv-other-district", "mx.sv.xincheng"),
		official("sv-city", "sv.city"),
		official("admin", "admin"),
	}
	readers := []string{"ts-own", "dr-own", "sv-district", "sv-city"}
	everyOfficial := []string{}
	for _, p := range principals {
		if p.bearer {
			everyOfficial = append(everyOfficial, p.name)
		}
	}

	get := func(path string) func(*testing.T, map[string]string) response {
		return func(t *testing.T, h map[string]string) response { return e.do(t, http.MethodGet, path, h, nil) }
	}
	post := func(path string, body any) func(*testing.T, map[string]string) response {
		return func(t *testing.T, h map[string]string) response { return e.postJSON(t, path, h, body) }
	}
	upload := func(path string) func(*testing.T, map[string]string) response {
		return func(t *testing.T, h map[string]string) response {
			ct, body := pngUpload("m.png")
			return e.do(t, http.MethodPost, path, with(h, "Content-Type", ct), body)
		}
	}
	action := func(fx *fixture, act string, body any, allowed ...string) matrixRow {
		return matrixRow{name: "action " + act, fx: fx, allowed: allowed,
			call: post("/api/v1/cases/"+fx.Ref+"/actions/"+act, body)}
	}
	caseP := func(fx *fixture) string { return "/api/v1/cases/" + fx.Ref }
	appP := func(fx *fixture) string { return "/api/v1/applications/" + fx.Ref }
	user := func(suffix string) string { return fmt.Sprintf("/api/v1/admin/users/%d/%s", targetID, suffix) }

	rows := []matrixRow{
		{name: "case detail (intake)", fx: &cIntake, allowed: readers, call: get(caseP(&cIntake))},
		{name: "case detail (in an institution)", fx: &cDone, allowed: append(slices.Clone(readers), "st-own"), call: get(caseP(&cDone))},
		{name: "case list of a township", fx: &cIntake, allowed: append(slices.Clone(readers), "st-own", "st-other"),
			call: get("/api/v1/cases?township=610113001")},
		// Township officials of the district may filter by it: they still
		// see their own township only.
		{name: "case list of a district", fx: &cIntake, allowed: []string{"ts-own", "ts-other-township", "dr-own", "sv-district", "sv-city", "st-own", "st-other"},
			call: get("/api/v1/cases?district=610113")},
		{name: "reveal personal data", fx: &cIntake, allowed: []string{"ts-own", "dr-own"},
			call: post(caseP(&cIntake)+"/reveal", map[string]any{"fields": []string{"id_number", "phone"}, "reason": "核实身份"})},
		{name: "download a paper", fx: &cIntake, allowed: readers,
			call: get(fmt.Sprintf("%s/papers/%d", caseP(&cIntake), cIntake.docID))},
		{name: "official uploads a paper", fx: &cIntake, allowed: []string{"ts-own", "dr-own"}, call: upload(caseP(&cIntake) + "/papers"), mutates: true},
		// Actions. Each is sent where its allowed officials get 409 (wrong
		// stage) or 422 (missing reasons): authorised, yet nothing changes.
		action(&cReview, "accept", map[string]any{}, "ts-own"),
		action(&cReview, "request_supplements", map[string]any{"items": []string{"户口簿"}}, "ts-own"),
		action(&cReview, "reject", map[string]any{}, "ts-own", "dr-own"),
		action(&cReview, "record_investigation", visitBody("eligible"), "ts-own"),
		action(&cReview, "lodge_objection", map[string]any{"reasons": "异议", "objector": "村民"}, "ts-own"),
		action(&cIntake, "approve", map[string]any{}, "dr-own"),
		action(&cIntake, "return", map[string]any{"reasons": "补充"}, "dr-own"),
		action(&cDone, "confirm_admission", map[string]any{}, "st-own"),
		action(&cDone, "release_allocation", map[string]any{"reasons": "未报到", "release_reason": "no_show"}, "st-own", "dr-own"),
		{name: "unknown action", fx: &cReview, call: post(caseP(&cReview)+"/actions/launch", map[string]any{})},
		// The education grant: its own actions, sent where the allowed
		// officials get 409; and a process's action is nobody's on a case
		// of another process.
		{name: "case detail (education grant)", fx: &cEdu, allowed: readers, call: get(caseP(&cEdu))},
		action(&cEdu, "record_verification", verificationBody("dibao", "undergraduate", "eligible", true), "ts-own"),
		action(&cEdu, "approve", map[string]any{"tier_amount": 5000}, "dr-own"),
		action(&cEdu, "record_investigation", visitBody("eligible")),
		action(&cReview, "record_verification", verificationBody("dibao", "undergraduate", "eligible", true)),
		{name: "education tier rules", fx: &cEdu, allowed: []string{"sv-district", "sv-other-district", "sv-city", "admin"},
			call: get("/api/v1/admin/education/tiers?district=610113")},
		{name: "change a tier rule", fx: &cEdu, allowed: []string{"admin"}, // 4000 is no tier: 422, nothing changes
			call: func(t *testing.T, h map[string]string) response {
				return e.putJSON(t, "/api/v1/admin/education/tiers/610113/dibao/vocational", h, map[string]any{"amount": 4000})
			}},
		// The register (issue 18): reads within jurisdiction; a termination
		// raised with a date in the future is refused (422) once the caller
		// may raise it; a standard of 0 CNY likewise.
		{name: "register of a township", fx: &cDone, allowed: append(slices.Clone(readers), "st-own", "st-other"),
			call: get("/api/v1/register?township=610113001")},
		{name: "register of a district", fx: &cDone, allowed: []string{"ts-own", "ts-other-township", "dr-own", "sv-district", "sv-city", "st-own", "st-other"},
			call: get("/api/v1/register?district=610113")},
		{name: "register entry", fx: &cDone, allowed: append(slices.Clone(readers), "st-own"), call: get(entryP)},
		{name: "register reveal", fx: &cDone, allowed: []string{"ts-own", "dr-own"},
			call: post(entryP+"/reveal", map[string]any{"reason": "联系家属"})},
		{name: "raise a termination", fx: &cDone, allowed: []string{"ts-own", "st-own"},
			call: post(entryP+"/terminations", map[string]any{"reason": "died", "effective_on": "2099-01-01",
				"raised_by": "committee", "reporter": "居委会", "statement": "病故"})},
		{name: "register counts", fx: &cDone, allowed: []string{"dr-own", "dr-other-district", "sv-district", "sv-other-district", "sv-city"},
			call: get("/api/v1/supervision/register/counts")},
		{name: "support standards", fx: &cDone, allowed: []string{"admin"}, call: get("/api/v1/admin/support-standards")},
		{name: "set a support standard", fx: &cDone, allowed: []string{"admin"},
			call: func(t *testing.T, h map[string]string) response {
				return e.putJSON(t, "/api/v1/admin/support-standards/610113/2099-01-01", h, map[string]any{"monthly_amount": 0})
			}},
		// The register's processes: their actions, sent at intake where the
		// allowed officials get 409; a termination has no applicant.
		{name: "case detail (transfer)", fx: &cTransfer, allowed: readers, call: get(caseP(&cTransfer))},
		action(&cTransfer, "record_transfer_visit", map[string]any{"transfer_visit": map[string]any{"visited_on": "2026-12-01",
			"reason": "care_level_changed", "findings": "已失能", "care_level": "dependent"}}, "ts-own"),
		action(&cTransfer, "approve", map[string]any{}, "dr-own"),
		{name: "applicant view (transfer)", fx: &cTransfer, applicant: true, allowed: []string{"applicant-own"}, call: get(appP(&cTransfer))},
		{name: "case detail (termination)", fx: &cTerm, allowed: readers, call: get(caseP(&cTerm))},
		action(&cTerm, "approve", map[string]any{}, "dr-own"),
		action(&cTerm, "lodge_objection", map[string]any{"reasons": "异议", "objector": "家属"}, "ts-own"),
		action(&cTerm, "request_supplements", map[string]any{"items": []string{"迁出证明"}}),
		action(&cTerm, "record_transfer_visit", map[string]any{"transfer_visit": map[string]any{"visited_on": "2026-12-01",
			"reason": "care_level_changed", "findings": "x", "care_level": "dependent"}}),
		// Campaigns: the board is the supervisors' of the scope; tasks and
		// visits the township officials' (a visit dated in the future is
		// refused, 422, once the caller may record it).
		{name: "campaign board", fx: &cDone, allowed: []string{"sv-district", "sv-city"}, call: get(campaignP + "/progress")},
		{name: "campaign tasks", fx: &cDone, allowed: []string{"ts-own", "ts-other-township"}, call: get(campaignP + "/tasks")},
		{name: "campaign visit", fx: &cDone, allowed: []string{"ts-own"},
			call: post(taskP+"/visit", map[string]any{"visited_on": "2099-01-01", "outcome": "ok"})},
		{name: "create a campaign", fx: &cDone, allowed: []string{"sv-district", "sv-city"}, mutates: true,
			call: post("/api/v1/campaigns", map[string]any{"kind": "inspection", "scope": "610113", "title": "专项排查"})},
		{name: "close a campaign", fx: &cDone, allowed: []string{"sv-district", "sv-city"}, mutates: true,
			call: post(campaignP+"/close", map[string]any{"note": "结束"})},
		// Applicant routes.
		{name: "applicant view", fx: &cIntake, applicant: true, allowed: []string{"applicant-own"}, call: get(appP(&cIntake))},
		{name: "applicant supplements", fx: &cIntake, applicant: true, allowed: []string{"applicant-own"},
			call: post(appP(&cIntake)+"/supplements", map[string]any{"document_ids": []int64{cIntake.docID}})},
		{name: "applicant withdraws", fx: &cDone, applicant: true, allowed: []string{"applicant-own"},
			call: post(appP(&cDone)+"/withdraw", map[string]any{"reasons": "不再需要"})},
		{name: "applicant uploads", fx: &cIntake, applicant: true, allowed: []string{"applicant-own"},
			call: upload(appP(&cIntake) + "/papers"), mutates: true},
		// Everyone with a live token.
		{name: "me", fx: &cIntake, allowed: everyOfficial, call: get("/api/v1/me")},
		{name: "institutions", fx: &cIntake, allowed: everyOfficial, call: get("/api/v1/institutions")},
		// Administration.
		{name: "list users", fx: &cIntake, allowed: []string{"admin"}, call: get("/api/v1/admin/users")},
		{name: "create user", fx: &cIntake, allowed: []string{"admin"}, mutates: true,
			call: post("/api/v1/admin/users", map[string]any{"username": "mx.created", "display_name": "新人",
				"password": "a long enough password", "role": "township_official", "jurisdiction": "610113001"})},
		{name: "assign role", fx: &cIntake, allowed: []string{"admin"}, mutates: true,
			call: post(user("role"), map[string]any{"role": "district_reviewer", "jurisdiction": "610113"})},
		{name: "reset password", fx: &cIntake, allowed: []string{"admin"}, mutates: true,
			call: post(user("password"), map[string]any{"password": "another long password"})},
		{name: "disable user", fx: &cIntake, allowed: []string{"admin"}, mutates: true, call: post(user("disable"), map[string]any{})},
		{name: "enable user", fx: &cIntake, allowed: []string{"admin"}, mutates: true, call: post(user("enable"), map[string]any{})},
		// Bed operations (issue 18): sent so that the allowed get 404/409/422.
		{name: "institution records", fx: &cIntake, allowed: []string{"admin"}, call: get("/api/v1/admin/institutions")},
		{name: "create institution", fx: &cIntake, allowed: []string{"admin"},
			call: post("/api/v1/admin/institutions", map[string]any{"name": "雁塔区社会福利院", "district_code": "610113"})},
		{name: "update institution", fx: &cIntake, allowed: []string{"admin"},
			call: post("/api/v1/admin/institutions/999999", map[string]any{"designated": true})},
		{name: "institution beds", fx: &cIntake, allowed: []string{"admin"}, call: get("/api/v1/admin/institutions/999999/beds")},
		{name: "add bed", fx: &cIntake, allowed: []string{"admin"},
			call: post("/api/v1/admin/institutions/999999/beds", map[string]any{"label": "A-1", "care_level": "dependent"})},
		{name: "retire bed", fx: &cIntake, allowed: []string{"admin"},
			call: post("/api/v1/admin/institutions/999999/beds/1/retire", map[string]any{})},
		{name: "wait-list", fx: &cIntake, allowed: []string{"dr-own", "dr-other-district", "sv-district", "sv-other-district", "sv-city"},
			call: get("/api/v1/supervision/waitlist")},
		// Last: the allowed departure really releases the bed.
		{name: "record departure", fx: &cDone, allowed: []string{"st-own"}, mutates: true,
			call: post(fmt.Sprintf("/api/v1/allocations/%d/departure", cDone.allocID), map[string]any{"reasons": "回家"})},
	}

	denied, allowedCells := 0, 0
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			var later []principal
			for _, p := range principals {
				h := p.headers(row.fx)
				if slices.Contains(row.allowed, p.name) {
					later = append(later, p)
					continue
				}
				before := e.snapshot(t, row.fx.ID)
				r := row.call(t, h)
				want := http.StatusForbidden
				if row.applicant || !p.bearer {
					want = http.StatusUnauthorized
				}
				if row.name == "unknown action" && p.bearer {
					want = http.StatusNotFound // no such action for anyone; nothing to authorise
				}
				require.Equal(t, want, r.Status, "%s as %s: %s", row.name, p.name, r.Raw)
				require.Equal(t, before, e.snapshot(t, row.fx.ID), "%s as %s changed something", row.name, p.name)
				denied++
			}
			for _, p := range later {
				before := e.snapshot(t, row.fx.ID)
				r := row.call(t, p.headers(row.fx))
				require.NotContains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, r.Status,
					"%s as %s should be allowed: %s", row.name, p.name, r.Raw)
				require.Less(t, r.Status, 500, "%s as %s: %s", row.name, p.name, r.Raw)
				if !row.mutates {
					require.Equal(t, before, e.snapshot(t, row.fx.ID), "%s as %s changed something", row.name, p.name)
				}
				allowedCells++
			}
		})
	}
	t.Logf("authorization matrix: %d rows x %d principals: %d denied cells, %d allowed cells", len(rows), len(principals), denied, allowedCells)
	e.waitStage(t, cDone.ID, civicflow.StageDeparted, 10*time.Second)
}
