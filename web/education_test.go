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
		v := wire.ApplicantCase{Reference: ref, Type: civicflow.CaseTypeEducationGrant, Stage: stage, StageSince: f.now,
			WaitingFor: []string{}, PersonName: "李思远", IDNumberMasked: "6101**********0131", Papers: []civicflow.Document{},
			History: []wire.HistoryEntry{{At: f.now, Action: string(civicflow.ActionApprove), Stage: stage, By: wire.ByDistrict}}}
		if stage == civicflow.StageCompleted {
			v.Award = &wire.ApplicantAward{Amount: 5000, AdmissionYear: 2026, State: civicflow.AwardAwaitingPayment}
		}
		writeJSON(w, 200, v)
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
		Person: wire.EducationPersonInput{PersonIdentity: wire.PersonIdentity{Name: "李思远", IDNumber: "610113200807010015",
			Phone: "13800005678", HukouTownshipCode: "610113001", Address: "长安路社区3号楼"}},
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
	awards := map[string]string{"zh-CN": "5,000 元 · 2026 年入学 · 已批准，待发放", "en": "admitted in 2026 · approved, to be paid"}
	for lang, want := range map[string]string{"zh-CN": "资助已批准，资助金额已列入发放名单，将按规定发放。",
		"en": "The grant is approved and its amount is listed for payment."} {
		h.setLang(lang)
		status, _, _ := h.post("/console/track", url.Values{"csrf": {h.csrf("/console/track")}, "reference": {"JY-610113-000033"},
			"access_code": {eduCode}})
		require.Equal(t, http.StatusSeeOther, status)
		status, body, _ := h.get("/console/my")
		require.Equal(t, http.StatusOK, status, body)
		require.Contains(t, body, `<p class="explain" id="explain">`+html.EscapeString(want)+`</p>`)
		require.Contains(t, body, awards[lang], "the amount and where it stands")
		require.Contains(t, body, `id="award"`)
		require.NotContains(t, body, "供养")
		require.NotContains(t, body, "first day of next month")
	}
}

func TestEducationCasePage(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login("ts.xiaozhai")
	_, body, _ := h.get("/console/inbox")
	require.Regexp(t, `<td><a href="/console/cases/JY-610113-000031">JY-610113-000031</a></td>\s*<td>教育资助</td>`, body)
	require.Regexp(t, `<td><a href="/console/cases/TK-610113-000001">TK-610113-000001</a></td>\s*<td>特困人员集中供养</td>`, body)

	status, body, _ := h.get("/console/cases/JY-610113-000031")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `<dd id="process">教育资助</dd>`)
	require.Contains(t, body, `id="education"`)
	require.Contains(t, body, "陕西工业职业技术学院")
	require.Contains(t, body, "<dd>高职（专科）</dd>")
	require.Contains(t, body, `id="education-not-verified"`)
	require.Contains(t, body, `<p id="education-tier"><strong>3,000 元</strong> · 按申请填报的低保家庭、高职（专科），依全市资助标准（尚待核实）</p>`)
	require.Contains(t, body, "平台登记的救助类别：低保家庭", "the household check's assistance status")
	require.Contains(t, body, `id="act-record_verification"`)
	require.NotContains(t, body, "请通过业务接口办理", "every action of the case has a form")
	require.NotContains(t, body, "生活自理能力", "a centralised-care field")

	h.login("dr.yanta")
	_, body, _ = h.get("/console/cases/JY-610113-000033")
	require.Contains(t, body, `id="education-verification"`)
	require.Contains(t, body, "已向学校核实，确认录取入学")
	require.Contains(t, body, `<p id="education-tier"><strong>5,000 元</strong> · 按核实的低保家庭、普通本科，依全市资助标准</p>`)
	award := regexp.MustCompile(`(?s)<dl class="facts" id="education-award">.*?</dl>`).FindString(body)
	require.Contains(t, award, "<strong>5,000 元</strong>")
	require.Contains(t, award, "待发放")
	require.Contains(t, body, `id="no-actions"`)
	_, body, _ = h.get("/console/cases/JY-610113-000034")
	require.Contains(t, body, "按现行资助标准，该家庭类别和学校类别不享受资助。")
}

// The township's verification: prefilled from the platform and the
// declaration, each refusal of the API at its field, then sent typed.
func TestVerificationForm(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login("ts.xiaozhai")
	path := "/console/cases/JY-610113-000031/act/record_verification"
	status, body, _ := h.get(path)
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `<option value="dibao" selected>低保家庭</option>`, "the platform's assistance status")
	require.Contains(t, body, `<option value="vocational" selected>高职（专科）</option>`, "the declared kind of school")
	require.Contains(t, body, `<option value="">未享受上述救助</option>`, "may be left empty")
	for _, id := range []string{"enrolment-yes", "enrolment-no", "findings", "op-eligible", "op-ineligible", "reasons"} {
		require.Contains(t, body, `id="`+id+`"`, id)
	}
	require.Contains(t, body, "意见为“不符合条件”时必填，理由将告知申请人。")
	require.NotContains(t, body, `<textarea id="reasons" name="reasons" rows="4" maxlength="4000" required`, "only for an ineligible opinion")
	require.Contains(t, body, html.EscapeString("记录核实的家庭类别"))

	// Eligible without the school's confirmation: the API says so at the field.
	status, body, _ = h.actRehab(path, url.Values{"family_status": {"dibao"}, "school_kind": {"undergraduate"},
		"enrolment_confirmed": {"no"}, "findings": {"低保证有效"}, "opinion": {"eligible"}, "nonce": {"n-v1"}})
	require.Equal(t, http.StatusUnprocessableEntity, status, body)
	require.Contains(t, body, `<p class="err" id="enrolment_confirmed-err">请选择学校是否确认录取入学；认定符合条件的，须已向学校确认。</p>`)
	require.Contains(t, body, `id="enrolment-no" name="enrolment_confirmed" value="no" checked`, "what was chosen stays")
	require.Contains(t, body, `<option value="undergraduate" selected>`)
	require.Contains(t, body, ">低保证有效</textarea>")
	require.NotContains(t, body, `value="n-v1"`, "a refused request's nonce is not used again")
	require.Equal(t, wire.ActionRequest{Verification: &wire.VerificationInput{FamilyStatus: "dibao", SchoolKind: "undergraduate",
		EnrolmentConfirmed: new(false), Findings: "低保证有效", Opinion: "eligible"}},
		sentAs[wire.ActionRequest](t, h.api, "POST /api/v1/cases/JY-610113-000031/actions/record_verification"))

	// Ineligible, the family status left empty, without reasons and findings.
	status, body, _ = h.actRehab(path, url.Values{"enrolment_confirmed": {"yes"}, "opinion": {"ineligible"}})
	require.Equal(t, http.StatusUnprocessableEntity, status, body)
	require.Contains(t, body, `<p class="err" id="reasons-err">请写明理由。</p>`)
	require.Contains(t, body, `<p class="err" id="findings-err">请填写核实情况。</p>`, "the verification's own wording")
	require.NotContains(t, body, `id="family_status-err"`, "may be empty when ineligible")

	status, _, resp := h.actRehab(path, url.Values{"family_status": {"dibao"}, "school_kind": {"undergraduate"},
		"enrolment_confirmed": {"yes"}, "findings": {"低保证有效；学校确认已报到"}, "opinion": {"eligible"}})
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/console/cases/JY-610113-000031?done=action", resp.Header.Get("Location"))
	require.Equal(t, wire.ActionRequest{Verification: &wire.VerificationInput{FamilyStatus: "dibao", SchoolKind: "undergraduate",
		EnrolmentConfirmed: new(true), Findings: "低保证有效；学校确认已报到", Opinion: "eligible"}},
		sentAs[wire.ActionRequest](t, h.api, "POST /api/v1/cases/JY-610113-000031/actions/record_verification"),
		"the verification's fields and nothing else")
	require.True(t, strings.HasPrefix(h.api.keys[len(h.api.keys)-1], "console-"))
}

// The district's approval: the tier the rules give preselected; another
// is refused by the API at the field.
func TestEducationApproveForm(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login("dr.yanta")
	path := "/console/cases/JY-610113-000032/act/approve"
	status, body, _ := h.get(path)
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `id="tier-5000" name="tier_amount" value="5000" checked`, "the tier the rules give")
	require.Contains(t, body, `id="tier-3000" name="tier_amount" value="3000">`)
	require.Contains(t, body, `id="tier-7000" name="tier_amount" value="7000">`)
	require.Contains(t, body, "资助标准给出 5,000 元（按核实的低保家庭、普通本科，依全市资助标准）")
	require.NotContains(t, body, `id="care_level"`, "care levels are for centralised care")
	require.NotContains(t, body, `id="rehab_centre_id"`)

	status, body, _ = h.post(path, url.Values{"csrf": {h.csrf(path)}, "tier_amount": {"7000"}, "nonce": {"n-a1"}})
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `<dd id="confirm-tier">7,000 元</dd>`)
	status, body, _ = h.post(path, url.Values{"csrf": {h.csrf(path)}, "tier_amount": {"7000"}, "nonce": {"n-a1"}, "confirm": {"yes"}})
	require.Equal(t, http.StatusUnprocessableEntity, status, body)
	require.Contains(t, body, `<p class="err" id="tier_amount-err">资助档次须为资助标准给出的档次，请按上方的依据选择。</p>`)
	require.Contains(t, body, `id="tier-7000" name="tier_amount" value="7000" checked`, "what was chosen stays")

	status, _, resp := h.actRehab(path, url.Values{"tier_amount": {"5000"}, "note": {"经审核符合条件"}})
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/console/cases/JY-610113-000032?done=action", resp.Header.Get("Location"))
	require.Equal(t, wire.ActionRequest{TierAmount: 5000, Note: "经审核符合条件"},
		sentAs[wire.ActionRequest](t, h.api, "POST /api/v1/cases/JY-610113-000032/actions/approve"))

	// No tier the rules give: nothing preselected, and the page says why.
	_, body, _ = h.get("/console/cases/JY-610113-000034/act/approve")
	require.NotContains(t, body, `name="tier_amount" value="5000" checked`)
	require.Contains(t, body, "按现行资助标准，该家庭类别和学校类别不享受资助。")

	// The other actions of the district say what they do to a grant.
	_, body, _ = h.get("/console/cases/JY-610113-000032/act/return")
	require.Contains(t, body, "退回街道（乡镇）重新核实家庭状况和入学情况")
	require.Contains(t, body, "说明需要重新核实的内容。")
}

// A supervisor reads an education-grant case but has no form.
func TestSupervisorGetsNoEducationForm(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login("sv.city")
	status, body, _ := h.get("/console/cases/JY-610113-000031")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `id="education"`)
	require.NotContains(t, body, `id="act-record_verification"`)
	require.Contains(t, body, `id="no-actions"`)
	for _, a := range []string{"record_verification", "approve"} {
		status, body, _ = h.get("/console/cases/JY-610113-000031/act/" + a)
		require.Equal(t, http.StatusConflict, status, a)
		require.Contains(t, body, "此事项现在不由您办理")
		status, _, _ = h.post("/console/cases/JY-610113-000031/act/"+a, url.Values{"csrf": {h.csrf("/console/cases/JY-610113-000031")},
			"confirm": {"yes"}, "opinion": {"eligible"}, "tier_amount": {"5000"}})
		require.Equal(t, http.StatusConflict, status, a, "a forged form: the API refuses it, and the page says so")
	}
}

// TestEducationPagesRender renders the education pages, forms and
// confirmations in both languages: no message is missing.
func TestEducationPagesRender(t *testing.T) {
	t.Parallel()
	for _, lang := range languages {
		h := newHarness(t)
		h.setLang(lang)
		for _, path := range []string{"/console/apply/education"} {
			status, body, _ := h.get(path)
			require.Equal(t, http.StatusOK, status, "%s %s: %s", lang, path, body)
			require.NotContains(t, body, "⟦", "%s %s has a missing message", lang, path)
		}
		for user, cases := range map[string][]string{"ts.xiaozhai": {"JY-610113-000030", "JY-610113-000031"},
			"dr.yanta": {"JY-610113-000032", "JY-610113-000033", "JY-610113-000034"}} {
			h.login(user)
			for _, ref := range cases {
				status, body, _ := h.get("/console/cases/" + ref)
				require.Equal(t, http.StatusOK, status, "%s %s: %s", lang, ref, body)
				require.NotContains(t, body, "⟦", "%s %s has a missing message", lang, ref)
				for _, m := range regexp.MustCompile(`id="act-([a-z_]+)"`).FindAllStringSubmatch(body, -1) {
					path := "/console/cases/" + ref + "/act/" + m[1]
					status, form, _ := h.get(path)
					require.Equal(t, http.StatusOK, status, "%s %s: %s", lang, path, form)
					require.NotContains(t, form, "⟦", "%s %s has a missing message", lang, path)
					status, confirm, _ := h.post(path, url.Values{"csrf": {h.csrf(path)}, "reasons": {"理由"}, "items": {"录取通知书"},
						"family_status": {"dibao"}, "school_kind": {"vocational"}, "enrolment_confirmed": {"yes"}, "findings": {"核实"},
						"opinion": {"eligible"}, "tier_amount": {"5000"}})
					require.Equal(t, http.StatusOK, status, "%s %s: %s", lang, path, confirm)
					require.NotContains(t, confirm, "⟦", "%s %s confirmation has a missing message", lang, path)
					require.Contains(t, confirm, `id="confirm-action"`, path)
				}
			}
		}
	}
}
