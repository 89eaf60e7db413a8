package web

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"civicflow"
	"civicflow/wire"
)

// The register in the fake API: entry 41 (dispersed, with a carer), 42
// (centralised, a bed of institution 1; an open termination exists), 43
// (ended: transferred), and 100-121, dispersed, to page through. Cases:
// TK-610113-000045 (centralised care in district review),
// ZJ-610113-000050 (a transfer in investigation) and ZZ-610113-000060 (a
// termination in intake).
const (
	regIDNumber = "610113194503121015" // entry 41's person
	regName     = "买买提·艾力"
	transferRef = "ZJ-610113-000050"
	termRef     = "ZZ-610113-000060"
	dispersedTK = "TK-610113-000045"
)

func (f *fakeAPI) registerEntries() []*civicflow.RegisterEntry {
	day := func(s string) time.Time {
		t, _ := time.ParseInLocation(time.DateOnly, s, civicflow.ChinaZone())
		return t
	}
	ended := day("2026-10-20")
	out := []*civicflow.RegisterEntry{
		{ID: 41, PersonID: 7, PersonName: "买****", IDNumberMasked: "6101**********1015", BirthYear: 1945, Form: civicflow.SupportDispersed,
			CareLevel: civicflow.CareSelf, DistrictCode: "610113", TownshipCode: "610113001",
			Carer:    &civicflow.CarerAgreement{Name: "李*", Relation: "侄女", Phone: "139****0077", StartsOn: "2026-01-01"},
			StartsOn: day("2026-02-01"), MonthlyStandard: 1245, OpenedByCase: "TK-610113-000040"},
		{ID: 42, PersonID: 8, PersonName: "张**", IDNumberMasked: "6101**********2022", BirthYear: 1940, Form: civicflow.SupportCentralised,
			CareLevel: civicflow.CareDependent, DistrictCode: "610113", TownshipCode: "610113001", InstitutionID: 1,
			Institution: "雁塔区社会福利院", BedLabel: "A-101", AllocationID: 3, StartsOn: day("2026-10-20"), OpenedByCase: "ZJ-610113-000049"},
		{ID: 43, PersonID: 8, PersonName: "张**", IDNumberMasked: "6101**********2022", BirthYear: 1940, Form: civicflow.SupportDispersed,
			CareLevel: civicflow.CareSemiDependent, DistrictCode: "610113", TownshipCode: "610113001",
			Carer:    &civicflow.CarerAgreement{Name: "王*", Phone: "138****1111", StartsOn: "2025-03-01"},
			StartsOn: day("2025-04-01"), EndsOn: &ended, EndReason: civicflow.EndTransferred, OpenedByCase: "TK-610113-000030",
			ClosedByCase: "ZJ-610113-000049"},
	}
	for id := int64(121); id >= 100; id-- {
		out = append(out, &civicflow.RegisterEntry{ID: id, PersonID: 100 + id, PersonName: "刘*", IDNumberMasked: "6101**********0000",
			BirthYear: 1950, Form: civicflow.SupportDispersed, CareLevel: civicflow.CareSemiDependent, DistrictCode: "610113",
			TownshipCode: "610113001", Carer: &civicflow.CarerAgreement{Name: "刘*", Phone: "137****0000", StartsOn: "2026-01-01"},
			StartsOn: day("2026-03-01"), OpenedByCase: fmt.Sprintf("TK-610113-%06d", id)})
	}
	// Newest first, as the API lists them.
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	return out
}

// registerRoute says whether the fake's register part answers path.
func registerRoute(path string) bool {
	for _, p := range []string{"/api/v1/register", "/api/v1/supervision/register/", "/api/v1/transfer/",
		"/api/v1/cases/ZJ-", "/api/v1/cases/ZZ-", "/api/v1/cases/" + dispersedTK} {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// regDetail is a case of the register's processes as the API shows it to user.
func (f *fakeAPI) regDetail(user civicflow.User, ref string) wire.CaseDetail {
	typ, stage := civicflow.CaseTypeCentralisedCare, civicflow.StageDistrictReview
	var reg *civicflow.RegisterCaseDetails
	var timeline []civicflow.Event
	ts := fakeUsers["tok-ts"]
	switch ref {
	case transferRef:
		typ, stage = civicflow.CaseTypeSupportTransfer, civicflow.StageInvestigation
		reg = &civicflow.RegisterCaseDetails{PeriodID: 41, RaisedBy: civicflow.RaisedByRelative, Reason: string(civicflow.TransferCarerUnable)}
		timeline = []civicflow.Event{{Action: civicflow.ActionAccept, FromStage: civicflow.StageIntake, ToStage: civicflow.StageInvestigation,
			Actor: ts.Actor(), At: f.now},
			{Action: civicflow.ActionRecordTransferVisit, ToStage: civicflow.StageInvestigation, Actor: ts.Actor(), At: f.now,
				Details: []byte(`{"visited_on":"2026-11-02","reason":"care_level_changed","findings":"老人摔伤后卧床","care_level":"dependent"}`)}}
	case termRef:
		typ, stage = civicflow.CaseTypeSupportTermination, civicflow.StageIntake
		eff := time.Date(2026, 11, 20, 0, 0, 0, 0, civicflow.ChinaZone())
		reg = &civicflow.RegisterCaseDetails{PeriodID: 42, RaisedBy: civicflow.RaisedByCommittee, Reason: string(civicflow.EndDied), EffectiveOn: &eff}
	}
	sc := civicflow.Scope{CaseID: 50, CaseType: typ, Stage: stage, DistrictCode: "610113", TownshipCode: "610113001"}
	if timeline == nil {
		timeline = []civicflow.Event{}
	}
	return wire.CaseDetail{Case: &civicflow.Case{ID: 50, Reference: ref, Type: typ, Stage: stage, PersonName: "买****",
		IDNumberMasked: "6101**********1015", DistrictCode: "610113", TownshipCode: "610113001", CareLevel: civicflow.CareSelf,
		StageEnteredAt: f.now.Add(-time.Hour)},
		AllowedActions: civicflow.AllowedActions(user.Actor(), sc), Timeline: timeline, Papers: []civicflow.Document{},
		Checks: []civicflow.CheckResult{}, Register: reg}
}

// serveRegister answers the register's routes as the API would, with its
// checks; GET /api/v1/register records each query it was asked.
func (f *fakeAPI) serveRegister(w http.ResponseWriter, r *http.Request, raw []byte, user civicflow.User, authed bool) {
	p := r.URL.Path
	if p == "/api/v1/transfer/applications" && r.Method == http.MethodPost {
		var req wire.TransferApplicationRequest
		if !bind(w, raw, &req) {
			return
		}
		switch {
		case req.Person.IDNumber == dupIDNumber:
			writeJSON(w, 409, wire.ErrorOf(&civicflow.Error{Code: civicflow.ECONFLICT, Reference: "ZJ-610113-****50",
				Message: "an open support_transfer case for this person already exists"}))
		case req.Applicant.Relation == "relative" && req.Applicant.Name == "":
			apiError(w, 422, civicflow.EINVALID, civicflow.FieldError{Field: "applicant.name", Reason: "is required when a relative applies"})
		case req.Person.IDNumber != regIDNumber || req.Person.Name != regName:
			apiError(w, 422, civicflow.EINVALID, civicflow.FieldError{Field: "person", Reason: "no person in dispersed support has this ID number and name"})
		default:
			writeJSON(w, 201, wire.RegisterCaseOpened{Reference: transferRef, Stage: civicflow.StageSubmitted, AccessCode: "ZJZJ-2345",
				TrackURL: "/api/v1/applications/" + transferRef})
		}
		return
	}
	if !authed {
		apiError(w, 401, civicflow.EUNAUTHORIZED)
		return
	}
	entries := f.registerEntries()
	find := func(id string) *civicflow.RegisterEntry {
		for _, e := range entries {
			if strconv.FormatInt(e.ID, 10) == id {
				return e
			}
		}
		return nil
	}
	parts := strings.Split(p, "/")
	switch {
	case p == "/api/v1/register":
		q := r.URL.Query()
		f.mu.Lock()
		f.registerQueries = append(f.registerQueries, q)
		f.mu.Unlock()
		if n := q.Get("id_number"); n != "" && len(n) != 18 {
			apiError(w, 422, civicflow.EINVALID, civicflow.FieldError{Field: "id_number", Reason: "len"})
			return
		}
		limit, _ := strconv.Atoi(q.Get("limit"))
		after, _ := strconv.ParseInt(q.Get("after"), 10, 64)
		var out wire.RegisterList
		out.Entries = []*civicflow.RegisterEntry{}
		for _, e := range entries {
			switch {
			case e.EndsOn != nil && q.Get("include_ended") != "true",
				q.Get("form") != "" && string(e.Form) != q.Get("form"),
				q.Get("care_level") != "" && string(e.CareLevel) != q.Get("care_level"),
				q.Get("name") != "" && !strings.HasPrefix(regName, q.Get("name")),
				q.Get("name") != "" && e.ID != 41,
				q.Get("id_number") != "" && (q.Get("id_number") != regIDNumber || e.ID != 41),
				after > 0 && e.ID >= after:
				continue
			}
			if len(out.Entries) == limit {
				out.Next = out.Entries[limit-1].ID
				break
			}
			out.Entries = append(out.Entries, e)
		}
		writeJSON(w, 200, out)
	case strings.HasPrefix(p, "/api/v1/register/") && len(parts) == 5:
		e := find(parts[4])
		if e == nil {
			apiError(w, 404, civicflow.ENOTFOUND)
			return
		}
		changes := []civicflow.RegisterChange{{ID: 1, PeriodID: e.ID, Kind: civicflow.RegisterEntered, EffectiveOn: e.StartsOn,
			Case: e.OpenedByCase, Actor: civicflow.SystemActor, Details: map[string]any{"form": string(e.Form), "care_level": string(e.CareLevel)},
			At: f.now}}
		if e.ID == 42 {
			changes = append(changes, civicflow.RegisterChange{ID: 2, PeriodID: 43, Kind: civicflow.RegisterEnded, EffectiveOn: e.StartsOn,
				Case: "ZJ-610113-000049", Actor: civicflow.SystemActor, Details: map[string]any{"reason": "transferred"}, At: f.now})
		}
		writeJSON(w, 200, wire.RegisterDetail{Entry: e, Changes: changes})
	case strings.HasPrefix(p, "/api/v1/register/") && strings.HasSuffix(p, "/reveal"):
		var req wire.RegisterRevealRequest
		if !bind(w, raw, &req) {
			return
		}
		if strings.TrimSpace(req.Reason) == "" {
			apiError(w, 422, civicflow.EINVALID, civicflow.FieldError{Field: "reason", Reason: "is required"})
			return
		}
		e := find(parts[4])
		if e == nil || !civicflow.MayReveal(user.Actor(), e.Scope()) {
			apiError(w, 403, civicflow.EFORBIDDEN)
			return
		}
		writeJSON(w, 200, wire.RegisterRevealed{ID: e.ID, PersonName: regName, CarerName: "李娜", CarerPhone: "13912340077"})
	case strings.HasPrefix(p, "/api/v1/register/") && strings.HasSuffix(p, "/terminations"):
		var req wire.TerminationRequest
		if !bind(w, raw, &req) {
			return
		}
		e := find(parts[4])
		if e == nil {
			apiError(w, 404, civicflow.ENOTFOUND)
			return
		}
		if err := civicflow.MayRaiseTermination(user.Actor(), e, civicflow.RaisedBy(req.RaisedBy)); err != nil {
			var de *civicflow.Error
			if asDomain(err, &de) && de.Code == civicflow.EINVALID {
				apiError(w, 422, civicflow.EINVALID, de.Fields...)
				return
			}
			apiError(w, 403, civicflow.EFORBIDDEN)
			return
		}
		var bad []civicflow.FieldError
		if !civicflow.RegisterEndReason(req.Reason).ValidTermination() {
			bad = append(bad, civicflow.FieldError{Field: "reason", Reason: "oneof"})
		}
		if strings.TrimSpace(req.Reporter) == "" {
			bad = append(bad, civicflow.FieldError{Field: "reporter", Reason: "is required"})
		}
		if strings.TrimSpace(req.Statement) == "" {
			bad = append(bad, civicflow.FieldError{Field: "statement", Reason: "is required"})
		}
		if req.EffectiveOn == "" || req.EffectiveOn > f.now.In(civicflow.ChinaZone()).Format(time.DateOnly) {
			bad = append(bad, civicflow.FieldError{Field: "effective_on", Reason: "must not be in the future"})
		}
		if len(bad) > 0 {
			apiError(w, 422, civicflow.EINVALID, bad...)
			return
		}
		if req.Reporter == "已报告过" {
			writeJSON(w, 409, wire.ErrorOf(&civicflow.Error{Code: civicflow.ECONFLICT, Reference: "ZZ-610113-000061",
				Message: "an open support_termination case for this person already exists"}))
			return
		}
		writeJSON(w, 201, wire.RegisterCaseOpened{Reference: termRef, Stage: civicflow.StageSubmitted})
	case p == "/api/v1/supervision/register/counts":
		if !seesRegisterCounts(user.Role) {
			apiError(w, 403, civicflow.EFORBIDDEN)
			return
		}
		writeJSON(w, 200, wire.RegisterCounts{Total: 9, Counts: []civicflow.RegisterCount{
			{DistrictCode: "610113", District: "雁塔区", Form: civicflow.SupportDispersed, CareLevel: civicflow.CareSelf, Persons: 4},
			{DistrictCode: "610113", District: "雁塔区", Form: civicflow.SupportCentralised, CareLevel: civicflow.CareDependent, Persons: 2},
			{DistrictCode: "610102", District: "新城区", Form: civicflow.SupportCentralised, CareLevel: civicflow.CareSelf, Persons: 3}}})
	case strings.HasPrefix(p, "/api/v1/cases/") && strings.Contains(p, "/actions/"):
		var req wire.ActionRequest
		if !bind(w, raw, &req) {
			return
		}
		var bad []civicflow.FieldError
		switch {
		case strings.HasSuffix(p, "/approve") && req.SupportForm == "dispersed":
			if req.Carer == nil {
				bad = append(bad, civicflow.FieldError{Field: "carer", Reason: "is required for dispersed support"})
			} else {
				bad = append(bad, civicflow.CarerAgreement{Name: req.Carer.Name, Relation: req.Carer.Relation, Phone: req.Carer.Phone,
					StartsOn: req.Carer.StartsOn, EndsOn: req.Carer.EndsOn}.Check("carer.")...)
			}
		case strings.HasSuffix(p, "/approve") && req.Carer != nil:
			bad = append(bad, civicflow.FieldError{Field: "carer", Reason: "is only for dispersed support"})
		case strings.HasSuffix(p, "/record_transfer_visit"):
			if v := req.TransferVisit; v == nil {
				bad = append(bad, civicflow.FieldError{Field: "transfer_visit", Reason: "is required"})
			} else if strings.TrimSpace(v.Findings) == "" {
				bad = append(bad, civicflow.FieldError{Field: "transfer_visit.findings", Reason: "is required"})
			}
		}
		if len(bad) > 0 {
			apiError(w, 422, civicflow.EINVALID, bad...)
			return
		}
		writeJSON(w, 200, f.regDetail(user, parts[4]))
	case strings.HasPrefix(p, "/api/v1/cases/"):
		if user.Role == civicflow.RoleInstitutionStaff && !strings.HasPrefix(parts[4], "TK-") {
			apiError(w, 403, civicflow.EFORBIDDEN) // the township's case, not placed with the institution
			return
		}
		writeJSON(w, 200, f.regDetail(user, parts[4]))
	default:
		apiError(w, 404, civicflow.ENOTFOUND)
	}
}

// The register page: the list within the jurisdiction, masked, its
// filters sent to the API, pages by the API's cursor; a search by name or
// ID number posted, never in the address.
func TestRegisterListFiltersAndPages(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login("ts.xiaozhai")
	status, body, _ := h.get("/console/inbox")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, `<a href="/console/register" id="nav-register">在册人员</a>`)

	status, body, _ = h.get("/console/register")
	require.Equal(t, http.StatusOK, status, body)
	require.NotContains(t, body, `id="register-counts"`, "a township sees no counts")
	require.Equal(t, 20, strings.Count(body, `id="entry-`), "one page, newest first")
	require.Contains(t, body, `id="entry-121"`)
	require.Contains(t, body, `href="/console/register?after=102" id="next-page"`)
	require.NotContains(t, body, `id="first-page"`)
	require.Equal(t, url.Values{"limit": {"20"}}, h.api.lastRegisterQuery())

	status, body, _ = h.get("/console/register?after=102")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "102", h.api.lastRegisterQuery().Get("after"))
	require.Equal(t, 4, strings.Count(body, `id="entry-`), "the rest: 101, 100, 42, 41")
	require.NotContains(t, body, `id="next-page"`)
	require.Contains(t, body, `id="first-page"`)
	require.Contains(t, body, `<a href="/console/register/41" id="entry-41">买****</a>`)
	require.Contains(t, body, "李* · 139****0077", "the carer, masked")
	require.Contains(t, body, "雁塔区社会福利院 · A-101")
	require.Contains(t, body, "1,245 元")
	require.Contains(t, body, "小寨路街道")
	require.NotContains(t, body, `id="entry-43"`, "an ended period is not listed by default")

	status, body, _ = h.get("/console/register?form=centralised&care_level=dependent&include_ended=yes")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, url.Values{"limit": {"20"}, "form": {"centralised"}, "care_level": {"dependent"}, "include_ended": {"true"}},
		h.api.lastRegisterQuery())
	require.Contains(t, body, `id="entry-42"`)
	require.NotContains(t, body, `id="entry-41"`)
	require.Contains(t, body, `<option value="centralised" selected>集中供养</option>`)

	// A search typed into the address is not run: the ID number would
	// sit in the browser's history.
	_, _, _ = h.get("/console/register?id_number=" + regIDNumber + "&name=买")
	require.Equal(t, url.Values{"limit": {"20"}}, h.api.lastRegisterQuery())

	// Posted, it is.
	status, body, _ = h.post("/console/register", url.Values{"csrf": {h.csrf("/console/register")}, "id_number": {strings.ToLower(regIDNumber[:17]) + "5"}})
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, regIDNumber, h.api.lastRegisterQuery().Get("id_number"))
	require.Equal(t, 1, strings.Count(body, `id="entry-`))
	require.Contains(t, body, `id="entry-41"`)
	status, body, _ = h.post("/console/register", url.Values{"csrf": {h.csrf("/console/register")}, "id_number": {"6101"}})
	require.Equal(t, http.StatusUnprocessableEntity, status)
	require.Contains(t, body, "身份证号码须为18位")
	status, body, _ = h.post("/console/register", url.Values{"csrf": {h.csrf("/console/register")}, "name": {"别人"}})
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, `id="register-empty"`)
	require.Equal(t, "别人", h.api.lastRegisterQuery().Get("name"))
}

func (f *fakeAPI) lastRegisterQuery() url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.registerQueries) == 0 {
		return nil
	}
	return f.registerQueries[len(f.registerQueries)-1]
}

// Supervisors see the counts, each cell a link to its part of the list;
// a rehab assessor does not read the register.
func TestRegisterCountsForSupervisors(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login("sv.city")
	status, body, _ := h.get("/console/register")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `id="register-counts"`)
	require.Contains(t, body, "共 9 人")
	xc, yt := strings.Index(body, "<th scope=\"row\">新城区</th>"), strings.Index(body, "<th scope=\"row\">雁塔区</th>")
	require.True(t, xc > 0 && yt > xc, "districts in code order")
	require.Contains(t, body, `<a href="/console/register?care_level=self_care&amp;district=610113&amp;form=dispersed">4</a>`)
	require.Contains(t, body, `<option value="610113">雁塔区</option>`, "a city-wide supervisor filters by district")
	_, _, _ = h.get("/console/register?district=610113&form=dispersed&care_level=self_care")
	require.Equal(t, "610113", h.api.lastRegisterQuery().Get("district"))

	h.login("ra.yanta")
	status, _, _ = h.get("/console/register")
	require.Equal(t, http.StatusForbidden, status)
	status, _, _ = h.get("/console/register/41")
	require.Equal(t, http.StatusForbidden, status)
}

// An entry: the period with its carer masked, its changes, the opening
// and closing cases linked; the audited reveal with a reason shows the
// names and the carer's phone.
func TestRegisterEntryAndReveal(t *testing.T) {
	t.Parallel()
	for _, lang := range languages {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.setLang(lang)
			cat, err := loadCatalogue()
			require.NoError(t, err)
			tr := func(k string) string { return html.EscapeString(cat.text(lang, k)) }
			h.login("ts.xiaozhai")
			status, body, _ := h.get("/console/register/41")
			require.Equal(t, http.StatusOK, status, body)
			require.NotContains(t, body, "⟦")
			require.Contains(t, body, `data-form="dispersed">`+tr("register.form.dispersed")+`</dd>`)
			require.Contains(t, body, `<dd id="entry-carer-phone">139****0077</dd>`)
			require.Contains(t, body, `<a href="/console/cases/TK-610113-000040" id="opened-by">`)
			require.Contains(t, body, `<dd id="entry-starts">2026-02-01</dd>`)
			require.Contains(t, body, tr("register.change.entered"))
			require.Contains(t, body, `action="/console/register/41/reveal"`)
			require.NotContains(t, body, "13912340077")

			status, body, _ = h.post("/console/register/41/reveal", url.Values{"csrf": {h.csrf("/console/register/41")}, "reason": {" "}})
			require.Equal(t, http.StatusUnprocessableEntity, status)
			require.Contains(t, body, tr("register.reveal_invalid"))
			status, body, _ = h.post("/console/register/41/reveal", url.Values{"csrf": {h.csrf("/console/register/41")}, "reason": {"联系照料人"}})
			require.Equal(t, http.StatusOK, status, body)
			require.Contains(t, body, `<dd id="entry-carer-phone"><mark>13912340077</mark></dd>`)
			require.Contains(t, body, "<mark>"+html.EscapeString(regName)+"</mark>")
			require.Equal(t, wire.RegisterRevealRequest{Reason: "联系照料人"},
				sentAs[wire.RegisterRevealRequest](t, h.api, "POST /api/v1/register/41/reveal"))

			// The ended period names why it ended and the case that ended it.
			_, body, _ = h.get("/console/register/43")
			require.Contains(t, body, "2026-10-20 · "+tr("register.end.transferred"))
			require.Contains(t, body, `<a href="/console/cases/ZJ-610113-000049" id="closed-by">`)
			require.NotContains(t, body, `id="termination"`, "an ended period cannot be terminated")
		})
	}
	// A supervisor reads, but neither reveals nor raises a termination.
	h := newHarness(t)
	h.login("sv.city")
	status, body, _ := h.get("/console/register/41")
	require.Equal(t, http.StatusOK, status, body)
	require.NotContains(t, body, `/reveal"`)
	require.NotContains(t, body, `id="termination"`)
}

// The termination form: a township official raises it for the committee
// or the township, institution staff as the institution; the API's
// refusals come back at their fields, an open termination is named, and a
// raised one opens its case.
func TestRaiseTermination(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login("ts.xiaozhai")
	_, body, _ := h.get("/console/register/41")
	require.Contains(t, body, `id="termination"`)
	require.Contains(t, body, `<option value="committee">村（居）委会</option><option value="township">街道（乡镇）</option>`)
	require.NotContains(t, body, `<option value="institution">`)
	today := time.Now().In(civicflow.ChinaZone()).Format(time.DateOnly)
	require.Contains(t, body, `id="effective_on" name="effective_on" type="date" value="`+today+`"`)

	form := url.Values{"csrf": {h.csrf("/console/register/41")}, "raised_by": {"committee"}, "reason": {"died"},
		"effective_on": {today}, "reporter": {""}, "statement": {"本人病故"}}
	status, body, _ := h.post("/console/register/41/terminations", form)
	require.Equal(t, http.StatusUnprocessableEntity, status, body)
	require.Contains(t, body, `<p class="err" id="reporter-err">请填写报告人。</p>`)
	require.NotContains(t, body, `id="statement-err"`)
	require.Contains(t, body, ">本人病故</textarea>", "what was typed stays")
	require.Contains(t, body, `<option value="died" selected>`)

	form.Set("csrf", h.csrf("/console/register/41"))
	form.Set("reporter", "长安路社区居委会")
	status, _, resp := h.post("/console/register/41/terminations", form)
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/console/cases/"+termRef+"?done=termination", resp.Header.Get("Location"))
	require.Equal(t, wire.TerminationRequest{Reason: "died", EffectiveOn: today, RaisedBy: "committee", Reporter: "长安路社区居委会",
		Statement: "本人病故"}, sentAs[wire.TerminationRequest](t, h.api, "POST /api/v1/register/41/terminations"))

	// The case page shows the termination and the township's actions.
	status, body, _ = h.get("/console/cases/" + termRef + "?done=termination")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "终止供养报告已提交")
	require.Contains(t, body, `<a href="/console/register/42" id="register-entry">`)
	require.Contains(t, body, `<dd id="register-reason">死亡</dd>`)
	require.Contains(t, body, `<dd id="register-effective">2026-11-20</dd>`)
	require.Contains(t, body, `id="act-accept"`)
	require.NotContains(t, body, `id="act-request_supplements"`, "a termination has no applicant to ask")

	// An open termination: named, with a link.
	form.Set("csrf", h.csrf("/console/register/42"))
	form.Set("reporter", "已报告过")
	status, body, _ = h.post("/console/register/42/terminations", form)
	require.Equal(t, http.StatusConflict, status)
	require.Contains(t, body, "无需重复报告")
	require.Contains(t, body, `<a href="/console/cases/ZZ-610113-000061">`)

	// Institution staff raise it as the institution only.
	h.login("st.yanta")
	_, body, _ = h.get("/console/register/42")
	require.Contains(t, body, `<input type="hidden" name="raised_by" value="institution">`)
	require.Contains(t, body, `<strong id="raised-by">供养机构</strong>`)
	require.NotContains(t, body, `action="/console/register/42/reveal"`, "institution staff do not unmask")
	// The case is the township's: the staff stay on the entry, told its reference.
	status, _, resp = h.post("/console/register/42/terminations", url.Values{"csrf": {h.csrf("/console/register/42")},
		"raised_by": {"institution"}, "reason": {"died"}, "effective_on": {today}, "reporter": {"院方护理部"}, "statement": {"院内病故"}})
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/console/register/42?raised="+termRef, resp.Header.Get("Location"))
	require.Equal(t, "institution", sentAs[wire.TerminationRequest](t, h.api, "POST /api/v1/register/42/terminations").RaisedBy)
	_, body, _ = h.get(resp.Header.Get("Location"))
	require.Contains(t, body, `<p class="flash" role="status" id="raised-case">终止供养报告已提交（案件编号 `+termRef+`）`)
	_, body, _ = h.get("/console/register/42?raised=%3Cb%3E")
	require.NotContains(t, body, `id="raised-case"`, "only a termination's reference is named")
}

// The district's approval of centralised care offers centralised or
// dispersed support; dispersed sends the carer, and the API's refusal of
// the carer's fields comes back at them.
func TestApproveInDispersedSupport(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login("dr.yanta")
	path := "/console/cases/" + dispersedTK + "/act/approve"
	status, body, _ := h.get(path)
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `id="sf-centralised" name="support_form" value="centralised" checked`)
	require.Contains(t, body, `id="sf-dispersed" name="support_form" value="dispersed">`)
	require.Contains(t, body, `id="carer_phone"`)

	form := url.Values{"csrf": {h.csrf(path)}, "nonce": {"n-disp"}, "support_form": {"dispersed"}, "carer_name": {"李娜"},
		"carer_relation": {"侄女"}, "carer_phone": {"1391234"}, "carer_starts_on": {"2026-12-01"}}
	status, body, _ = h.post(path, form)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, `<dd id="confirm-support-form">分散供养</dd>`)
	require.Contains(t, body, `<dd id="confirm-carer">李娜 (侄女) · 1391234</dd>`)
	form.Set("confirm", "yes")
	status, body, _ = h.post(path, form)
	require.Equal(t, http.StatusUnprocessableEntity, status, body)
	require.Contains(t, body, `<p class="err" id="carer_phone-err">请填写11位手机号码（13-19开头）。</p>`)
	require.NotContains(t, body, `id="carer_name-err"`)
	require.Contains(t, body, `id="sf-dispersed" name="support_form" value="dispersed" checked`, "the choice stays")
	require.Contains(t, body, `value="李娜"`)

	form.Set("carer_phone", "13912340077")
	form.Set("nonce", "n-disp2")
	status, _, resp := h.post(path, form)
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/console/cases/"+dispersedTK+"?done=action", resp.Header.Get("Location"))
	require.Equal(t, wire.ActionRequest{SupportForm: "dispersed", Carer: &wire.CarerInput{Name: "李娜", Relation: "侄女",
		Phone: "13912340077", StartsOn: "2026-12-01"}}, sentAs[wire.ActionRequest](t, h.api, "POST /api/v1/cases/"+dispersedTK+"/actions/approve"))

	// Centralised: no carer is sent, whatever was typed in the hidden fields.
	form.Set("support_form", "centralised")
	form.Set("nonce", "n-disp3")
	status, _, _ = h.post(path, form)
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, wire.ActionRequest{SupportForm: "centralised"},
		sentAs[wire.ActionRequest](t, h.api, "POST /api/v1/cases/"+dispersedTK+"/actions/approve"))

	// A termination's approval asks for no form of support or care level.
	status, body, _ = h.get("/console/cases/" + termRef + "/act/approve")
	require.Equal(t, http.StatusConflict, status, "the termination is in intake: %s", body)
}

// The transfer: applied for on the public form (the person found by ID
// number and name), then the township's visit on the case page.
func TestTransferApplicationAndVisit(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, body, _ := h.get("/console/")
	require.Contains(t, body, `href="/console/apply/transfer"`)
	status, body, _ := h.get("/console/apply/transfer")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `<option value="relative" selected>`)
	require.NotContains(t, body, `name="township"`, "the register knows where the person lives")

	form := url.Values{"csrf": {h.csrf("/console/apply/transfer")}, "nonce": {"n-zj"}, "id_number": {regIDNumber}, "name": {"别人"},
		"relation": {"relative"}, "applicant_name": {"李娜"}, "applicant_phone": {"13912340077"}, "reason": {"carer_unable"},
		"statement": {"照料人外出务工"}}
	status, body, _ = h.post("/console/apply/transfer", form)
	require.Equal(t, http.StatusUnprocessableEntity, status)
	require.Contains(t, body, "在册分散供养人员中没有与此身份证号码和姓名相符的人")
	require.Contains(t, body, `value="别人"`)
	form.Set("csrf", h.csrf("/console/apply/transfer"))
	form.Set("applicant_name", "")
	form.Set("name", regName)
	status, body, _ = h.post("/console/apply/transfer", form)
	require.Equal(t, http.StatusUnprocessableEntity, status)
	require.Contains(t, body, `id="applicant_name-err"`)

	form.Set("csrf", h.csrf("/console/apply/transfer"))
	form.Set("applicant_name", "李娜")
	status, _, resp := h.post("/console/apply/transfer", form)
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/console/apply/done", resp.Header.Get("Location"))
	var want wire.TransferApplicationRequest
	want.Person.IDNumber, want.Person.Name = regIDNumber, regName
	want.Applicant.Relation, want.Applicant.Name, want.Applicant.Phone = "relative", "李娜", "13912340077"
	want.Reason, want.Statement = "carer_unable", "照料人外出务工"
	require.Equal(t, want, sentAs[wire.TransferApplicationRequest](t, h.api, "POST /api/v1/transfer/applications"))
	_, body, _ = h.get("/console/apply/done")
	require.Contains(t, body, `<dd id="reference">`+transferRef+`</dd>`)
	require.Contains(t, body, `<dd id="access-code">ZJZJ-2345</dd>`)

	// A second application for the person: the open case is named.
	form.Set("csrf", h.csrf("/console/apply/transfer"))
	form.Set("id_number", dupIDNumber)
	status, body, _ = h.post("/console/apply/transfer", form)
	require.Equal(t, http.StatusConflict, status)
	require.Contains(t, body, "ZJ-610113-****50")

	// The township's visit, the applicant's reason preselected.
	h.login("ts.xiaozhai")
	status, body, _ = h.get("/console/cases/" + transferRef)
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `<dd id="register-raised-by">亲属</dd>`)
	require.Contains(t, body, `<dd id="register-reason">照料人无法继续照料</dd>`)
	require.Contains(t, body, "老人摔伤后卧床", "the last visit recorded")
	require.Contains(t, body, `id="act-record_transfer_visit"`)
	path := "/console/cases/" + transferRef + "/act/record_transfer_visit"
	status, body, _ = h.get(path)
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `<option value="carer_unable" selected>`)
	visit := url.Values{"csrf": {h.csrf(path)}, "nonce": {"n-visit"}, "visited_on": {"2026-11-02"}, "transfer_reason": {"care_level_changed"},
		"findings": {" "}, "visit_care": {"dependent"}, "confirm": {"yes"}}
	status, body, _ = h.post(path, visit)
	require.Equal(t, http.StatusUnprocessableEntity, status, body)
	require.Contains(t, body, `<p class="err" id="findings-err">请填写走访情况。</p>`)
	visit.Set("findings", "老人摔伤后卧床")
	visit.Set("nonce", "n-visit2")
	status, _, _ = h.post(path, visit)
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, wire.ActionRequest{TransferVisit: &wire.TransferVisitInput{VisitedOn: "2026-11-02", Reason: "care_level_changed",
		Findings: "老人摔伤后卧床", CareLevel: "dependent"}}, sentAs[wire.ActionRequest](t, h.api, "POST /api/v1/cases/"+transferRef+"/actions/record_transfer_visit"))
}
