package web

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"civicflow"
	"civicflow/wire"
)

// The education grant in the fake API: cases JY-610113-0000NN, by number
// 30 intake, 31 verification, 32 district review, 33 completed with its
// award, 34 district review with no tier the rules give; applications at
// POST /api/v1/education/applications; the applicant's view with access
// code eduCode.
const (
	eduCode = "JKLM-2345"
	// eduHeldIDNumber already holds the grant for the year: 409 naming no case.
	eduHeldIDNumber = "610113200806200317"
	// eduOpenIDNumber has an open application: 409 naming it, masked.
	eduOpenIDNumber = "610113200803150131"
)

var eduStages = map[string]civicflow.Stage{"30": civicflow.StageIntake, "31": civicflow.StageVerification,
	"32": civicflow.StageDistrictReview, "33": civicflow.StageCompleted, "34": civicflow.StageDistrictReview}

// educationRoute says whether the fake's education part answers path.
func educationRoute(path string) bool {
	return strings.HasPrefix(path, "/api/v1/cases/JY-") || strings.HasPrefix(path, "/api/v1/applications/JY-") ||
		path == "/api/v1/education/applications"
}

// eduDetail is an education-grant case as the API shows it to user. The
// family declared a 低保 household and a vocational school; the township
// found an undergraduate programme, so the rules give 5,000 after the
// verification and 3,000 before it.
func (f *fakeAPI) eduDetail(user civicflow.User, ref string) (wire.CaseDetail, bool) {
	num := ref[len(ref)-2:]
	stage, ok := eduStages[num]
	if !ok || !strings.HasPrefix(ref, "JY-610113-0000") {
		return wire.CaseDetail{}, false
	}
	id, _ := strconv.ParseInt(num, 10, 64)
	sc := civicflow.Scope{CaseID: id, CaseType: civicflow.CaseTypeEducationGrant, Stage: stage, DistrictCode: "610113", TownshipCode: "610113001"}
	year := f.now.In(civicflow.ChinaZone()).Year()
	ed := &wire.EducationDetail{Application: civicflow.EducationApplication{FamilyStatus: civicflow.FamilyDibao, School: "陕西工业职业技术学院",
		SchoolKind: civicflow.SchoolVocational, Major: "机电一体化", AdmissionYear: year, NoticeNumber: "2026610113000123"},
		Tier: &wire.EducationTier{TierRule: civicflow.TierRule{Jurisdiction: civicflow.CityCode, FamilyStatus: civicflow.FamilyDibao,
			SchoolKind: civicflow.SchoolVocational, Amount: 3000}, Basis: "declared"}}
	checks := []civicflow.CheckResult{}
	if stage != civicflow.StageIntake {
		checks = append(checks, civicflow.CheckResult{Found: true, Eligible: true, MonthlyIncomePerCap: 620, MinimumLivingLine: 880,
			AssistanceStatus: civicflow.FamilyDibao})
	}
	if num >= "32" {
		ed.Verification = &civicflow.EducationVerification{FamilyStatus: civicflow.FamilyDibao, SchoolKind: civicflow.SchoolUndergraduate,
			EnrolmentConfirmed: true, Opinion: civicflow.OpinionEligible}
		ed.Tier = &wire.EducationTier{TierRule: civicflow.TierRule{Jurisdiction: civicflow.CityCode, FamilyStatus: civicflow.FamilyDibao,
			SchoolKind: civicflow.SchoolUndergraduate, Amount: 5000}, Basis: "verified"}
	}
	if num == "34" {
		ed.Tier = nil
	}
	if stage == civicflow.StageCompleted {
		ed.Award = &civicflow.EducationAward{ID: 1, CaseID: id, AdmissionYear: year, Amount: 5000, FamilyStatus: civicflow.FamilyDibao,
			SchoolKind: civicflow.SchoolUndergraduate, DistrictCode: "610113", State: civicflow.AwardAwaitingPayment, AwardedAt: f.now}
	}
	due := f.now.Add(10 * 24 * time.Hour)
	return wire.CaseDetail{Case: &civicflow.Case{ID: id, Reference: ref, Type: civicflow.CaseTypeEducationGrant, Stage: stage,
		PersonName: "李思远", IDNumberMasked: "6101**********0131", DistrictCode: "610113", TownshipCode: "610113001",
		Address: "长安路社区3号楼", Relation: civicflow.RelationSelf, ApplicantName: "李思远", StageEnteredAt: f.now.Add(-24 * time.Hour),
		StageDueAt: &due},
		AllowedActions: civicflow.AllowedActions(user.Actor(), sc), Timeline: []civicflow.Event{}, Papers: []civicflow.Document{},
		Checks: checks, Education: ed}, true
}

// serveEducation answers the education routes as the API would, with its
// checks of applications, verifications and approvals.
func (f *fakeAPI) serveEducation(w http.ResponseWriter, r *http.Request, raw []byte, user civicflow.User, authed bool) {
	p := r.URL.Path
	switch {
	case p == "/api/v1/education/applications" && r.Method == http.MethodPost:
		var req wire.EducationApplicationRequest
		if !bind(w, raw, &req) {
			return
		}
		switch req.Person.IDNumber {
		case eduHeldIDNumber:
			writeJSON(w, 409, wire.ErrorOf(&civicflow.Error{Code: civicflow.ECONFLICT,
				Message: "this student already holds the education grant for admission year " + strconv.Itoa(req.Education.AdmissionYear)}))
			return
		case eduOpenIDNumber:
			writeJSON(w, 409, wire.ErrorOf(&civicflow.Error{Code: civicflow.ECONFLICT, Reference: "TK-610113-****31",
				Message: "an open application for this person already exists: TK-610113-****31"}))
			return
		}
		var bad []civicflow.FieldError
		if strings.TrimSpace(req.Education.School) == "" {
			bad = append(bad, civicflow.FieldError{Field: "education.school", Reason: "is required"})
		}
		if y := f.now.In(civicflow.ChinaZone()).Year(); req.Education.AdmissionYear != y && req.Education.AdmissionYear != y-1 {
			bad = append(bad, civicflow.FieldError{Field: "education.admission_year", Reason: "must be this year or last"})
		}
		if !regexp.MustCompile(`^[A-Za-z0-9]+$`).MatchString(req.Education.NoticeNumber) {
			bad = append(bad, civicflow.FieldError{Field: "education.notice_number", Reason: "must contain only letters and digits"})
		}
		if len(bad) > 0 {
			apiError(w, 422, civicflow.EINVALID, bad...)
			return
		}
		writeJSON(w, 201, wire.Submitted{CaseID: 30, Reference: "JY-610113-000030", AccessCode: eduCode, Stage: civicflow.StageSubmitted,
			TrackURL: "/api/v1/applications/JY-610113-000030"})
	case strings.HasPrefix(p, "/api/v1/applications/JY-"):
		ref := strings.Split(p, "/")[4]
		stage, ok := eduStages[ref[len(ref)-2:]]
		if r.Header.Get("X-Access-Code") != eduCode || !ok {
			apiError(w, 401, civicflow.EUNAUTHORIZED)
			return
		}
		writeJSON(w, 200, wire.ApplicantCase{Reference: ref, Type: civicflow.CaseTypeEducationGrant, Stage: stage, StageSince: f.now,
			WaitingFor: []string{}, PersonName: "李思远", IDNumberMasked: "6101**********0131", Papers: []civicflow.Document{},
			History: []wire.HistoryEntry{{At: f.now, Action: string(civicflow.ActionApprove), Stage: stage, By: wire.ByDistrict}}})
	case !authed:
		apiError(w, 401, civicflow.EUNAUTHORIZED)
	case strings.Contains(p, "/actions/") && r.Method == http.MethodPost:
		parts := strings.Split(p, "/")
		ref, act := parts[4], civicflow.Action(parts[6])
		v, ok := f.eduDetail(user, ref)
		if !ok {
			apiError(w, 404, civicflow.ENOTFOUND)
			return
		}
		var req wire.ActionRequest
		if !bind(w, raw, &req) {
			return
		}
		if !v.Allows(act) {
			apiError(w, 409, civicflow.ECONFLICT)
			return
		}
		var bad []civicflow.FieldError
		add := func(field, reason string) { bad = append(bad, civicflow.FieldError{Field: field, Reason: reason}) }
		switch act {
		case civicflow.ActionRecordVerification:
			vi := req.Verification
			if vi == nil {
				add("verification", "is required for record_verification")
				break
			}
			eligible := vi.Opinion == civicflow.OpinionEligible
			if eligible && vi.FamilyStatus == "" {
				add("verification.family_status", "is required")
			}
			if eligible && vi.SchoolKind == "" {
				add("verification.school_kind", "is required")
			}
			if vi.EnrolmentConfirmed == nil {
				add("verification.enrolment_confirmed", "is required")
			} else if eligible && !*vi.EnrolmentConfirmed {
				add("verification.enrolment_confirmed", "must be true for an eligible opinion")
			}
			if strings.TrimSpace(vi.Findings) == "" {
				add("verification.findings", "is required")
			}
			if vi.Opinion == civicflow.OpinionIneligible && strings.TrimSpace(req.Reasons) == "" {
				add("reasons", "give the reasons for an ineligible opinion")
			}
		case civicflow.ActionApprove:
			switch {
			case req.TierAmount == 0:
				add("tier_amount", "give the grant the tier rules give")
			case v.Education.Tier == nil || req.TierAmount != v.Education.Tier.Amount:
				add("tier_amount", "the rules of 雁塔区 give 5000 for dibao/undergraduate")
			}
		}
		if len(bad) > 0 {
			apiError(w, 422, civicflow.EINVALID, bad...)
			return
		}
		writeJSON(w, 200, v)
	default:
		v, ok := f.eduDetail(user, strings.TrimPrefix(p, "/api/v1/cases/"))
		if !ok {
			apiError(w, 404, civicflow.ENOTFOUND)
			return
		}
		writeJSON(w, 200, v)
	}
}

// eduApplyForm is an application as a freshman fills it in, with a year
// the grant does not cover and a notice number with a space.
func eduApplyForm(h *harness, year int) url.Values {
	return url.Values{"csrf": {h.csrf("/console/apply/education")}, "nonce": {"n-edu"}, "name": {"李思远"},
		"id_number": {"610113200807010015"}, "phone": {"13800005678"}, "township": {"610113001"}, "address": {"长安路社区3号楼"},
		"relation": {"relative"}, "applicant_name": {"李建军"}, "applicant_phone": {"13912340001"},
		"family_status": {"dibao"}, "school": {"陕西工业职业技术学院"}, "school_kind": {"vocational"}, "major": {"机电一体化"},
		"admission_year": {strconv.Itoa(year)}, "notice_number": {"2026 0001"}, "statement": {"父亲残疾，家庭享受低保"}}
}

// The education grant's application, from the shared form: the API's
// refusals at their fields with what was typed kept, then the typed request
// sent once, and the reference and access code after a redirect.
func TestEducationApplication(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	year := h.api.now.In(civicflow.ChinaZone()).Year()
	status, body, _ := h.get("/console/apply/education")
	require.Equal(t, http.StatusOK, status, body)
	for _, id := range []string{"name", "id_number", "phone", "township", "address", "relation", "applicant_name", "applicant_phone",
		"family_status", "school", "school_kind", "major", "admission_year", "notice_number", "statement", "submit-application"} {
		require.Contains(t, body, `id="`+id+`"`, id)
	}
	require.Contains(t, body, `<form method="post" action="/console/apply/education"`)
	require.Contains(t, body, `<a href="/console/apply/education" aria-current="page">大学新生教育资助</a>`)
	require.Contains(t, body, `<option value="self" selected>学生本人</option>`, "the student applies, unless changed")
	for _, o := range []string{`<option value="dibao">低保家庭</option>`, `<option value="dibao_margin">低保边缘家庭</option>`,
		`<option value="extremely_poor">特困人员</option>`, `<option value="undergraduate">普通本科</option>`,
		`<option value="vocational">高职（专科）</option>`,
		fmt.Sprintf(`<option value="%d">%d年</option>`, year, year), fmt.Sprintf(`<option value="%d">%d年</option>`, year-1, year-1)} {
		require.Contains(t, body, o)
	}
	require.NotContains(t, body, fmt.Sprintf(`<option value="%d">`, year-2), "freshmen only: this year or last")
	require.NotContains(t, body, `name="self_care"`, "centralised care's fields are not asked")

	form := eduApplyForm(h, year-3)
	form.Set("school", " ")
	status, body, _ = h.post("/console/apply/education", form)
	require.Equal(t, http.StatusUnprocessableEntity, status, body)
	require.Contains(t, body, "申请未提交")
	require.Contains(t, body, `<p class="err" id="admission_year-err">资助面向大学新生：录取年份须为今年或去年。</p>`)
	require.Contains(t, body, `<p class="err" id="notice_number-err">请填写录取通知书编号（只含字母和数字，不超过40位）。</p>`)
	require.Contains(t, body, `<p class="err" id="school-err">此项为必填项。</p>`)
	require.NotContains(t, body, `id="name-err"`)
	require.Contains(t, body, `value="李思远"`, "what was typed stays")
	require.Contains(t, body, `value="2026 0001"`)
	require.Contains(t, body, `<option value="dibao" selected>低保家庭</option>`)
	require.Contains(t, body, `<option value="vocational" selected>高职（专科）</option>`)
	require.Contains(t, body, `<option value="relative" selected>父母或其他亲属</option>`)
	require.Contains(t, body, ">父亲残疾，家庭享受低保</textarea>")

	// A year that is not a number is refused here, and nothing is sent.
	sent := h.api.called("POST /api/v1/education/applications")
	form.Set("csrf", h.csrf("/console/apply/education"))
	form.Set("admission_year", "今年")
	status, body, _ = h.post("/console/apply/education", form)
	require.Equal(t, http.StatusUnprocessableEntity, status, body)
	require.Contains(t, body, `id="admission_year-err"`)
	require.Equal(t, sent, h.api.called("POST /api/v1/education/applications"))

	form.Set("csrf", h.csrf("/console/apply/education"))
	form.Set("school", "西北大学")
	form.Set("school_kind", "undergraduate")
	form.Set("admission_year", strconv.Itoa(year))
	form.Set("notice_number", "2026610113000123")
	status, _, resp := h.post("/console/apply/education", form)
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/console/apply/done", resp.Header.Get("Location"))
	require.Equal(t, wire.EducationApplicationRequest{
		Person: wire.EducationPersonInput{Name: "李思远", IDNumber: "610113200807010015", Phone: "13800005678",
			HukouTownshipCode: "610113001", Address: "长安路社区3号楼"},
		Applicant: wire.ApplicantInput{Relation: "relative", Name: "李建军", Phone: "13912340001"},
		Education: wire.EducationInput{FamilyStatus: "dibao", School: "西北大学", SchoolKind: "undergraduate", Major: "机电一体化",
			AdmissionYear: year, NoticeNumber: "2026610113000123"},
		Statement: "父亲残疾，家庭享受低保"}, sentAs[wire.EducationApplicationRequest](t, h.api, "POST /api/v1/education/applications"))
	require.Equal(t, "console-n-edu", h.api.keys[len(h.api.keys)-1], "the form's nonce is the Idempotency-Key")
	require.Zero(t, h.api.called("POST /api/v1/applications"), "not a centralised-care application")

	status, body, _ = h.get("/console/apply/done")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `<dd id="reference">JY-610113-000030</dd>`)
	require.Contains(t, body, `<dd id="access-code">`+eduCode+`</dd>`)
	require.NotContains(t, body, "610113200807010015")
	status, body, _ = h.get("/console/my")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `<p class="explain" id="explain">街道（乡镇）正在审查材料（录取通知书、户口簿等）。</p>`)
}

// A student who holds the grant for the year is told so, without a case;
// a student with an open application is told which (masked).
func TestEducationApplicationDuplicates(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	year := h.api.now.In(civicflow.ChinaZone()).Year()
	form := eduApplyForm(h, year)
	form.Set("notice_number", "2026610113000123")
	form.Set("id_number", eduHeldIDNumber)
	status, body, _ := h.post("/console/apply/education", form)
	require.Equal(t, http.StatusConflict, status, body)
	require.Contains(t, body, `<div class="alert" role="alert" id="page-error"><p>该学生本录取年度已获得教育资助，不能重复申请。`)
	require.Contains(t, body, `value="`+eduHeldIDNumber+`"`, "what was typed stays")

	form.Set("csrf", h.csrf("/console/apply/education"))
	form.Set("id_number", eduOpenIDNumber)
	status, body, _ = h.post("/console/apply/education", form)
	require.Equal(t, http.StatusConflict, status, body)
	require.Contains(t, body, "此人已有一件正在办理的申请（TK-610113-****31），无需重复提交。")
}

func TestApplyOffersTheEducationGrant(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, body, _ := h.get("/console/")
	require.Contains(t, body, `<a class="button" href="/console/apply/education">大学新生教育资助</a>`)
	require.Contains(t, body, "<h1>民政业务 · 网上办理</h1>")
	_, body, _ = h.get("/console/apply/rehab")
	require.Contains(t, body, `<a href="/console/apply/education">大学新生教育资助</a>`)
}

// The applicant of a completed grant is told of the award, not of an
// admission to an institution.
func TestEducationApplicantIsToldOfTheAward(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for lang, want := range map[string]string{"zh-CN": "资助已批准，资助金额已列入发放名单，将按规定发放。",
		"en": "The grant is approved and its amount is listed for payment."} {
		h.setLang(lang)
		status, _, _ := h.post("/console/track", url.Values{"csrf": {h.csrf("/console/track")}, "reference": {"JY-610113-000033"},
			"access_code": {eduCode}})
		require.Equal(t, http.StatusSeeOther, status)
		status, body, _ := h.get("/console/my")
		require.Equal(t, http.StatusOK, status, body)
		require.Contains(t, body, `<p class="explain" id="explain">`+html.EscapeString(want)+`</p>`)
		require.NotContains(t, body, "供养")
		require.NotContains(t, body, "first day of next month")
	}
}

// TestEducationPagesRender renders the education pages in both
// languages: no message is missing.
func TestEducationPagesRender(t *testing.T) {
	t.Parallel()
	for _, lang := range languages {
		h := newHarness(t)
		h.setLang(lang)
		status, body, _ := h.get("/console/apply/education")
		require.Equal(t, http.StatusOK, status, "%s: %s", lang, body)
		require.NotContains(t, body, "⟦", "%s: a message is missing", lang)
	}
}
