// Package web is civicflow's web console: server-rendered pages for
// applicants, officials, supervisors and administrators, in Chinese
// (default) and English. It is mounted on the API's Echo server and calls
// the JSON API in process for every read and action (see client.go), so
// authentication, authorisation, validation, workflow updates and the audit
// trail are exactly those of the API. Pages work without JavaScript; forms
// carry a CSRF token bound to the session (session.go). See docs/console.md.
package web

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"civicflow"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// csp allows the console's own stylesheet and nothing else: no script, no
// inline style, forms only to this server.
const csp = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Console serves the pages.
type Console struct {
	api *apiClient
	// processes are the application forms, the first at /console/apply.
	processes []*applyProcess
	cat       catalogue
	pages     map[string]*template.Template
	log       *slog.Logger
	now       func() time.Time
}

// New builds the console over apiHandler, the API's HTTP handler.
func New(apiHandler http.Handler, log *slog.Logger) (*Console, error) {
	cat, err := loadCatalogue()
	if err != nil {
		return nil, err
	}
	con := &Console{api: &apiClient{h: apiHandler}, processes: applyProcesses(), cat: cat, log: log, now: time.Now}
	if con.pages, err = parsePages(); err != nil {
		return nil, err
	}
	return con, nil
}

// Mount builds the console and adds its routes under /console to e, whose
// handler (with the API's routes) serves the console's API calls.
func Mount(e *echo.Echo, log *slog.Logger) error {
	con, err := New(e, log)
	if err != nil {
		return err
	}
	con.Register(e)
	return nil
}

// route is one row of the console's route table.
type route struct {
	method  string
	path    string
	handler echo.HandlerFunc
	upload  bool
}

func (con *Console) routes() []route {
	return []route{
		{http.MethodGet, "", con.home, false},
		{http.MethodGet, "/", con.home, false},
		{http.MethodGet, "/lang/:lang", con.switchLang, false},
		{http.MethodGet, "/static/*", con.static, false},

		// Applicants (applicant.go).
		{http.MethodGet, "/apply", con.applyForm, false}, // apply.go
		{http.MethodPost, "/apply", con.apply, false},
		{http.MethodGet, "/apply/done", con.submitted, false},
		{http.MethodGet, "/apply/:process", con.applyForm, false},
		{http.MethodPost, "/apply/:process", con.apply, false},
		{http.MethodGet, "/track", con.trackForm, false},
		{http.MethodPost, "/track", con.track, false},
		{http.MethodGet, "/my", con.myCase, false},
		{http.MethodPost, "/my/papers", con.myUpload, true},
		{http.MethodPost, "/my/supplements", con.mySupplements, false},
		{http.MethodGet, "/my/withdraw", con.withdrawForm, false},
		{http.MethodPost, "/my/withdraw", con.withdraw, false},
		{http.MethodPost, "/my/leave", con.leaveCase, false},

		// Officials (official.go).
		{http.MethodGet, "/login", con.loginForm, false},
		{http.MethodPost, "/login", con.login, false},
		{http.MethodPost, "/logout", con.logout, false},
		{http.MethodGet, "/inbox", con.inbox, false},
		{http.MethodGet, "/cases/:ref", con.casePage, false},
		{http.MethodPost, "/cases/:ref/reveal", con.reveal, false},
		{http.MethodGet, "/cases/:ref/papers/:id", con.downloadPaper, false},
		{http.MethodPost, "/cases/:ref/papers", con.officialUpload, true},
		{http.MethodGet, "/cases/:ref/act/:action", con.actionForm, false},
		{http.MethodPost, "/cases/:ref/act/:action", con.act, false},
		{http.MethodGet, "/cases/:ref/rehab", con.clinicalPage, false},    // rehab.go
		{http.MethodGet, "/cases/:ref/sessions", con.sessionsForm, false}, // rehab_sessions.go
		{http.MethodPost, "/cases/:ref/sessions", con.recordSessions, false},

		// The register of supported persons (register.go).
		{http.MethodGet, "/register", con.registerList, false},
		{http.MethodPost, "/register", con.registerList, false}, // a search by name or ID number
		{http.MethodGet, "/register/:id", con.registerEntry, false},
		{http.MethodPost, "/register/:id/reveal", con.registerReveal, false},
		{http.MethodPost, "/register/:id/terminations", con.raiseTermination, false},

		// Supervisors (supervisor.go).
		{http.MethodGet, "/board", con.board, false},
		{http.MethodPost, "/cases/:ref/reassign", con.reassign, false},
		{http.MethodPost, "/cases/:ref/note", con.note, false},
		{http.MethodPost, "/cases/:ref/remind", con.remind, false},

		// Administrators (admin.go).
		{http.MethodGet, "/admin/users", con.adminUsers, false},
		{http.MethodPost, "/admin/users", con.createUser, false},
		{http.MethodPost, "/admin/users/:id/:op", con.userOp, false},
		{http.MethodGet, "/admin/deadlines", con.adminDeadlines, false},
		{http.MethodPost, "/admin/deadlines", con.putDeadline, false},
		{http.MethodPost, "/admin/deadlines/delete", con.deleteDeadline, false},
		{http.MethodGet, "/admin/standards", con.adminStandards, false},
		{http.MethodPost, "/admin/standards", con.putStandard, false},
		{http.MethodPost, "/admin/standards/delete", con.deleteStandard, false},
		{http.MethodGet, "/admin/calendar", con.adminCalendar, false},
		{http.MethodPost, "/admin/calendar", con.putCalendarDay, false},
		{http.MethodPost, "/admin/calendar/delete", con.deleteCalendarDay, false},

		// Campaigns over the register (campaign.go).
		{http.MethodGet, "/campaigns", con.campaigns, false},
		{http.MethodPost, "/campaigns", con.createCampaign, false},
		{http.MethodGet, "/campaigns/:id", con.campaignPage, false},
		{http.MethodPost, "/campaigns/:id/close", con.closeCampaign, false},
		{http.MethodGet, "/campaigns/:id/tasks/:task", con.visitForm, false},
		{http.MethodPost, "/campaigns/:id/tasks/:task/visit", con.recordVisit, false},
		{http.MethodPost, "/campaigns/:id/tasks/:task/ledger", con.openLedgerItem, false},
		{http.MethodPost, "/campaigns/:id/ledger/:item/close", con.closeLedgerItem, false},
		{http.MethodPost, "/campaigns/:id/found-persons", con.recordFoundPerson, false},

		// The wait-list, institutions and beds (beds.go).
		{http.MethodGet, "/waitlist", con.waitlist, false},
		{http.MethodGet, "/admin/institutions", con.adminInstitutions, false},
		{http.MethodPost, "/admin/institutions", con.createInstitution, false},
		{http.MethodGet, "/admin/institutions/:id", con.institutionPage, false},
		{http.MethodPost, "/admin/institutions/:id", con.updateInstitution, false},
		{http.MethodPost, "/admin/institutions/:id/beds", con.addBed, false},
		{http.MethodPost, "/admin/institutions/:id/beds/:bed/retire", con.retireBed, false},

		{http.MethodGet, "/*", con.notFound, false},
	}
}

// Register adds the console's routes to e.
func (con *Console) Register(e *echo.Echo) {
	for _, r := range con.routes() {
		limit := "1M"
		if r.upload {
			limit = "11M"
		}
		e.Add(r.method, consolePath+r.path, con.guard(r.method, r.handler), middleware.BodyLimit(limit))
	}
}

// guard sets the console's headers and refuses a POST without this
// session's CSRF token before any handler runs.
func (con *Console) guard(method string, next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("Cache-Control", "no-store")
		// The API's no-referrer makes browsers send "Origin: null" with a
		// form, which the API's origin check refuses; same-origin keeps
		// referrers off other sites and lets same-site forms name their origin.
		h.Set("Referrer-Policy", "same-origin")
		s := sessionOf(c)
		if method == http.MethodPost && !s.checkCSRF(c) {
			return con.renderError(c, http.StatusForbidden, "err.csrf")
		}
		return next(c)
	}
}

func (con *Console) static(c echo.Context) error {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return err
	}
	name := c.Param("*")
	b, err := fs.ReadFile(sub, name)
	if err != nil || strings.Contains(name, "..") {
		return con.notFound(c)
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=3600")
	ct := "application/octet-stream"
	if strings.HasSuffix(name, ".css") {
		ct = "text/css; charset=utf-8"
	}
	return c.Blob(http.StatusOK, ct, b)
}

func (con *Console) switchLang(c echo.Context) error {
	lang := langOf(c.Param("lang"))
	setCookie(c, cookieLang, lang, int((365 * 24 * time.Hour).Seconds()))
	back := c.QueryParam("back")
	// Only a path of the console: never an open redirect.
	if !strings.HasPrefix(back, consolePath) || strings.HasPrefix(back, "//") || strings.ContainsAny(back, "\\\r\n") {
		back = consolePath + "/"
	}
	return c.Redirect(http.StatusSeeOther, back)
}

func (con *Console) home(c echo.Context) error {
	p := con.newPage(c, "title.home", nil)
	p.Data = map[string]any{"Processes": con.processLinks(p, nil)}
	return con.renderPage(c, http.StatusOK, "home", p)
}

func (con *Console) notFound(c echo.Context) error {
	return con.renderError(c, http.StatusNotFound, "err.not_found")
}

// page is what every template gets.
type page struct {
	Lang    string
	Title   string
	CSRF    string
	Path    string
	User    *civicflow.User
	HasCase bool
	Flash   string
	Error   string
	Data    any

	cat catalogue
	now time.Time
}

// T returns the catalogue's text for key in the page's language.
func (p *page) T(key string, args ...any) string { return p.cat.text(p.Lang, key, args...) }

// Stage names a stage (a civicflow.Stage or its code), from the
// vocabulary the mails use too (civicflow.Stage.Label).
func (p *page) Stage(s any) string { return civicflow.Stage(fmt.Sprint(s)).Label(p.vocabulary()) }

// Action names an action or a timeline entry (civicflow.Action.Label).
func (p *page) Action(a any) string { return civicflow.Action(fmt.Sprint(a)).Label(p.vocabulary()) }

// Deadline names a deadline rule's key: a stage or the refusal notice.
func (p *page) Deadline(key any) string {
	return civicflow.DeadlineLabel(fmt.Sprint(key), p.vocabulary())
}

// Process names a process (a civicflow.CaseType or its code), from the
// vocabulary (civicflow.CaseType.Label).
func (p *page) Process(t any) string { return civicflow.CaseType(fmt.Sprint(t)).Label(p.vocabulary()) }

// Explain is what the applicant is told of a stage of a case of process
// t: the process's own text, explain.<process>.<stage>, where the stage
// means something of its own there (a completed education grant is an
// award, not an admission), else the text all processes share,
// explain.<stage>.
func (p *page) Explain(t, stage any) string { return p.perProcess("explain.", t, stage) }

// Help is the help text of an action's form on a case of process t:
// action.help.<process>.<action>, else action.help.<action>.
func (p *page) Help(t, action any) string { return p.perProcess("action.help.", t, action) }

// ReasonsHint is the hint at an action's reasons on a case of process t:
// action.reasons_hint.<process>.<action>, else action.reasons_hint.<action>.
func (p *page) ReasonsHint(t, action any) string {
	return p.perProcess("action.reasons_hint.", t, action)
}

// perProcess looks a text up for process t first, then for every
// process. Stage and action names are not texts of this kind: they come
// from the vocabulary, one per code.
func (p *page) perProcess(prefix string, t, code any) string {
	if tt := fmt.Sprint(t); tt != "" {
		if k := prefix + tt + "." + fmt.Sprint(code); p.cat.has(k) {
			return p.T(k)
		}
	}
	return p.T(prefix + fmt.Sprint(code))
}

// vocabulary is the page's language in the domain's vocabulary.
func (p *page) vocabulary() civicflow.Lang { return civicflow.ParseLang(p.Lang) }

// Role names a role.
func (p *page) Role(r any) string { return p.T("role." + fmt.Sprint(r)) }

// Care names a care level.
func (p *page) Care(c any) string {
	if fmt.Sprint(c) == "" {
		return "—"
	}
	return p.T("care." + fmt.Sprint(c))
}

// When shows a time in China time.
func (p *page) When(t any) string {
	switch v := t.(type) {
	case time.Time:
		if v.IsZero() {
			return "—"
		}
		return v.In(civicflow.ChinaZone()).Format("2006-01-02 15:04")
	case *time.Time:
		if v == nil {
			return "—"
		}
		return p.When(*v)
	}
	return "—"
}

// Day shows a date in China time.
func (p *page) Day(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return t.In(civicflow.ChinaZone()).Format("2006-01-02")
}

// Due says how many days are left, or how late a stage is.
func (p *page) Due(due *time.Time) string {
	if due == nil {
		return p.T("due.none")
	}
	// Whole days, rounded up: 26 hours left is 2 days left, 1 hour late
	// is 1 day late.
	d := due.Sub(p.now)
	if d < 0 {
		return p.T("due.late", int(math.Ceil(-d.Hours()/24)))
	}
	days := int(math.Ceil(d.Hours() / 24))
	if days <= 1 && due.In(civicflow.ChinaZone()).YearDay() == p.now.In(civicflow.ChinaZone()).YearDay() {
		return p.T("due.today")
	}
	return p.T("due.left", days)
}

// Overdue reports whether due has passed.
func (p *page) Overdue(due *time.Time) bool { return due != nil && due.Before(p.now) }

// Has reports whether a list of actions holds a.
func (p *page) Has(list []civicflow.Action, a string) bool {
	for _, x := range list {
		if string(x) == a {
			return true
		}
	}
	return false
}

func (con *Console) newPage(c echo.Context, title string, data any) *page {
	s := sessionOf(c)
	p := &page{Lang: s.lang, Title: title, CSRF: s.csrfToken(), Path: c.Request().URL.RequestURI(), Data: data,
		HasCase: s.caseRef != "", cat: con.cat, now: con.now()}
	if u, ok := c.Get("civicflow.console.user").(*civicflow.User); ok {
		p.User = u
	}
	if f := c.QueryParam("done"); f != "" && con.cat.has("flash."+f) {
		p.Flash = "flash." + f
	}
	return p
}

// render executes a page template with the layout.
func (con *Console) render(c echo.Context, status int, name, title string, data any) error {
	return con.renderPage(c, status, name, con.newPage(c, title, data))
}

func (con *Console) renderPage(c echo.Context, status int, name string, p *page) error {
	t, ok := con.pages[name]
	if !ok {
		return fmt.Errorf("no template %q", name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		con.log.Error("render console page", "page", name, "err", err)
		return c.String(http.StatusInternalServerError, con.cat.text(p.Lang, "err.internal"))
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// renderError shows a page that says, in plain words, what went wrong.
func (con *Console) renderError(c echo.Context, status int, key string, args ...any) error {
	p := con.newPage(c, "title.error", nil)
	p.Error = p.T(key, args...)
	return con.renderPage(c, status, "error", p)
}

// errorKey picks the catalogue message for an error from the API.
func errorKey(err error) string {
	var de *civicflow.Error
	if !errors.As(err, &de) {
		return "err.internal"
	}
	switch de.Code {
	case civicflow.EINVALID, civicflow.ENOTFOUND, civicflow.ECONFLICT, civicflow.EFORBIDDEN,
		civicflow.EUNAUTHORIZED, civicflow.ETOOLARGE, civicflow.EUNAVAILABLE, civicflow.ETOOMANY:
		return "err." + de.Code
	}
	return "err.internal"
}

// inlineErrors turns the fields of the API's 422 into a form's inline
// errors: each API field under the form's name for it (toForm), the first
// message per name, from the catalogue under prefix ("action.field." …);
// "form" when no field came back.
func (p *page) inlineErrors(de *civicflow.Error, prefix string, toForm func(apiField string) string) map[string]string {
	errs := map[string]string{}
	for _, fe := range de.Fields {
		name := toForm(fe.Field)
		if _, seen := errs[name]; !seen {
			errs[name] = p.T(prefix + name)
		}
	}
	if len(errs) == 0 {
		errs["form"] = p.T(prefix + "form")
	}
	return errs
}

// statusOf is the HTTP status a console page answers an error with: the
// API's own for an error it answered, else 500.
func statusOf(err error) int {
	var ae *answeredError
	if errors.As(err, &ae) {
		return ae.status
	}
	return http.StatusInternalServerError
}

// fail shows an API error as a page (internal errors are logged).
func (con *Console) fail(c echo.Context, err error) error {
	key := errorKey(err)
	if key == "err.internal" {
		con.log.Error("console request failed", "path", c.Path(), "err", err)
	}
	return con.renderError(c, statusOf(err), key)
}

func redirect(c echo.Context, path string) error {
	return c.Redirect(http.StatusSeeOther, consolePath+path)
}

func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	layout, err := template.ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("parse layout: %w", err)
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, n)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", n, err)
		}
		pages[base] = t
	}
	return pages, nil
}
