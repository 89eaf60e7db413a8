package web

import (
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"civicflow/wire"
)

// rehabForm is a rehab application as a guardian fills it in for a
// 14-year-old, before the consent is ticked.
func rehabApplyForm(h *harness) url.Values {
	return url.Values{"csrf": {h.csrf("/console/apply/rehab")}, "nonce": {"n-rehab"}, "name": {"刘洋"},
		"id_number": {"610113201203150028"}, "township": {"610113001"}, "address": {"小寨西路8号"},
		"without_capacity": {"yes"}, "applied_by": {"family"}, "applicant_name": {"刘建国"}, "applicant_phone": {"13912340000"},
		"statement": {"白天家中无人照看"}}
}

// The rehab application, from the shared form: the API's refusals shown
// at their fields with what was typed kept, then sent once, typed, and the
// reference and access code shown after a redirect.
func TestRehabApplication(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	status, body, _ := h.get("/console/apply/rehab")
	require.Equal(t, http.StatusOK, status, body)
	for _, id := range []string{"name", "id_number", "township", "address", "without_capacity", "applied_by", "applicant_name",
		"guardian_consent", "consent_on", "statement", "submit-application"} {
		require.Contains(t, body, `id="`+id+`"`, id)
	}
	require.Contains(t, body, `<form method="post" action="/console/apply/rehab"`)
	require.Contains(t, body, `<a href="/console/apply/rehab" aria-current="page">精神障碍社区康复</a>`)
	require.NotContains(t, body, `name="self_care"`, "centralised care's fields are not asked")
	require.NotContains(t, body, "diagnosis", "nothing clinical is asked")

	// A family member applies for a person without capacity: the API wants
	// the guardian and the consent, each said at its field.
	form := rehabApplyForm(h)
	status, body, _ = h.post("/console/apply/rehab", form)
	require.Equal(t, http.StatusUnprocessableEntity, status, body)
	require.Contains(t, body, "申请未提交")
	require.Contains(t, body, `<p class="err" id="applied_by-err">请选择申请人身份；患者未成年或为无（限制）民事行为能力人的，须由监护人申请。</p>`)
	require.Contains(t, body, `id="guardian_consent-err"`)
	require.Contains(t, body, `id="consent_on-err"`)
	require.Contains(t, body, `aria-invalid="true"`)
	require.NotContains(t, body, `id="name-err"`)
	require.Contains(t, body, `value="刘洋"`, "what was typed stays")
	require.Contains(t, body, `value="610113201203150028"`)
	require.Contains(t, body, `<option value="family" selected>家属</option>`)
	require.Contains(t, body, `id="without_capacity" name="without_capacity" value="yes" checked`)
	require.Contains(t, body, ">白天家中无人照看</textarea>")

	form.Set("csrf", h.csrf("/console/apply/rehab"))
	form.Set("applied_by", "guardian")
	form.Set("guardian_consent", "yes")
	form.Set("consent_on", "2026-11-20")
	status, _, resp := h.post("/console/apply/rehab", form)
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/console/apply/done", resp.Header.Get("Location"))
	require.Equal(t, wire.RehabApplicationRequest{
		Person: wire.RehabPersonInput{PersonIdentity: wire.PersonIdentity{Name: "刘洋", IDNumber: "610113201203150028",
			HukouTownshipCode: "610113001", Address: "小寨西路8号"}, WithoutCapacity: true},
		Applicant: wire.RehabApplicantInput{AppliedBy: "guardian", Name: "刘建国", Phone: "13912340000",
			GuardianConsent: true, ConsentOn: "2026-11-20"},
		Statement: "白天家中无人照看"}, sentAs[wire.RehabApplicationRequest](t, h.api, "POST /api/v1/rehab/applications"))
	require.Equal(t, "console-n-rehab", h.api.keys[len(h.api.keys)-1], "the form's nonce is the Idempotency-Key")
	require.Equal(t, 2, h.api.called("POST /api/v1/rehab/applications"))
	require.Zero(t, h.api.called("POST /api/v1/applications"), "not a centralised-care application")

	// The confirmation: the reference and the access code, and nothing of
	// what was typed about the person.
	status, body, _ = h.get("/console/apply/done")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `<dd id="reference">RH-610113-000020</dd>`)
	require.Contains(t, body, `<dd id="access-code">EFGH-6789</dd>`)
	for _, typed := range []string{"刘洋", "610113201203150028", "白天家中无人照看", "小寨西路8号"} {
		require.NotContains(t, body, typed)
	}
}

func TestRehabApplicationForAPersonWithAnOpenCase(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	form := rehabApplyForm(h)
	form.Set("id_number", dupIDNumber)
	status, body, _ := h.post("/console/apply/rehab", form)
	require.Equal(t, http.StatusConflict, status, body)
	require.Contains(t, body, "此人已有一件正在办理的申请（RH-610113-****20），无需重复提交。")
	require.Contains(t, body, `value="`+dupIDNumber+`"`)
}

func TestApplyChoosesTheProcess(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, body, _ := h.get("/console/")
	require.Contains(t, body, `<a class="button" href="/console/apply">特困人员集中供养</a>`)
	require.Contains(t, body, `<a class="button" href="/console/apply/rehab">精神障碍社区康复</a>`)
	_, body, _ = h.get("/console/apply")
	require.Contains(t, body, `<a href="/console/apply" aria-current="page">`)
	require.Contains(t, body, `<a href="/console/apply/rehab">`)
	for _, p := range []string{"/console/apply/unknown", "/console/apply/care"} {
		status, _, _ := h.get(p)
		require.Equal(t, http.StatusNotFound, status, p)
	}
	// Without an application just taken, the confirmation shows nothing.
	status, _, resp := h.get("/console/apply/done")
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/console/track", resp.Header.Get("Location"))
}

// jsonPaths lists the JSON paths of a request type's fields
// ("person.name"), as the API names them in its 422.
func jsonPaths(t reflect.Type, prefix string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous && f.Tag.Get("json") == "" {
			out = append(out, jsonPaths(f.Type, prefix)...) // flattened, as JSON does
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		p := prefix + name
		out = append(out, p)
		if ft := f.Type; ft.Kind() == reflect.Struct || ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct {
			out = append(out, jsonPaths(ft, p+".")...)
		}
	}
	return out
}

// TestApplyFormsCoverTheirRequests: every field of a process's API request
// has a field of its form to show its error at, and every form field says
// which API field it is, so a field added to the request shows here.
func TestApplyFormsCoverTheirRequests(t *testing.T) {
	t.Parallel()
	for _, pr := range applyProcesses() {
		req, _ := pr.Request(formValues{})
		for _, p := range jsonPaths(reflect.TypeOf(req), "") {
			if p == "person" || p == "applicant" || p == "education" {
				continue // a part of the request, not a field
			}
			require.NotEqual(t, "form", pr.formName(p), "%s: the form has no field for the API's %s", pr.Key, p)
		}
		seen := map[string]bool{}
		for _, s := range pr.Sections {
			for _, f := range s.Fields {
				require.NotEmpty(t, f.API, "%s: form field %s names no API field", pr.Key, f.Name)
				require.False(t, seen[f.Name], "%s: two fields named %s", pr.Key, f.Name)
				seen[f.Name] = true
			}
		}
	}
}
