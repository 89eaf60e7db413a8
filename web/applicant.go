package web

import (
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"civicflow"
	"civicflow/wire"
)

// Applicants have no account: the reference and access code, kept in a
// session cookie after they are shown or typed, are the credentials, sent
// to the API as X-Access-Code on every call.

// applyForm holds what the applicant typed, to fill the form again.
type applyForm struct {
	Name, IDNumber, Phone, Township, Community, Address, SelfCare string
	DisKind, DisGrade                                             string
	Relation, ApplicantName, ApplicantPhone, ApplicantEmail       string
	Statement, Nonce                                              string
}

type districtGroup struct {
	Name      string
	Townships []civicflow.Jurisdiction
}

type applyData struct {
	Form      applyForm
	Errors    map[string]string
	Districts []districtGroup
	// DisKinds and the other choices are catalogue keys' suffixes.
	DisKinds  []string
	Relations []string
	Cares     []string
}

// apiFieldToForm maps the API's field names to the form's.
var apiFieldToForm = map[string]string{
	"person.name": "name", "person.id_number": "id_number", "person.phone": "phone",
	"person.hukou_township_code": "township", "person.community_code": "community", "person.address": "address",
	"person.self_care": "self_care", "person.disability": "disability", "person.disability.kind": "disability",
	"person.disability.grade": "disability", "applicant.relation": "relation", "applicant.name": "applicant_name",
	"applicant.phone": "applicant_phone", "applicant.email": "applicant_email", "statement": "statement",
}

func (con *Console) applyData(c echo.Context, f applyForm, errs map[string]string) (*applyData, error) {
	var body wire.Jurisdictions
	if _, err := con.api.do(c, call{method: http.MethodGet, path: "/api/v1/jurisdictions"}, &body); err != nil {
		return nil, err
	}
	groups := map[string]*districtGroup{}
	var order []string
	for _, j := range body.Jurisdictions {
		switch j.Level {
		case civicflow.LevelDistrict:
			groups[j.Code] = &districtGroup{Name: j.Name}
			order = append(order, j.Code)
		case civicflow.LevelTownship:
			if g := groups[j.ParentCode]; g != nil {
				g.Townships = append(g.Townships, j)
			}
		}
	}
	sort.Strings(order)
	d := &applyData{Form: f, Errors: errs,
		DisKinds:  []string{"intellectual", "mental", "physical", "visual", "hearing", "speech"},
		Relations: []string{"self", "relative", "agent", "community"},
		Cares:     []string{"self_care", "semi_dependent", "dependent"}}
	for _, code := range order {
		if len(groups[code].Townships) > 0 {
			d.Districts = append(d.Districts, *groups[code])
		}
	}
	return d, nil
}

func (con *Console) applyForm(c echo.Context) error {
	d, err := con.applyData(c, applyForm{Relation: "relative", SelfCare: "", Nonce: randomToken()}, nil)
	if err != nil {
		return con.fail(c, err)
	}
	return con.render(c, http.StatusOK, "apply", "title.apply", d)
}

func readApplyForm(c echo.Context) applyForm {
	v := func(k string) string { return strings.TrimSpace(c.FormValue(k)) }
	return applyForm{Name: v("name"), IDNumber: strings.ToUpper(v("id_number")), Phone: v("phone"), Township: v("township"),
		Community: v("community"), Address: v("address"), SelfCare: v("self_care"), DisKind: v("disability_kind"),
		DisGrade: v("disability_grade"), Relation: v("relation"), ApplicantName: v("applicant_name"),
		ApplicantPhone: v("applicant_phone"), ApplicantEmail: v("applicant_email"), Statement: v("statement"),
		Nonce: v("nonce")}
}

// body is the API's request; the errors are the form's own, by field,
// for what cannot be sent at all.
func (f applyForm) body() (wire.ApplicationRequest, map[string]string) {
	req := wire.ApplicationRequest{
		Person: wire.PersonInput{Name: f.Name, IDNumber: f.IDNumber, Phone: f.Phone, HukouTownshipCode: f.Township,
			CommunityCode: f.Community, Address: f.Address, SelfCare: f.SelfCare},
		Applicant: wire.ApplicantInput{Relation: f.Relation, Name: f.ApplicantName, Phone: f.ApplicantPhone, Email: f.ApplicantEmail},
		Statement: f.Statement}
	errs := map[string]string{}
	if f.DisKind != "" || f.DisGrade != "" {
		g, err := strconv.Atoi(f.DisGrade)
		if err != nil || f.DisKind == "" {
			errs["disability"] = "field.disability"
		}
		req.Person.Disability = &wire.DisabilityInput{Kind: f.DisKind, Grade: g}
	}
	return req, errs
}

func (con *Console) apply(c echo.Context) error {
	f := readApplyForm(c)
	if f.Nonce == "" || len(f.Nonce) > 64 {
		f.Nonce = randomToken()
	}
	body, errs := f.body()
	var out wire.Submitted
	var err error
	if len(errs) == 0 {
		_, err = con.api.do(c, call{method: http.MethodPost, path: "/api/v1/applications", body: body,
			idemKey: "console-" + f.Nonce}, &out)
	}
	if len(errs) > 0 || err != nil {
		p := con.newPage(c, "title.apply", nil)
		status := http.StatusUnprocessableEntity
		msgs := map[string]string{}
		for k, key := range errs {
			msgs[k] = p.T(key)
		}
		var de *civicflow.Error
		switch {
		case err == nil:
		case asDomain(err, &de) && de.Code == civicflow.EINVALID:
			for _, fe := range de.Fields {
				name, ok := apiFieldToForm[fe.Field]
				if !ok {
					name = "form"
				}
				if _, seen := msgs[name]; seen {
					continue
				}
				key := "field." + name
				if fe.Reason == "is required" {
					key = "form.required"
				}
				msgs[name] = p.T(key)
			}
		case asDomain(err, &de) && de.Code == civicflow.ECONFLICT:
			status = http.StatusConflict
			msgs["form"] = p.T("apply.duplicate", de.Reference)
		default:
			return con.fail(c, err)
		}
		d, derr := con.applyData(c, f, msgs)
		if derr != nil {
			return con.fail(c, derr)
		}
		p.Data = d
		p.Error = p.T("apply.fix")
		if m, ok := msgs["form"]; ok {
			p.Error = m
		}
		return con.renderPage(c, status, "apply", p)
	}
	sessionOf(c).setCase(c, out.Reference, out.AccessCode)
	return con.render(c, http.StatusCreated, "submitted", "title.submitted", out)
}

func (con *Console) trackForm(c echo.Context) error {
	return con.render(c, http.StatusOK, "track", "title.track", map[string]string{"Ref": c.QueryParam("ref")})
}

func (con *Console) track(c echo.Context) error {
	ref := strings.TrimSpace(c.FormValue("reference"))
	code := strings.TrimSpace(c.FormValue("access_code"))
	var v wire.ApplicantCase
	_, err := con.api.do(c, call{method: http.MethodGet, path: "/api/v1/applications/" + url.PathEscape(ref),
		creds: creds{accessCode: code}}, &v)
	if ref == "" || code == "" || err != nil {
		key := "track.wrong"
		switch civicflow.ErrorCode(err) {
		case civicflow.ETOOMANY:
			key = "err.rate_limited"
		case civicflow.EUNAVAILABLE, civicflow.EINTERNAL:
			return con.fail(c, err)
		}
		p := con.newPage(c, "title.track", map[string]string{"Ref": ref})
		p.Error = p.T(key)
		return con.renderPage(c, http.StatusUnauthorized, "track", p)
	}
	sessionOf(c).setCase(c, v.Reference, code)
	return redirect(c, "/my")
}

// applicantView is the applicant's case as the pages show it.
type applicantView struct{ *wire.ApplicantCase }

// ByKey names who made a history entry, as the API says it.
func (v applicantView) ByKey(by string) string {
	switch by {
	case wire.ByApplicant:
		return "by.applicant"
	case wire.ByTownship:
		return "by.township"
	case wire.ByDistrict:
		return "by.district"
	case wire.ByInstitution:
		return "by.institution"
	}
	return "by.system"
}

// CanAddPapers reports whether papers may still be added.
func (v applicantView) CanAddPapers() bool { return v.Stage.BeforeDecision() }

// CanWithdrawNow reports whether the withdraw action fits the stage.
func (v applicantView) CanWithdrawNow() bool {
	return civicflow.Authorize(civicflow.Actor{Role: civicflow.RoleApplicant, CaseID: 1}, civicflow.ActionWithdraw,
		civicflow.Scope{CaseID: 1, Stage: v.Stage}) == nil
}

// applicantCase reads the case of the applicant's cookie through the API;
// nil (and the cookie cleared when the code no longer works) means the
// visitor must track the case first.
func (con *Console) applicantCase(c echo.Context) (*applicantView, *session, error) {
	s := sessionOf(c)
	if s.caseRef == "" {
		return nil, s, nil
	}
	var v wire.ApplicantCase
	_, err := con.api.do(c, call{method: http.MethodGet, path: "/api/v1/applications/" + url.PathEscape(s.caseRef),
		creds: creds{accessCode: s.caseCode}}, &v)
	if civicflow.ErrorCode(err) == civicflow.EUNAUTHORIZED {
		s.clearCase(c)
		return nil, s, nil
	}
	return &applicantView{&v}, s, err
}

func (con *Console) myCase(c echo.Context) error { return con.showMyCase(c, http.StatusOK, "") }

func (con *Console) showMyCase(c echo.Context, status int, errKey string) error {
	v, _, err := con.applicantCase(c)
	if err != nil {
		return con.fail(c, err)
	}
	if v == nil {
		return redirect(c, "/track")
	}
	p := con.newPage(c, "title.mycase", v)
	if errKey != "" {
		p.Error = p.T(errKey)
	}
	return con.renderPage(c, status, "mycase", p)
}

func (con *Console) myUpload(c echo.Context) error {
	s := sessionOf(c)
	if s.caseRef == "" {
		return redirect(c, "/track")
	}
	name, content, err := formFile(c)
	if err != nil {
		return con.showMyCase(c, http.StatusUnprocessableEntity, "paper.choose")
	}
	if _, err := con.api.do(c, call{method: http.MethodPost, path: "/api/v1/applications/" + url.PathEscape(s.caseRef) + "/papers",
		file: &upload{name: name, content: content}, creds: creds{accessCode: s.caseCode}}, nil); err != nil {
		key := errorKey(err)
		if civicflow.ErrorCode(err) == civicflow.EINVALID {
			key = "paper.type"
		}
		return con.showMyCase(c, statusOf(err), key)
	}
	return redirect(c, "/my?done=uploaded")
}

// formFile reads the uploaded paper of a form.
func formFile(c echo.Context) (string, []byte, error) {
	fh, err := c.FormFile("file")
	if err != nil {
		return "", nil, err
	}
	f, err := fh.Open()
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, civicflow.MaxDocumentSize+1))
	return fh.Filename, b, err
}

func (con *Console) mySupplements(c echo.Context) error {
	s := sessionOf(c)
	if s.caseRef == "" {
		return redirect(c, "/track")
	}
	form, err := c.FormParams()
	if err != nil {
		return con.showMyCase(c, http.StatusBadRequest, "err.invalid")
	}
	ids := []int64{}
	for _, v := range form["document"] {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return con.showMyCase(c, http.StatusUnprocessableEntity, "err.invalid")
		}
		ids = append(ids, id)
	}
	body := wire.SupplementsRequest{DocumentIDs: ids, Note: strings.TrimSpace(c.FormValue("note"))}
	if _, err := con.api.do(c, call{method: http.MethodPost, path: "/api/v1/applications/" + url.PathEscape(s.caseRef) + "/supplements",
		body: body, creds: creds{accessCode: s.caseCode}}, nil); err != nil {
		key := errorKey(err)
		if civicflow.ErrorCode(err) == civicflow.EINVALID {
			key = "supplements.empty"
		}
		return con.showMyCase(c, statusOf(err), key)
	}
	return redirect(c, "/my?done=supplements")
}

func (con *Console) withdrawForm(c echo.Context) error {
	v, _, err := con.applicantCase(c)
	if err != nil {
		return con.fail(c, err)
	}
	if v == nil {
		return redirect(c, "/track")
	}
	return con.render(c, http.StatusOK, "withdraw", "title.withdraw", v)
}

func (con *Console) withdraw(c echo.Context) error {
	s := sessionOf(c)
	if s.caseRef == "" {
		return redirect(c, "/track")
	}
	if c.FormValue("confirm") != "yes" {
		return redirect(c, "/my/withdraw")
	}
	body := wire.WithdrawRequest{Reasons: strings.TrimSpace(c.FormValue("reasons"))}
	if _, err := con.api.do(c, call{method: http.MethodPost, path: "/api/v1/applications/" + url.PathEscape(s.caseRef) + "/withdraw",
		body: body, creds: creds{accessCode: s.caseCode}}, nil); err != nil {
		return con.showMyCase(c, statusOf(err), errorKey(err))
	}
	return redirect(c, "/my?done=withdrawn")
}

func (con *Console) leaveCase(c echo.Context) error {
	sessionOf(c).clearCase(c)
	return redirect(c, "/")
}
