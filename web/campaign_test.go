package web

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"civicflow"
	"civicflow/wire"
)

// opsRoute says whether the fake's serveOps answers path: campaigns, the
// wait-list, institutions and beds.
func opsRoute(p string) bool {
	return strings.HasPrefix(p, "/api/v1/campaigns") || p == "/api/v1/supervision/waitlist" ||
		strings.HasPrefix(p, "/api/v1/admin/institutions") || p == "/api/v1/cases/"+releaseRef
}

// The fake's campaign 7 (雁塔区, open) has tasks 11-13 in 小寨路街道 and
// one open ledger item; campaign 8 is closed.
func fakeCampaign(f *fakeAPI, id int64) civicflow.Campaign {
	n := 3
	created := f.now.Add(-time.Hour)
	cp := civicflow.Campaign{ID: id, Kind: civicflow.CampaignAnnualReview, Scope: "610113", ScopeName: "雁塔区",
		Title: "2026 年度年审（雁塔区）", AsOf: f.now, CreatedBy: "孙红", CreatedAt: created, TasksCreatedAt: &created, TaskCount: &n}
	if id == 8 {
		cp.ClosedAt, cp.ClosedBy = &created, "孙红"
	}
	return cp
}

func fakeTasks(f *fakeAPI) []civicflow.CampaignTask {
	var ts []civicflow.CampaignTask
	for id := int64(11); id <= 13; id++ {
		ts = append(ts, civicflow.CampaignTask{ID: id, CampaignID: 7, PersonName: "在**", IDNumberMasked: "6101**********00" + strconv.FormatInt(id, 10),
			Form: civicflow.SupportDispersed, CareLevel: civicflow.CareSelf, DistrictCode: "610113", TownshipCode: "610113001", State: civicflow.TaskPending})
	}
	return ts
}

// serveOps answers the fake's campaign, wait-list and bed routes as the
// API does: the request bound strictly, the domain's own checks for a
// visit, the roles the API allows.
func (f *fakeAPI) serveOps(w http.ResponseWriter, r *http.Request, raw []byte, user civicflow.User) {
	p, q := r.URL.Path, r.URL.Query()
	seg := strings.Split(strings.TrimPrefix(p, "/api/v1/"), "/")
	switch {
	case p == "/api/v1/campaigns" && r.Method == http.MethodPost:
		var req wire.CreateCampaignRequest
		if !bind(w, raw, &req) {
			return
		}
		if user.Role != civicflow.RoleSupervisor {
			apiError(w, 403, civicflow.EFORBIDDEN)
			return
		}
		n := civicflow.NewCampaign{Kind: civicflow.CampaignKind(req.Kind), Scope: req.Scope, Title: req.Title}
		if bad := n.Check(); len(bad) > 0 {
			apiError(w, 422, civicflow.EINVALID, bad...)
			return
		}
		writeJSON(w, 201, wire.CampaignAnswer{Campaign: fakeCampaign(f, 7)})
	case p == "/api/v1/campaigns":
		writeJSON(w, 200, wire.Campaigns{Campaigns: []civicflow.Campaign{fakeCampaign(f, 7), fakeCampaign(f, 8)}})
	case len(seg) == 3 && seg[2] == "close":
		var req wire.CloseCampaignRequest
		if !bind(w, raw, &req) {
			return
		}
		if seg[1] == "8" {
			apiError(w, 409, civicflow.ECONFLICT)
			return
		}
		writeJSON(w, 200, wire.CampaignAnswer{Campaign: fakeCampaign(f, 7), Summary: &civicflow.CampaignSummary{Total: 3}})
	case len(seg) == 3 && seg[2] == "progress":
		if user.Role != civicflow.RoleSupervisor {
			apiError(w, 403, civicflow.EFORBIDDEN)
			return
		}
		t1 := civicflow.BoardRow{DistrictCode: "610113", District: "雁塔区", TownshipCode: "610113001", Township: "小寨路街道", Total: 3, Visited: 2, Problems: 1, OpenItems: 1, Found: 1}
		t2 := civicflow.BoardRow{DistrictCode: "610113", District: "雁塔区", TownshipCode: "610113002", Township: "大雁塔街道", Total: 4, Visited: 0}
		d := civicflow.BoardRow{DistrictCode: "610113", District: "雁塔区"}
		d.Add(t1)
		d.Add(t2)
		writeJSON(w, 200, wire.CampaignProgress{Campaign: fakeCampaign(f, 7), AsOf: f.now, Total: d, Districts: []civicflow.BoardRow{d},
			Townships: []civicflow.BoardRow{t1, t2}})
	case len(seg) == 3 && seg[2] == "tasks":
		after, _ := strconv.ParseInt(q.Get("after"), 10, 64)
		limit, _ := strconv.Atoi(q.Get("limit"))
		out := wire.CampaignTasks{Tasks: []civicflow.CampaignTask{}}
		for _, t := range fakeTasks(f) {
			if t.ID > after && len(out.Tasks) < limit {
				out.Tasks = append(out.Tasks, t)
			}
		}
		if len(out.Tasks) == limit && limit > 0 {
			out.NextAfter = out.Tasks[len(out.Tasks)-1].ID
		}
		writeJSON(w, 200, out)
	case len(seg) == 3 && seg[2] == "ledger":
		writeJSON(w, 200, wire.LedgerItems{Items: []civicflow.LedgerItem{{ID: 21, TaskID: 11, CampaignID: 7, DistrictCode: "610113",
			TownshipCode: "610113001", Description: "照料人长期外出", OpenedAt: f.now, OpenedBy: "王芳"}}})
	case len(seg) == 3 && seg[2] == "found-persons":
		var req wire.FoundPersonRequest
		if !bind(w, raw, &req) {
			return
		}
		if req.Person.IDNumber != "610113194503121015" {
			apiError(w, 422, civicflow.EINVALID, civicflow.FieldError{Field: "person.id_number", Reason: "the check character is wrong"})
			return
		}
		writeJSON(w, 201, wire.Submitted{CaseID: 40, Reference: "TK-610113-000040", AccessCode: "WXYZ-2345", Stage: civicflow.StageSubmitted})
	case len(seg) == 2 && strings.HasPrefix(p, "/api/v1/campaigns/"):
		id, _ := strconv.ParseInt(seg[1], 10, 64)
		writeJSON(w, 200, wire.CampaignAnswer{Campaign: fakeCampaign(f, id)})
	case len(seg) == 5 && seg[4] == "visit":
		var req wire.VisitRequest
		if !bind(w, raw, &req) {
			return
		}
		on, _ := time.Parse(time.DateOnly, req.VisitedOn)
		v := civicflow.Visit{VisitedOn: on, Findings: req.Findings, Outcome: civicflow.VisitOutcome(req.Outcome), Problems: req.Problems}
		// today as the store has it: the China day at 00:00 UTC, like the parsed date.
		today, _ := time.Parse(time.DateOnly, f.now.In(civicflow.ChinaZone()).Format(time.DateOnly))
		if bad := v.Check(today); len(bad) > 0 {
			apiError(w, 422, civicflow.EINVALID, bad...)
			return
		}
		writeJSON(w, 200, wire.VisitRecorded{Task: fakeTasks(f)[0], Items: []civicflow.LedgerItem{}})
	case len(seg) == 5 && seg[4] == "close": // a ledger item
		var req wire.CloseLedgerItemRequest
		if !bind(w, raw, &req) {
			return
		}
		if bad := civicflow.CheckLedgerText("action_taken", req.ActionTaken); len(bad) > 0 {
			apiError(w, 422, civicflow.EINVALID, bad...)
			return
		}
		writeJSON(w, 200, civicflow.LedgerItem{ID: 21})
	default:
		f.serveBeds(w, r, raw, user) // beds_test.go
	}
}

func TestCampaignNavigationByRole(t *testing.T) {
	t.Parallel()
	pages := map[string]string{"sv.city": "/console/board", "ts.xiaozhai": "/console/inbox", "dr.yanta": "/console/inbox",
		"admin": "/console/admin/users"}
	for user, want := range map[string][]string{"sv.city": {"nav-campaigns", "nav-waitlist"}, "ts.xiaozhai": {"nav-campaigns"},
		"dr.yanta": {"nav-waitlist"}, "admin": {"nav-institutions"}} {
		h := newHarness(t)
		h.login(user)
		_, body, _ := h.get(pages[user])
		for _, id := range []string{"nav-campaigns", "nav-waitlist", "nav-institutions"} {
			if slicesContains(want, id) {
				require.Contains(t, body, `id="`+id+`"`, user)
			} else {
				require.NotContains(t, body, `id="`+id+`"`, user)
			}
		}
	}
}

func slicesContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestSupervisorStartsACampaign(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login("sv.city")
	status, body, _ := h.get("/console/campaigns")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `href="/console/campaigns/7"`)
	require.Contains(t, body, "年审")
	require.Contains(t, body, `<option value="610113"`, "the districts are offered as the scope")

	// A blank title: the API's 422 comes back at the title, what was typed kept.
	csrf := h.csrf("/console/campaigns")
	form := url.Values{"csrf": {csrf}, "nonce": {"n-1"}, "kind": {"inspection"}, "scope": {"610113"}, "title": {" "}}
	status, body, _ = h.post("/console/campaigns", form)
	require.Equal(t, http.StatusUnprocessableEntity, status, body)
	require.Regexp(t, `<p class="err" id="title-err">请填写名称`, body)
	require.Contains(t, body, `id="kind-inspection" name="kind" value="inspection" checked`)
	require.NotContains(t, body, `id="scope-err"`)

	form.Set("title", "2026 专项排查")
	status, _, resp := h.post("/console/campaigns", form)
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/console/campaigns/7?done=created", resp.Header.Get("Location"))
	sent := sentAs[wire.CreateCampaignRequest](t, h.api, "POST /api/v1/campaigns")
	require.Equal(t, wire.CreateCampaignRequest{Kind: "inspection", Scope: "610113", Title: "2026 专项排查"}, sent)
	h.api.mu.Lock()
	require.Equal(t, "console-n-1", h.api.keys[len(h.api.keys)-1], "the form's nonce is the Idempotency-Key")
	h.api.mu.Unlock()
}

func TestCampaignBoardAndClose(t *testing.T) {
	t.Parallel()
	for _, lang := range languages {
		h := newHarness(t)
		h.setLang(lang)
		h.login("sv.city")
		status, body, _ := h.get("/console/campaigns/7?done=created")
		require.Equal(t, http.StatusOK, status, body)
		require.NotContains(t, body, "⟦")
		// District row: the sum of its townships; each township its own.
		require.Regexp(t, `id="board-610113"><th scope="row"><strong>雁塔区</strong></th><td>2 / 7</td><td>1</td><td>1</td><td>1</td>`, body)
		require.Regexp(t, `id="board-610113002"><th scope="row">　大雁塔街道</th><td>0 / 4</td>`, body)
		require.Contains(t, body, `class="flash"`)
		require.Contains(t, body, `id="close-campaign"`)
	}
	h := newHarness(t)
	h.login("sv.city")
	csrf := h.csrf("/console/campaigns/7")
	status, _, resp := h.post("/console/campaigns/7/close", url.Values{"csrf": {csrf}, "nonce": {"c-1"}, "note": {"全部走访完毕"}})
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/console/campaigns/7?done=closed", resp.Header.Get("Location"))
	require.Equal(t, "全部走访完毕", sentAs[wire.CloseCampaignRequest](t, h.api, "POST /api/v1/campaigns/7/close").Note)
	// A closed campaign: 409, said on the board.
	status, body, _ := h.post("/console/campaigns/8/close", url.Values{"csrf": {csrf}, "nonce": {"c-2"}})
	require.Equal(t, http.StatusConflict, status)
	require.Contains(t, body, "已结束，或正在生成任务")
}

func TestTownshipRecordsAVisit(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login("ts.xiaozhai")
	status, body, _ := h.get("/console/campaigns/7")
	require.Equal(t, http.StatusOK, status, body)
	for _, id := range []string{"visit-11", "visit-12", "visit-13", "close-item-21", "record-found"} {
		require.Contains(t, body, `id="`+id+`"`)
	}
	require.NotContains(t, body, `id="next-page"`, "three tasks fit one page")
	require.NotContains(t, body, `id="close-campaign"`)

	status, body, _ = h.get("/console/campaigns/7/tasks/12")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "6101**********0012")
	require.Contains(t, body, `value="`+h.api.now.In(civicflow.ChinaZone()).Format(time.DateOnly)+`"`, "today by default")

	// A problem with no item for the ledger: the API's 422 at the field.
	csrf := h.csrf("/console/campaigns/7/tasks/12")
	today := h.api.now.In(civicflow.ChinaZone()).Format(time.DateOnly)
	form := url.Values{"csrf": {csrf}, "visited_on": {today}, "outcome": {"problem"}, "findings": {"照料人外出务工"}, "problems": {"  "}}
	status, body, _ = h.post("/console/campaigns/7/tasks/12/visit", form)
	require.Equal(t, http.StatusUnprocessableEntity, status, body)
	require.Contains(t, body, `<p class="err" id="problems-err">`)
	require.NotContains(t, body, `id="findings-err"`)
	require.Contains(t, body, "照料人外出务工", "what was typed is kept")

	form.Set("problems", "照料人长期外出，无人照料\n住房漏雨, 需修缮")
	status, body, resp := h.post("/console/campaigns/7/tasks/12/visit", form)
	require.Equal(t, http.StatusSeeOther, status, body)
	require.Equal(t, "/console/campaigns/7?done=visited", resp.Header.Get("Location"))
	sent := sentAs[wire.VisitRequest](t, h.api, "POST /api/v1/campaigns/7/tasks/12/visit")
	require.Equal(t, []string{"照料人长期外出，无人照料", "住房漏雨, 需修缮"}, sent.Problems, "one item a line, commas kept")

	// An ok visit sends no problem even if some were typed.
	form.Set("outcome", "ok")
	_, _, _ = h.post("/console/campaigns/7/tasks/12/visit", form)
	require.Empty(t, sentAs[wire.VisitRequest](t, h.api, "POST /api/v1/campaigns/7/tasks/12/visit").Problems)

	// A task that is not the official's (the API lists none): not found.
	status, _, _ = h.get("/console/campaigns/7/tasks/99")
	require.Equal(t, http.StatusNotFound, status)
}

func TestTownshipTasksArePaged(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login("ts.xiaozhai")
	_, body, _ := h.get("/console/campaigns/7?after=12")
	require.Contains(t, body, `id="visit-13"`)
	require.NotContains(t, body, `id="visit-12"`)
	require.Contains(t, body, `href="/console/campaigns/7">`, "a way back to the first page")
}

func TestTownshipClosesALedgerItemAndRecordsAFoundPerson(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login("ts.xiaozhai")
	csrf := h.csrf("/console/campaigns/7")
	status, body, _ := h.post("/console/campaigns/7/ledger/21/close", url.Values{"csrf": {csrf}, "action_taken": {" "}})
	require.Equal(t, http.StatusUnprocessableEntity, status, body)
	require.Contains(t, body, `<p class="err" id="action-21-err">请填写整改情况`)
	status, _, resp := h.post("/console/campaigns/7/ledger/21/close", url.Values{"csrf": {csrf}, "action_taken": {"已联系子女返乡照料"}})
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/console/campaigns/7?done=ledger_closed", resp.Header.Get("Location"))
	require.Equal(t, "已联系子女返乡照料", sentAs[wire.CloseLedgerItemRequest](t, h.api, "POST /api/v1/campaigns/7/ledger/21/close").ActionTaken)

	found := url.Values{"csrf": {csrf}, "nonce": {"f-1"}, "name": {"买买提·艾力"}, "id_number": {"610113194503121016"}, "address": {"小寨东路3号"},
		"self_care": {"semi_dependent"}, "contact_name": {"刘敏"}, "contact_phone": {"13912345678"}}
	status, body, _ = h.post("/console/campaigns/7/found-persons", found)
	require.Equal(t, http.StatusUnprocessableEntity, status, body)
	require.Contains(t, body, `<p class="err" id="fp-id_number-err">身份证号码无效。</p>`)
	require.Contains(t, body, `value="买买提·艾力"`)
	found.Set("id_number", "610113194503121015")
	status, _, resp = h.post("/console/campaigns/7/found-persons", found)
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/console/campaigns/7?done=found&case=TK-610113-000040", resp.Header.Get("Location"))
	sent := sentAs[wire.FoundPersonRequest](t, h.api, "POST /api/v1/campaigns/7/found-persons")
	require.Equal(t, "610113001", sent.Person.HukouTownshipCode, "the official's own township")
	require.Equal(t, wire.CommunityContact{Name: "刘敏", Phone: "13912345678"}, sent.Contact)
	_, body, _ = h.get("/console/campaigns/7?done=found&case=TK-610113-000040")
	require.Contains(t, body, `<a href="/console/cases/TK-610113-000040">`)
	require.Contains(t, body, `href="/console/campaigns/7/tasks/11"`, "a ledger item links its visit")
	_, body, _ = h.get(`/console/campaigns/7?done=found&case=<script>`)
	require.NotContains(t, body, `id="found-case"`, "only a reference is shown back")
}

func TestCampaignPagesAreForSupervisorsAndTownships(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login("admin")
	status, _, _ := h.get("/console/campaigns")
	require.Equal(t, http.StatusForbidden, status)
	h = newHarness(t)
	h.login("sv.city")
	status, _, _ = h.get("/console/campaigns/7/tasks/11")
	require.Equal(t, http.StatusForbidden, status, "visits are the township's")
}

// TestOpsKeysAreInTheCatalogue: every campaign., waitlist. and beds. key
// the Go code of these pages names is in both catalogues (the templates'
// keys are checked by TestCatalogueIsComplete).
func TestOpsKeysAreInTheCatalogue(t *testing.T) {
	t.Parallel()
	cat, err := loadCatalogue()
	require.NoError(t, err)
	key := regexp.MustCompile(`"((?:campaign|waitlist|beds)\.[a-z_.]+[a-z_])"`)
	seen := 0
	for _, f := range []string{"campaign.go", "beds.go"} {
		b, err := os.ReadFile(filepath.Clean(f))
		require.NoError(t, err)
		for _, m := range key.FindAllStringSubmatch(string(b), -1) {
			for _, lang := range languages {
				_, ok := cat[lang][m[1]]
				require.True(t, ok, "catalogue %s has no %q", lang, m[1])
			}
			seen++
		}
	}
	for _, f := range foundFormFields {
		for _, lang := range languages {
			require.Contains(t, cat[lang], "campaign.found.field."+f)
		}
	}
	for _, prefix := range []string{"campaign.flash.", "beds.flash."} {
		n := 0
		for k := range cat[languages[0]] {
			if strings.HasPrefix(k, prefix) {
				n++
			}
		}
		require.Positive(t, n, prefix)
	}
	// Keys the templates build from domain values.
	for _, k := range []string{"kind.annual_review", "kind.inspection", "outcome.ok", "outcome.problem", "support.centralised",
		"support.dispersed"} {
		for _, lang := range languages {
			require.Contains(t, cat[lang], "campaign."+k)
		}
	}
	for _, f := range []string{"visited_on", "findings", "outcome", "problems", "problem", "form"} {
		for _, lang := range languages {
			require.Contains(t, cat[lang], "campaign.visit.field."+f)
		}
	}
	require.Greater(t, seen, 10)
}
