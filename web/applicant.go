package web

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"civicflow"
	"civicflow/wire"
)

// Applicants have no account: the reference and access code, kept in a
// session cookie after they are shown or typed, are the credentials, sent
// to the API as X-Access-Code on every call. The application forms, one
// per process, are in apply.go.

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
	case wire.ByRehabCentre:
		return "apply.rehab.by_centre"
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
