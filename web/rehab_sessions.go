package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"civicflow"
	"civicflow/wire"
)

// Attendance at a rehab case's services (issue 5): the centre records how
// many sessions of a plan service the person attended on a day
// (POST /api/v1/cases/:ref/rehab/sessions); the next review counts them.
// Routine data entry, so no confirmation page; the form posts once and
// redirects (a reload does not send it again), and its nonce is the
// request's Idempotency-Key, so the same form sent twice (a double click)
// is counted once.

// sessionForm is the attendance form as typed.
type sessionForm struct{ Nonce, Service, Sessions, On string }

type sessionData struct {
	Case   *wire.CaseDetail
	In     sessionForm
	Errors map[string]string
	// Services are the services of the plan in force (from the clinical
	// record, an audited read), else the nine; the API refuses one that is
	// not in the plan.
	Services []string
	Today    string
}

// sessionFields are the form's fields (each has a catalogue message
// sessions.field.<name> for its error).
var sessionFields = []string{"service", "sessions", "on", "form"}

// sessionFieldToForm names an API field as the form does ("form": one it
// has no field for).
func sessionFieldToForm(apiField string) string {
	if slices.Contains(sessionFields, apiField) {
		return apiField
	}
	return "form"
}

// mayRecordSessions: the centre holding a case in rehab records its
// attendance; the API decides again.
func mayRecordSessions(u *civicflow.User, v *wire.CaseDetail) bool {
	return v.Stage == civicflow.StageInRehab && civicflow.Authorize(u.Actor(), civicflow.ActionRecordSession, v.Scope()) == nil
}

func (con *Console) sessionPage(c echo.Context, u *civicflow.User, cr creds, status int, in sessionForm, errs map[string]string) error {
	v, err := con.caseDetail(c, cr, c.Param("ref"))
	if err != nil {
		return con.fail(c, err)
	}
	if !mayRecordSessions(u, v) {
		return con.showCase(c, u, cr, http.StatusConflict, "err.not_now", nil)
	}
	d := sessionData{Case: v, In: in, Errors: errs, Today: con.now().In(civicflow.ChinaZone()).Format(time.DateOnly)}
	if cv, err := con.clinical(c, cr, v.Reference); err == nil {
		_, d.Services = planServices(cv)
	}
	if len(d.Services) == 0 {
		for _, s := range civicflow.RehabServices {
			d.Services = append(d.Services, string(s))
		}
	}
	if d.In.On == "" {
		d.In.On = d.Today
	}
	p := con.newPage(c, "title.sessions", d)
	if len(errs) > 0 {
		p.Error = p.T("sessions.fix")
	}
	return con.renderPage(c, status, "rehab_sessions", p)
}

func (con *Console) sessionsForm(c echo.Context) error {
	return con.officialOr(c, func(u *civicflow.User, cr creds) error {
		return con.sessionPage(c, u, cr, http.StatusOK, sessionForm{Nonce: randomToken(), Sessions: "1"}, nil)
	})
}

// recordSessions sends the attendance to the API; its 422 fields come back
// as inline errors, with what was typed kept.
func (con *Console) recordSessions(c echo.Context) error {
	return con.officialOr(c, func(u *civicflow.User, cr creds) error {
		in := sessionForm{Nonce: strings.TrimSpace(c.FormValue("nonce")), Service: strings.TrimSpace(c.FormValue("service")),
			Sessions: strings.TrimSpace(c.FormValue("sessions")), On: strings.TrimSpace(c.FormValue("on"))}
		if in.Nonce == "" || len(in.Nonce) > 64 {
			in.Nonce = randomToken()
		}
		p := con.newPage(c, "", nil)
		n, err := strconv.Atoi(in.Sessions)
		if err != nil {
			return con.sessionPage(c, u, cr, http.StatusUnprocessableEntity, in, map[string]string{"sessions": p.T("sessions.field.sessions")})
		}
		ref := c.Param("ref")
		_, err = con.api.do(c, call{method: http.MethodPost, path: "/api/v1/cases/" + url.PathEscape(ref) + "/rehab/sessions",
			body: wire.SessionRequest{Service: in.Service, Sessions: n, On: in.On}, creds: cr, idemKey: "console-" + in.Nonce}, nil)
		var de *civicflow.Error
		switch {
		case err == nil:
			return redirect(c, "/cases/"+url.PathEscape(ref)+"?done=sessions")
		case asDomain(err, &de) && de.Code == civicflow.EINVALID:
			errs := p.inlineErrors(de, "sessions.field.", sessionFieldToForm)
			return con.sessionPage(c, u, cr, http.StatusUnprocessableEntity, in, errs)
		case asDomain(err, &de) && de.Code == civicflow.ECONFLICT:
			return con.showCase(c, u, cr, http.StatusConflict, "err.not_now", nil)
		}
		return con.fail(c, err)
	})
}
