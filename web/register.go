package web

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"civicflow"
	"civicflow/wire"
)

// The register of supported persons (在册特困人员, issue 18) in the
// console: the list within the official's jurisdiction (masked, filtered,
// paged), one entry with its changes, the audited unmasked read, the
// counts supervisors watch, and the form that raises the end of a
// person's support. Every read and write is the API's
// (GET /api/v1/register …): the API narrows the list to the
// jurisdiction, masks it and audits searches and reveals.

// registerPageSize is how many entries one page of the register lists.
const registerPageSize = 20

// registerFilter is what the register page is filtered by. The name and
// the ID number are personal data: a search for them is posted, never put
// in the page's address (browser history, proxies' logs), and its pages
// are posted too.
type registerFilter struct {
	District, Form, CareLevel, Name, IDNumber string
	IncludeEnded                              bool
	After                                     int64
}

// readRegisterFilter reads the filter from the query or the posted form.
func readRegisterFilter(value func(string) string) registerFilter {
	v := func(k string) string { return strings.TrimSpace(value(k)) }
	f := registerFilter{District: v("district"), Form: v("form"), CareLevel: v("care_level"), Name: v("name"),
		IDNumber: strings.ToUpper(v("id_number")), IncludeEnded: v("include_ended") == "yes"}
	f.After, _ = strconv.ParseInt(v("after"), 10, 64)
	return f
}

// Personal says whether the filter searches for a person.
func (f registerFilter) Personal() bool { return f.Name != "" || f.IDNumber != "" }

// query is the filter as GET /api/v1/register takes it.
func (f registerFilter) query() url.Values {
	q := url.Values{"limit": {strconv.Itoa(registerPageSize)}}
	for k, v := range map[string]string{"district": f.District, "form": f.Form, "care_level": f.CareLevel, "name": f.Name,
		"id_number": f.IDNumber} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.IncludeEnded {
		q.Set("include_ended", "true")
	}
	if f.After > 0 {
		q.Set("after", strconv.FormatInt(f.After, 10))
	}
	return q
}

// Link is the console's address of the filter's page from cursor after
// (0: the first page); only for a filter that is not Personal.
func (f registerFilter) Link(after int64) string {
	q := url.Values{}
	for k, v := range map[string]string{"district": f.District, "form": f.Form, "care_level": f.CareLevel} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.IncludeEnded {
		q.Set("include_ended", "yes")
	}
	if after > 0 {
		q.Set("after", strconv.FormatInt(after, 10))
	}
	if len(q) == 0 {
		return consolePath + "/register"
	}
	return consolePath + "/register?" + q.Encode()
}

// places names jurisdictions by code (districts, townships).
type places map[string]string

// Place names a jurisdiction, or shows its code.
func (pl places) Place(code string) string {
	if n, ok := pl[code]; ok {
		return n
	}
	return code
}

// jurisdictions reads the city's jurisdictions (a public list).
func (con *Console) jurisdictions(c echo.Context) ([]civicflow.Jurisdiction, error) {
	var js wire.Jurisdictions
	if _, err := con.api.do(c, call{method: http.MethodGet, path: "/api/v1/jurisdictions"}, &js); err != nil {
		return nil, fmt.Errorf("jurisdictions: %w", err)
	}
	return js.Jurisdictions, nil
}

// placesOf names the jurisdictions js by code.
func placesOf(js []civicflow.Jurisdiction) places {
	pl := places{}
	for _, j := range js {
		pl[j.Code] = j.Name
	}
	return pl
}

// readsRegister says whether an official of role r reads the register
// (as the API: those who read cases, except the rehab centres).
func readsRegister(r civicflow.Role) bool {
	return civicflow.CanReadCases(r) && r != civicflow.RoleRehabAssessor
}

// ReadsRegister says whether the page's official reads the register (the
// navigation links it).
func (p *page) ReadsRegister() bool { return p.User != nil && readsRegister(p.User.Role) }

// seesRegisterCounts says whether role r is shown the register's counts
// (GET /api/v1/supervision/register/counts serves these roles).
func seesRegisterCounts(r civicflow.Role) bool {
	return r == civicflow.RoleSupervisor || r == civicflow.RoleDistrictReviewer
}

// registerData is what the register page shows.
type registerData struct {
	places
	Filter  registerFilter
	Entries []*civicflow.RegisterEntry
	// Next is the cursor of the next page (0: this is the last).
	Next   int64
	Forms  []civicflow.SupportForm
	Cares  []civicflow.CareLevel
	Counts *countsView
	// Districts are offered as a filter to a city-wide official.
	Districts []civicflow.Jurisdiction
}

// countsView is the supervisors' table: persons in the register per
// district, form and care level.
type countsView struct {
	Columns []countColumn
	Rows    []countRow
	Total   int
}

type countColumn struct {
	Form      civicflow.SupportForm
	CareLevel civicflow.CareLevel
}

type countRow struct {
	DistrictCode, District string
	Cells                  []int
	Total                  int
}

// newCountsView lays the API's counts out as a table, districts in code
// order.
func newCountsView(rc wire.RegisterCounts) *countsView {
	v := &countsView{Total: rc.Total}
	cares := []civicflow.CareLevel{civicflow.CareSelf, civicflow.CareSemiDependent, civicflow.CareDependent}
	col := map[countColumn]int{}
	for _, f := range civicflow.SupportForms {
		for _, c := range cares {
			col[countColumn{f, c}] = len(v.Columns)
			v.Columns = append(v.Columns, countColumn{f, c})
		}
	}
	row := map[string]int{}
	for _, n := range rc.Counts {
		i, ok := row[n.DistrictCode]
		if !ok {
			i = len(v.Rows)
			row[n.DistrictCode] = i
			v.Rows = append(v.Rows, countRow{DistrictCode: n.DistrictCode, District: n.District, Cells: make([]int, len(v.Columns))})
		}
		if j, ok := col[countColumn{n.Form, n.CareLevel}]; ok {
			v.Rows[i].Cells[j] += n.Persons
		}
		v.Rows[i].Total += n.Persons
	}
	sort.Slice(v.Rows, func(i, j int) bool { return v.Rows[i].DistrictCode < v.Rows[j].DistrictCode })
	return v
}

// CellLink is the register filtered to a cell of the counts.
func (v *countsView) CellLink(district string, col countColumn) string {
	return registerFilter{District: district, Form: string(col.Form), CareLevel: string(col.CareLevel)}.Link(0)
}

// registerOr runs next for an official who reads the register.
func (con *Console) registerOr(c echo.Context, next func(*civicflow.User, creds) error) error {
	return con.officialOr(c, func(u *civicflow.User, cr creds) error {
		if !readsRegister(u.Role) {
			return con.renderError(c, http.StatusForbidden, "err.forbidden")
		}
		return next(u, cr)
	})
}

// registerList shows the register: GET with the filters in the address,
// POST for a search by name or ID number.
func (con *Console) registerList(c echo.Context) error {
	return con.registerOr(c, func(u *civicflow.User, cr creds) error {
		value := c.QueryParam
		if c.Request().Method == http.MethodPost {
			value = c.FormValue
		}
		f := readRegisterFilter(value)
		if c.Request().Method == http.MethodGet && f.Personal() {
			// A search typed into the address: not run from there.
			f.Name, f.IDNumber = "", ""
		}
		p := con.newPage(c, "title.register", nil)
		d := registerData{Filter: f, Forms: civicflow.SupportForms,
			Cares: []civicflow.CareLevel{civicflow.CareSelf, civicflow.CareSemiDependent, civicflow.CareDependent}}
		js, err := con.jurisdictions(c)
		if err != nil {
			return con.fail(c, err)
		}
		d.places = placesOf(js)
		var list wire.RegisterList
		_, err = con.api.do(c, call{method: http.MethodGet, path: "/api/v1/register", query: f.query(), creds: cr}, &list)
		switch {
		case err == nil:
			d.Entries, d.Next = list.Entries, list.Next
		case civicflow.ErrorCode(err) == civicflow.EINVALID:
			// The ID number is not 18 characters, say.
			p.Error = p.T("register.search_invalid")
		default:
			return con.fail(c, err)
		}
		if seesRegisterCounts(u.Role) {
			var rc wire.RegisterCounts
			if _, err := con.api.do(c, call{method: http.MethodGet, path: "/api/v1/supervision/register/counts", creds: cr}, &rc); err != nil {
				return con.fail(c, err)
			}
			d.Counts = newCountsView(rc)
		}
		if u.Jurisdiction == civicflow.CityCode {
			for _, j := range js {
				if j.Level == civicflow.LevelDistrict {
					d.Districts = append(d.Districts, j)
				}
			}
		}
		p.Data = d
		status := http.StatusOK
		if p.Error != "" {
			status = http.StatusUnprocessableEntity
		}
		return con.renderPage(c, status, "register", p)
	})
}

// terminationInput is what the termination form holds.
type terminationInput struct {
	Reason, EffectiveOn, RaisedBy, Reporter, Statement string
}

func readTerminationInput(c echo.Context) terminationInput {
	v := func(k string) string { return strings.TrimSpace(c.FormValue(k)) }
	return terminationInput{Reason: v("reason"), EffectiveOn: v("effective_on"), RaisedBy: v("raised_by"), Reporter: v("reporter"),
		Statement: v("statement")}
}

// terminationFields are the termination form's fields (each has an error
// message register.field.<name>; "form" for the rest).
var terminationFields = []string{"reason", "effective_on", "raised_by", "reporter", "statement", "form"}

// terminationFieldToForm maps the API's field names to the form's.
func terminationFieldToForm(field string) string {
	for _, f := range terminationFields {
		if f == field {
			return f
		}
	}
	return "form"
}

// entryData is what a register entry's page shows.
type entryData struct {
	places
	Entry   *civicflow.RegisterEntry
	Changes []civicflow.RegisterChange
	// MayReveal: the official may read the names and the carer's phone
	// unmasked (audited); Revealed holds them once read.
	MayReveal bool
	Revealed  *wire.RegisterRevealed
	// RaiseAs are who the official may raise the end of this support as
	// (none: no form); Reasons the reasons a termination may give.
	RaiseAs []civicflow.RaisedBy
	Reasons []civicflow.RegisterEndReason
	Term    terminationInput
	Errors  map[string]string
	// OpenCase is the open termination a second one was refused for;
	// Raised the one just raised by an official who may not read it.
	OpenCase, Raised string
}

// raiseAs is who u may raise the end of entry's support as: a township
// official on the committee's report or the township's own finding, the
// institution's staff as the institution (civicflow.MayRaiseTermination
// decides; the API decides again).
func raiseAs(u *civicflow.User, e *civicflow.RegisterEntry) []civicflow.RaisedBy {
	if e.EndsOn != nil {
		return nil
	}
	var out []civicflow.RaisedBy
	for _, by := range []civicflow.RaisedBy{civicflow.RaisedByCommittee, civicflow.RaisedByTownship, civicflow.RaisedByInstitution} {
		if civicflow.MayRaiseTermination(u.Actor(), e, by) == nil {
			out = append(out, by)
		}
	}
	return out
}

// showEntry renders an entry's page.
func (con *Console) showEntry(c echo.Context, u *civicflow.User, cr creds, status int, d entryData, errKey string) error {
	var rd wire.RegisterDetail
	if _, err := con.api.do(c, call{method: http.MethodGet, path: "/api/v1/register/" + url.PathEscape(c.Param("id")), creds: cr}, &rd); err != nil {
		return con.fail(c, err)
	}
	js, err := con.jurisdictions(c)
	if err != nil {
		return con.fail(c, err)
	}
	d.places = placesOf(js)
	d.Entry, d.Changes = rd.Entry, rd.Changes
	d.MayReveal = civicflow.MayReveal(u.Actor(), rd.Entry.Scope())
	d.RaiseAs, d.Reasons = raiseAs(u, rd.Entry), civicflow.TerminationReasons
	if d.Term == (terminationInput{}) {
		d.Term.EffectiveOn = con.now().In(civicflow.ChinaZone()).Format(time.DateOnly)
	}
	p := con.newPage(c, "title.register_entry", d)
	if errKey != "" {
		p.Error = p.T(errKey)
	}
	if len(d.Errors) > 0 {
		p.Error = p.T("register.fix")
		if m, ok := d.Errors["form"]; ok {
			p.Error = m
		}
	}
	return con.renderPage(c, status, "register_entry", p)
}

// raisedRef is the form of a termination's reference, which the entry
// page names after an official who may not read the case raised it.
var raisedRef = regexp.MustCompile(`^ZZ-[0-9]{6}-[0-9]{6}$`)

func (con *Console) registerEntry(c echo.Context) error {
	return con.registerOr(c, func(u *civicflow.User, cr creds) error {
		d := entryData{}
		if ref := c.QueryParam("raised"); raisedRef.MatchString(ref) {
			d.Raised = ref
		}
		return con.showEntry(c, u, cr, http.StatusOK, d, "")
	})
}

// registerReveal reads the entry's names and the carer's phone unmasked,
// with the official's reason (POST /api/v1/register/:id/reveal, audited).
func (con *Console) registerReveal(c echo.Context) error {
	return con.registerOr(c, func(u *civicflow.User, cr creds) error {
		var out wire.RegisterRevealed
		body := wire.RegisterRevealRequest{Reason: strings.TrimSpace(c.FormValue("reason"))}
		if _, err := con.api.do(c, call{method: http.MethodPost, path: "/api/v1/register/" + url.PathEscape(c.Param("id")) + "/reveal",
			body: body, creds: cr}, &out); err != nil {
			key := errorKey(err)
			if civicflow.ErrorCode(err) == civicflow.EINVALID {
				key = "register.reveal_invalid"
			}
			return con.showEntry(c, u, cr, statusOf(err), entryData{}, key)
		}
		return con.showEntry(c, u, cr, http.StatusOK, entryData{Revealed: &out}, "")
	})
}

// raiseTermination sends the termination form
// (POST /api/v1/register/:id/terminations) and goes on to the new case.
// There is no confirmation page: the form opens a case that the township
// reviews and the district confirms before anything ends, and a second
// form for the same person is refused with the open case's reference.
func (con *Console) raiseTermination(c echo.Context) error {
	return con.registerOr(c, func(u *civicflow.User, cr creds) error {
		in := readTerminationInput(c)
		var out wire.RegisterCaseOpened
		_, err := con.api.do(c, call{method: http.MethodPost, path: "/api/v1/register/" + url.PathEscape(c.Param("id")) + "/terminations",
			body: wire.TerminationRequest{Reason: in.Reason, EffectiveOn: in.EffectiveOn, RaisedBy: in.RaisedBy, Reporter: in.Reporter,
				Statement: in.Statement}, creds: cr}, &out)
		var de *civicflow.Error
		switch {
		case err == nil:
			// The new case is the township's: institution staff, who raised
			// it, may not read it (the API says so), and stay on the entry.
			if _, err := con.caseDetail(c, cr, out.Reference); civicflow.ErrorCode(err) == civicflow.EFORBIDDEN {
				return redirect(c, "/register/"+url.PathEscape(c.Param("id"))+"?raised="+url.QueryEscape(out.Reference))
			} else if err != nil {
				return con.fail(c, err)
			}
			return redirect(c, "/cases/"+url.PathEscape(out.Reference)+"?done=termination")
		case asDomain(err, &de) && de.Code == civicflow.EINVALID:
			p := con.newPage(c, "", nil)
			return con.showEntry(c, u, cr, statusOf(err), entryData{Term: in,
				Errors: p.inlineErrors(de, "register.field.", terminationFieldToForm)}, "")
		case asDomain(err, &de) && de.Code == civicflow.ECONFLICT:
			key := "register.term_conflict"
			if de.Reference != "" {
				key = "register.term_open"
			}
			return con.showEntry(c, u, cr, statusOf(err), entryData{Term: in, OpenCase: de.Reference}, key)
		}
		return con.fail(c, err)
	})
}

// Form names a form of support.
func (p *page) Form(f any) string { return p.named("register.form.", f) }

// EndReason names why a period of support ended.
func (p *page) EndReason(r any) string { return p.named("register.end.", r) }

// TransferReason names why a person asks to move to an institution.
func (p *page) TransferReason(r any) string { return p.named("register.transfer_reason.", r) }

// RaisedBy names who raised a transfer or a termination.
func (p *page) RaisedBy(r any) string { return p.named("register.raised_by.", r) }
