package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/labstack/echo/v4"

	"civicflow"
	"civicflow/wire"
)

func asDomain(err error, de **civicflow.Error) bool { return errors.As(err, de) }

// errNeedLogin sends the visitor to the login form.
var errNeedLogin = errors.New("login needed")

// official returns the logged-in official (GET /api/v1/me with the session
// token), or errNeedLogin.
func (con *Console) official(c echo.Context) (*civicflow.User, creds, error) {
	s := sessionOf(c)
	if s.token == "" {
		return nil, creds{}, errNeedLogin
	}
	var u civicflow.User
	cr := creds{token: s.token}
	if _, err := con.api.do(c, call{method: http.MethodGet, path: "/api/v1/me", creds: cr}, &u); err != nil {
		if civicflow.ErrorCode(err) == civicflow.EUNAUTHORIZED {
			s.clearOfficial(c)
			return nil, creds{}, errNeedLogin
		}
		return nil, creds{}, err
	}
	c.Set("civicflow.console.user", &u)
	return &u, cr, nil
}

// officialOr runs next for a logged-in official, or redirects to the login.
func (con *Console) officialOr(c echo.Context, next func(*civicflow.User, creds) error) error {
	u, cr, err := con.official(c)
	if errors.Is(err, errNeedLogin) {
		if c.Request().Method == http.MethodGet {
			return c.Redirect(http.StatusSeeOther, consolePath+"/login?next="+url.QueryEscape(c.Request().URL.RequestURI()))
		}
		return redirect(c, "/login")
	}
	if err != nil {
		return con.fail(c, err)
	}
	return next(u, cr)
}

// homeOf is where an official starts.
func homeOf(r civicflow.Role) string {
	switch r {
	case civicflow.RoleSupervisor:
		return "/board"
	case civicflow.RoleAdministrator:
		return "/admin/users"
	}
	return "/inbox"
}

func safeNext(next string) string {
	if strings.HasPrefix(next, consolePath+"/") && !strings.HasPrefix(next, "//") && !strings.ContainsAny(next, "\\\r\n") {
		return next
	}
	return ""
}

func (con *Console) loginForm(c echo.Context) error {
	return con.render(c, http.StatusOK, "login", "title.login", map[string]string{"Next": safeNext(c.QueryParam("next"))})
}

func (con *Console) login(c echo.Context) error {
	username := strings.TrimSpace(c.FormValue("username"))
	next := safeNext(c.FormValue("next"))
	var sess wire.Session
	_, err := con.api.do(c, call{method: http.MethodPost, path: "/api/v1/auth/login",
		body: wire.LoginRequest{Username: username, Password: c.FormValue("password")}}, &sess)
	if err != nil || sess.User == nil {
		key := "login.wrong"
		switch civicflow.ErrorCode(err) {
		case civicflow.ETOOMANY:
			key = "err.rate_limited"
		case civicflow.EUNAVAILABLE, civicflow.EINTERNAL:
			return con.fail(c, err)
		}
		p := con.newPage(c, "title.login", map[string]string{"Next": next, "Username": username})
		p.Error = p.T(key)
		return con.renderPage(c, http.StatusUnauthorized, "login", p)
	}
	sessionOf(c).setOfficial(c, sess.Token, sess.ExpiresAt)
	if next == "" {
		next = consolePath + homeOf(sess.User.Role)
	}
	return c.Redirect(http.StatusSeeOther, next)
}

func (con *Console) logout(c echo.Context) error {
	s := sessionOf(c)
	if s.token != "" {
		// Ends the session in PostgreSQL too (an error leaves it to expire).
		_, _ = con.api.do(c, call{method: http.MethodPost, path: "/api/v1/auth/logout", creds: creds{token: s.token}}, nil)
	}
	s.clearOfficial(c)
	return redirect(c, "/login?done=logged_out")
}

// waiting is what counts as work for an official: the actions the stage
// expects of them. An objection during the public notice, or giving up a
// bed before admission (release_allocation), is possible but not
// expected, so it does not put a case in the inbox.
func waiting(actions []civicflow.Action) []civicflow.Action {
	return slices.DeleteFunc(slices.Clone(actions), func(a civicflow.Action) bool {
		return a == civicflow.ActionLodgeObjection || a == civicflow.ActionReleaseAllocation
	})
}

// listCases pages through GET /api/v1/cases (scoped to the official's
// jurisdiction by the API), up to limit rows.
func (con *Console) listCases(c echo.Context, cr creds, q url.Values, limit int) ([]wire.CaseListItem, error) {
	var all []wire.CaseListItem
	after := ""
	for len(all) < limit {
		qq := url.Values{"limit": {"500"}}
		for k, v := range q {
			qq[k] = v
		}
		if after != "" {
			qq.Set("after", after)
		}
		var page wire.CaseList
		if _, err := con.api.do(c, call{method: http.MethodGet, path: "/api/v1/cases", query: qq, creds: cr}, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Cases...)
		if page.NextAfter == nil {
			break
		}
		after = fmt.Sprint(*page.NextAfter)
	}
	return all, nil
}

func (con *Console) caseDetail(c echo.Context, cr creds, ref string) (*wire.CaseDetail, error) {
	var v wire.CaseDetail
	if _, err := con.api.do(c, call{method: http.MethodGet, path: "/api/v1/cases/" + url.PathEscape(ref), creds: cr}, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// inboxRow is one case waiting for the official.
type inboxRow struct {
	*wire.CaseDetail
	Waiting []civicflow.Action
}

// inboxLimit bounds the cases an inbox looks at.
const inboxLimit = 2000

func (con *Console) inbox(c echo.Context) error {
	return con.officialOr(c, func(u *civicflow.User, cr creds) error {
		if !civicflow.CanReadCases(u.Role) {
			return redirect(c, homeOf(u.Role))
		}
		items, err := con.listCases(c, cr, nil, inboxLimit)
		if err != nil {
			return con.fail(c, err)
		}
		actor := u.Actor()
		var rows []inboxRow
		for _, it := range items {
			// A first cut from the list, then the case itself says what is
			// allowed and when the stage is due.
			sc := civicflow.Scope{CaseID: it.ID, Stage: it.Stage, DistrictCode: it.DistrictCode, TownshipCode: it.TownshipCode,
				InstitutionID: actor.InstitutionID}
			if len(waiting(civicflow.AllowedActions(actor, sc))) == 0 {
				continue
			}
			v, err := con.caseDetail(c, cr, it.Reference)
			if err != nil {
				return con.fail(c, err)
			}
			if w := waiting(v.AllowedActions); len(w) > 0 {
				rows = append(rows, inboxRow{CaseDetail: v, Waiting: w})
			}
		}
		now := con.now()
		// Overdue first (the latest most late), then by due date, then
		// cases with no time limit, oldest first.
		sort.SliceStable(rows, func(i, j int) bool {
			a, b := rows[i].StageDueAt, rows[j].StageDueAt
			switch {
			case a != nil && b != nil:
				return a.Before(*b)
			case a != nil:
				return true
			case b != nil:
				return false
			}
			return rows[i].StageEnteredAt.Before(rows[j].StageEnteredAt)
		})
		overdue := 0
		for _, r := range rows {
			if r.StageDueAt != nil && r.StageDueAt.Before(now) {
				overdue++
			}
		}
		return con.render(c, http.StatusOK, "inbox", "title.inbox", map[string]any{"Rows": rows, "Overdue": overdue})
	})
}

// caseData is what the case page shows.
type caseData struct {
	Case       *wire.CaseDetail
	Actions    []civicflow.Action
	MayReveal  bool
	Revealed   map[string]string
	Supervisor bool
	RevealKeys []string
	APIOnly    string
	// Assignees are the officials a supervisor may reassign the case to;
	// Reassignable is false in a stage where no one can be.
	Assignees    []assignee
	Reassignable bool
	Rehab        *rehabData
	// TransferVisit is the township's last visit of a transfer case.
	TransferVisit *wire.TransferVisitInput
}

// assignee is a row of GET /api/v1/supervision/cases/:ref/assignees.
type assignee struct {
	ID          int64          `json:"id"`
	Username    string         `json:"username"`
	DisplayName string         `json:"display_name"`
	Role        civicflow.Role `json:"role"`
	Current     bool           `json:"current"`
}

var revealFields = []string{"id_number", "phone", "applicant_phone", "applicant_email", "disability"}

func (con *Console) showCase(c echo.Context, u *civicflow.User, cr creds, status int, errKey string, revealed map[string]string) error {
	v, err := con.caseDetail(c, cr, c.Param("ref"))
	if err != nil {
		return con.fail(c, err)
	}
	d := caseData{Case: v, MayReveal: civicflow.MayReveal(u.Actor(), v.Scope()),
		Revealed: revealed, Supervisor: u.Role == civicflow.RoleSupervisor, RevealKeys: revealFields}
	p := con.newPage(c, "title.case", nil)
	if d.Supervisor {
		var as struct {
			Reassignable bool       `json:"reassignable"`
			Assignees    []assignee `json:"assignees"`
		}
		if _, err := con.api.do(c, call{method: http.MethodGet, path: "/api/v1/supervision/cases/" + url.PathEscape(v.Reference) + "/assignees",
			creds: cr}, &as); err != nil {
			return con.fail(c, err)
		}
		d.Assignees, d.Reassignable = as.Assignees, as.Reassignable
	}
	if v.Type == civicflow.CaseTypeCommunityRehab {
		d.Rehab = rehabView(u, v)
	}
	if v.Type == civicflow.CaseTypeSupportTransfer {
		d.TransferVisit = lastTransferVisit(v.Timeline)
	}
	// The console has forms for every action it knows; any other the role
	// may do is named, to be done through the API.
	var other []string
	for _, a := range v.AllowedActions {
		if consoleActions[a] || rehabConsoleActions[a] {
			d.Actions = append(d.Actions, a)
		} else {
			other = append(other, p.Action(a))
		}
	}
	if len(other) > 0 {
		d.APIOnly = p.T("case.api_only", strings.Join(other, "、"))
	}
	p.Data = d
	if errKey != "" {
		p.Error = p.T(errKey)
	}
	return con.renderPage(c, status, "case", p)
}

func (con *Console) casePage(c echo.Context) error {
	return con.officialOr(c, func(u *civicflow.User, cr creds) error {
		return con.showCase(c, u, cr, http.StatusOK, "", nil)
	})
}

func (con *Console) reveal(c echo.Context) error {
	return con.officialOr(c, func(u *civicflow.User, cr creds) error {
		form, _ := c.FormParams()
		body := wire.RevealRequest{Fields: form["field"], Reason: strings.TrimSpace(c.FormValue("reason"))}
		var out wire.Revealed
		if _, err := con.api.do(c, call{method: http.MethodPost, path: "/api/v1/cases/" + url.PathEscape(c.Param("ref")) + "/reveal",
			body: body, creds: cr}, &out); err != nil {
			key := errorKey(err)
			if civicflow.ErrorCode(err) == civicflow.EINVALID {
				key = "reveal.invalid"
			}
			return con.showCase(c, u, cr, statusOf(err), key, nil)
		}
		p := con.newPage(c, "", nil)
		rv := map[string]string{"id_number": out.IDNumber, "phone": out.Phone, "applicant_phone": out.ApplicantPhone,
			"applicant_email": out.ApplicantEmail}
		if d := out.Disability; d != nil {
			rv["disability"] = p.T("disability."+string(d.Kind)) + " " + p.T("disability.grade", d.Grade)
		}
		for k, v := range rv {
			if v == "" {
				delete(rv, k)
			}
		}
		return con.showCase(c, u, cr, http.StatusOK, "", rv)
	})
}

func (con *Console) downloadPaper(c echo.Context) error {
	return con.officialOr(c, func(u *civicflow.User, cr creds) error {
		rep, err := con.api.do(c, call{method: http.MethodGet, rawReply: true, creds: cr,
			path: "/api/v1/cases/" + url.PathEscape(c.Param("ref")) + "/papers/" + url.PathEscape(c.Param("id"))}, nil)
		if err != nil {
			return con.fail(c, err)
		}
		h := c.Response().Header()
		for _, k := range []string{"Content-Disposition", "X-Content-SHA256"} {
			h.Set(k, rep.header.Get(k))
		}
		return c.Blob(http.StatusOK, rep.header.Get(echo.HeaderContentType), rep.body)
	})
}

func (con *Console) officialUpload(c echo.Context) error {
	return con.officialOr(c, func(u *civicflow.User, cr creds) error {
		name, content, err := formFile(c)
		if err != nil {
			return con.showCase(c, u, cr, http.StatusUnprocessableEntity, "paper.choose", nil)
		}
		if _, err := con.api.do(c, call{method: http.MethodPost, path: "/api/v1/cases/" + url.PathEscape(c.Param("ref")) + "/papers",
			file: &upload{name: name, content: content}, creds: cr}, nil); err != nil {
			key := errorKey(err)
			if civicflow.ErrorCode(err) == civicflow.EINVALID {
				key = "paper.type"
			}
			return con.showCase(c, u, cr, statusOf(err), key, nil)
		}
		return redirect(c, "/cases/"+url.PathEscape(c.Param("ref"))+"?done=uploaded")
	})
}

// lastTransferVisit is what the township recorded at its last visit of
// a transfer (the details of its record_transfer_visit step), or nil.
func lastTransferVisit(timeline []civicflow.Event) *wire.TransferVisitInput {
	for i := len(timeline) - 1; i >= 0; i-- {
		ev := timeline[i]
		if ev.Action != civicflow.ActionRecordTransferVisit || len(ev.Details) == 0 {
			continue
		}
		var v wire.TransferVisitInput
		if err := json.Unmarshal(ev.Details, &v); err != nil {
			return nil // an unreadable record is not shown; the timeline still lists the step
		}
		return &v
	}
	return nil
}
