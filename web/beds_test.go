package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"civicflow"
	"civicflow/wire"
)

// serveBeds answers the fake's wait-list and institution routes as the
// API does: the wait-list for supervisors and district reviewers, the
// institutions for administrators; institution 1 (雁塔区社会福利院) has a
// free, an allocated, an admitted and a retired bed.
func (f *fakeAPI) serveBeds(w http.ResponseWriter, r *http.Request, raw []byte, user civicflow.User) {
	p := r.URL.Path
	admin := user.Role == civicflow.RoleAdministrator
	inst := civicflow.InstitutionRecord{ID: 1, Name: "雁塔区社会福利院", DistrictCode: "610113", Designated: true, Address: "雁塔路 1 号", CreatedAt: f.now}
	switch {
	case p == "/api/v1/cases/"+releaseRef:
		f.releaseCase(w, user)
	case p == "/api/v1/supervision/waitlist":
		if user.Role != civicflow.RoleSupervisor && user.Role != civicflow.RoleDistrictReviewer {
			apiError(w, 403, civicflow.EFORBIDDEN)
			return
		}
		e := func(city, district int, ref string, care civicflow.CareLevel) civicflow.WaitlistEntry {
			return civicflow.WaitlistEntry{CityPosition: city, DistrictPosition: district, Reference: ref, MaskedName: "张**",
				DistrictCode: "610113", TownshipCode: "610113001", CareLevel: care, WaitingSince: f.now.Add(-48 * 3600e9)}
		}
		// Not in order: the page puts each queue in city order.
		writeJSON(w, 200, wire.Waitlist{Waitlist: []civicflow.WaitlistEntry{e(2, 1, "TK-610113-000052", civicflow.CareDependent),
			e(1, 1, "TK-610113-000051", civicflow.CareSelf), e(1, 1, "TK-610102-000050", civicflow.CareDependent)}})
	case !admin:
		apiError(w, 403, civicflow.EFORBIDDEN)
	case p == "/api/v1/admin/institutions" && r.Method == http.MethodPost:
		var req wire.CreateInstitutionRequest
		if !bind(w, raw, &req) {
			return
		}
		if strings.TrimSpace(req.Name) == "" {
			apiError(w, 422, civicflow.EINVALID, civicflow.FieldError{Field: "name", Reason: "is required"})
			return
		}
		if req.Name == inst.Name {
			apiError(w, 409, civicflow.ECONFLICT)
			return
		}
		writeJSON(w, 201, civicflow.InstitutionRecord{ID: 2, Name: req.Name, DistrictCode: req.DistrictCode})
	case p == "/api/v1/admin/institutions":
		writeJSON(w, 200, wire.InstitutionRecords{Institutions: []civicflow.InstitutionRecord{inst}})
	case p == "/api/v1/admin/institutions/1/beds" && r.Method == http.MethodPost:
		var req wire.AddBedRequest
		if !bind(w, raw, &req) {
			return
		}
		if !civicflow.CareLevel(req.CareLevel).Valid() {
			apiError(w, 422, civicflow.EINVALID, civicflow.FieldError{Field: "care_level", Reason: "must be one of"})
			return
		}
		writeJSON(w, 201, civicflow.Bed{ID: 9, Label: req.Label, CareLevel: civicflow.CareLevel(req.CareLevel)})
	case p == "/api/v1/admin/institutions/1/beds":
		retired := f.now
		writeJSON(w, 200, wire.InstitutionBeds{Institution: inst, Beds: []civicflow.Bed{
			{ID: 1, Label: "A-101", CareLevel: civicflow.CareDependent},
			{ID: 2, Label: "A-102", CareLevel: civicflow.CareDependent, Holder: &civicflow.BedHolder{AllocationID: 5, Reference: "TK-610113-000061", Since: f.now}},
			{ID: 3, Label: "B-201", CareLevel: civicflow.CareSelf, Holder: &civicflow.BedHolder{AllocationID: 6, Reference: "TK-610113-000062", Admitted: true, Since: f.now}},
			{ID: 4, Label: "B-202", CareLevel: civicflow.CareSelf, RetiredAt: &retired}}})
	case p == "/api/v1/admin/institutions/1/beds/2/retire":
		apiError(w, 409, civicflow.ECONFLICT)
	case p == "/api/v1/admin/institutions/1/beds/1/retire":
		writeJSON(w, 200, civicflow.Bed{ID: 1})
	case p == "/api/v1/admin/institutions/1" && r.Method == http.MethodPost:
		var req wire.UpdateInstitutionRequest
		if !bind(w, raw, &req) {
			return
		}
		writeJSON(w, 200, inst)
	default:
		apiError(w, 404, civicflow.ENOTFOUND)
	}
}

func TestWaitlistInOrderPerCareLevel(t *testing.T) {
	t.Parallel()
	for _, user := range []string{"sv.city", "dr.yanta"} {
		h := newHarness(t)
		h.login(user)
		status, body, _ := h.get("/console/waitlist")
		require.Equal(t, http.StatusOK, status, body)
		require.NotContains(t, body, "⟦")
		dep := body[strings.Index(body, `id="waitlist-dependent"`):]
		first, second := strings.Index(dep, "TK-610102-000050"), strings.Index(dep, "TK-610113-000052")
		require.True(t, first >= 0 && second > first, "city order within a care level")
		require.Contains(t, body, `<a href="/console/cases/TK-610113-000051">`)
		require.Contains(t, body, "小寨路街道", "the township by name")
		require.Contains(t, body, `id="wl-semi_dependent-h"`, "every care level, empty ones too")
	}
	h := newHarness(t)
	h.login("ts.xiaozhai")
	status, _, _ := h.get("/console/waitlist")
	require.Equal(t, http.StatusForbidden, status)
}

func TestInstitutionsListCountsBedsPerCareLevel(t *testing.T) {
	t.Parallel()
	for _, lang := range languages {
		h := newHarness(t)
		h.setLang(lang)
		h.login("admin")
		status, body, _ := h.get("/console/admin/institutions")
		require.Equal(t, http.StatusOK, status, body)
		require.NotContains(t, body, "⟦")
		// self_care: one usable (admitted), none free; dependent: two, one free; retired not counted.
		require.Regexp(t, `<tr id="inst-1">[\s\S]*?<td>0 / 1</td><td>0 / 0</td><td>1 / 2</td>`, body)
		status, body, _ = h.get("/console/admin/institutions/1?done=added")
		require.Equal(t, http.StatusOK, status, body)
		require.NotContains(t, body, "⟦")
		require.Contains(t, body, `id="retire-1"`, "a free bed may be retired")
		for _, held := range []string{`id="retire-2"`, `id="retire-3"`, `id="retire-4"`} {
			require.NotContains(t, body, held, "a held or retired bed may not")
		}
		require.Contains(t, body, `<a href="/console/cases/TK-610113-000061">`)
		require.Contains(t, body, `class="flash"`)
	}
}

func TestAdministratorManagesInstitutionsAndBeds(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login("admin")
	csrf := h.csrf("/console/admin/institutions")
	form := url.Values{"csrf": {csrf}, "name": {" "}, "district_code": {"610113"}, "designated": {"yes"}}
	status, body, _ := h.post("/console/admin/institutions", form)
	require.Equal(t, http.StatusUnprocessableEntity, status, body)
	require.Contains(t, body, `<p class="err" id="name-err">请填写机构名称`)
	form.Set("name", "雁塔区社会福利院")
	status, body, _ = h.post("/console/admin/institutions", form)
	require.Equal(t, http.StatusConflict, status)
	require.Contains(t, body, "已有同名机构")
	form.Set("name", "雁塔区第二敬老院")
	form.Del("designated")
	status, _, resp := h.post("/console/admin/institutions", form)
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/console/admin/institutions/2?done=created", resp.Header.Get("Location"))
	sent := sentAs[wire.CreateInstitutionRequest](t, h.api, "POST /api/v1/admin/institutions")
	require.NotNil(t, sent.Designated)
	require.False(t, *sent.Designated, "the box unticked: not designated")

	status, body, _ = h.post("/console/admin/institutions/1/beds", url.Values{"csrf": {csrf}, "label": {"C-301"}, "care_level": {""}})
	require.Equal(t, http.StatusUnprocessableEntity, status, body)
	require.Contains(t, body, `<p class="err" id="care_level-err">`)
	require.Contains(t, body, `value="C-301"`)
	status, _, resp = h.post("/console/admin/institutions/1/beds", url.Values{"csrf": {csrf}, "label": {"C-301"}, "care_level": {"semi_dependent"}})
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/console/admin/institutions/1?done=added", resp.Header.Get("Location"))
	require.Equal(t, wire.AddBedRequest{Label: "C-301", CareLevel: "semi_dependent"}, sentAs[wire.AddBedRequest](t, h.api, "POST /api/v1/admin/institutions/1/beds"))

	status, body, _ = h.post("/console/admin/institutions/1/beds/2/retire", url.Values{"csrf": {csrf}})
	require.Equal(t, http.StatusConflict, status)
	require.Contains(t, body, "已有人占用")
	status, _, resp = h.post("/console/admin/institutions/1/beds/1/retire", url.Values{"csrf": {csrf}})
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/console/admin/institutions/1?done=retired", resp.Header.Get("Location"))

	status, _, _ = h.post("/console/admin/institutions/1", url.Values{"csrf": {csrf}, "name": {"雁塔区社会福利院（定点）"}, "designated": {"yes"}})
	require.Equal(t, http.StatusSeeOther, status)
	up := sentAs[wire.UpdateInstitutionRequest](t, h.api, "POST /api/v1/admin/institutions/1")
	require.Equal(t, "雁塔区社会福利院（定点）", *up.Name)
	require.True(t, *up.Designated)

	status, _, _ = h.post("/console/admin/institutions/x/beds", url.Values{"csrf": {csrf}})
	require.Equal(t, http.StatusNotFound, status)
	h2 := newHarness(t)
	h2.login("sv.city")
	status, _, _ = h2.get("/console/admin/institutions")
	require.Equal(t, http.StatusForbidden, status)
}

// releaseRef awaits admission in the fake; its detail lists the actions
// the caller's role may take there, as the API does.
const releaseRef = "TK-610113-000070"

func (f *fakeAPI) releaseCase(w http.ResponseWriter, user civicflow.User) {
	sc := civicflow.Scope{CaseID: 70, Stage: civicflow.StageAwaitingAdmission, DistrictCode: "610113", TownshipCode: "610113001", InstitutionID: 1}
	writeJSON(w, 200, wire.CaseDetail{Case: &civicflow.Case{ID: 70, Reference: releaseRef, Type: civicflow.CaseTypeCentralisedCare,
		Stage: civicflow.StageAwaitingAdmission, PersonName: "张**", IDNumberMasked: "6101**********1015", DistrictCode: "610113",
		TownshipCode: "610113001", InstitutionID: 1, StageEnteredAt: f.now}, AllowedActions: civicflow.AllowedActions(user.Actor(), sc),
		Timeline: []civicflow.Event{}, Papers: []civicflow.Document{}, Checks: []civicflow.CheckResult{}})
}

func TestDistrictReleasesABedBeforeAdmission(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login("dr.yanta")
	_, body, _ := h.get("/console/cases/" + releaseRef)
	require.Contains(t, body, `id="act-release_allocation"`, "offered to the district reviewer")
	status, body, _ := h.get("/console/cases/" + releaseRef + "/act/release_allocation")
	require.Equal(t, http.StatusOK, status, body)
	require.NotContains(t, body, "⟦")
	require.Contains(t, body, `<option value="no_show">逾期未报到</option>`)
	require.Contains(t, body, `id="reasons"`)
	csrf := csrfRe.FindStringSubmatch(body)[1]
	form := url.Values{"csrf": {csrf}, "nonce": {"r-1"}, "reasons": {"约定日期未报到，电话无人接听"}, "release_reason": {"no_show"}}
	status, body, _ = h.post("/console/cases/"+releaseRef+"/act/release_allocation", form)
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `<dd id="confirm-release-reason">逾期未报到</dd>`)
	form.Set("confirm", "yes")
	status, _, resp := h.post("/console/cases/"+releaseRef+"/act/release_allocation", form)
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/console/cases/"+releaseRef+"?done=action", resp.Header.Get("Location"))
	sent := sentAs[wire.ActionRequest](t, h.api, "POST /api/v1/cases/"+releaseRef+"/actions/release_allocation")
	require.Equal(t, "no_show", sent.ReleaseReason)
	require.Equal(t, "约定日期未报到，电话无人接听", sent.Reasons)
	require.Equal(t, "release_reason", actionFieldToForm("release_reason"), "the API's refusal is shown at the select")

	// A township official may not: not offered.
	h = newHarness(t)
	h.login("ts.xiaozhai")
	_, body, _ = h.get("/console/cases/" + releaseRef)
	require.NotContains(t, body, `id="act-release_allocation"`)
	cat, err := loadCatalogue()
	require.NoError(t, err)
	for _, lang := range languages {
		require.Contains(t, cat[lang], "action.field.release_reason")
	}
}
