package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"civicflow"
	"civicflow/wire"
)

// Campaigns over the register (年审, 专项排查; docs/campaigns.md): the
// supervisors' list, create form, progress board and close form, and the
// township officials' pending tasks, visit form, problem ledger and
// found-person form. Every read and write is the API's
// (/api/v1/campaigns/...), which authorises it (civicflow.AuthorizeCampaign).

// opsNavLink is one link of the navigation to the pages of this file and
// beds.go, shown by role.
type opsNavLink struct {
	Href, ID, Label string
}

// OpsNav are the navigation links to the campaign, wait-list and
// institution pages the logged-in official may use.
func (p *page) OpsNav() []opsNavLink {
	if p.User == nil {
		return nil
	}
	var out []opsNavLink
	switch p.User.Role {
	case civicflow.RoleSupervisor:
		out = append(out, opsNavLink{"/console/campaigns", "nav-campaigns", "campaign.nav"},
			opsNavLink{"/console/waitlist", "nav-waitlist", "waitlist.nav"})
	case civicflow.RoleTownshipOfficial:
		out = append(out, opsNavLink{"/console/campaigns", "nav-campaigns", "campaign.nav"})
	case civicflow.RoleDistrictReviewer:
		out = append(out, opsNavLink{"/console/waitlist", "nav-waitlist", "waitlist.nav"})
	case civicflow.RoleAdministrator:
		out = append(out, opsNavLink{"/console/admin/institutions", "nav-institutions", "beds.nav"})
	}
	return out
}

// OnDay shows a day (a time.Time or a *time.Time) in China time.
func (p *page) OnDay(t any) string {
	switch v := t.(type) {
	case time.Time:
		if v.IsZero() {
			return "—"
		}
		return p.Day(&v)
	case *time.Time:
		return p.Day(v)
	}
	return "—"
}

// opsPage is newPage with the flash of these pages (campaign.flash.*,
// beds.flash.*: the done parameter of a redirect after a form).
func (con *Console) opsPage(c echo.Context, title, flashPrefix string, data any) *page {
	p := con.newPage(c, title, data)
	if f := c.QueryParam("done"); f != "" && con.cat.has(flashPrefix+f) {
		p.Flash = flashPrefix + f
	}
	return p
}

// withErrors sets the page's error line for a form refused with errs.
func (p *page) withErrors(errs map[string]string) {
	if len(errs) == 0 {
		return
	}
	p.Error = p.T("apply.fix")
	if m, ok := errs["form"]; ok {
		p.Error = m
	}
}

// campaignInput is what the create form holds.
type campaignInput struct {
	Kind, Scope, Title, AsOf, Nonce string
}

type campaignListData struct {
	Campaigns []civicflow.Campaign
	// Scopes are what a supervisor may start a campaign over: the city
	// and every district for the city's, their district for a district's.
	Scopes     []civicflow.Jurisdiction
	Kinds      []civicflow.CampaignKind
	Supervisor bool
	In         campaignInput
	Errors     map[string]string
}

func (con *Console) campaignsOf(c echo.Context, next func(*civicflow.User, creds) error) error {
	return con.officialOr(c, func(u *civicflow.User, cr creds) error {
		if u.Role != civicflow.RoleSupervisor && u.Role != civicflow.RoleTownshipOfficial {
			return con.renderError(c, http.StatusForbidden, "err.forbidden")
		}
		return next(u, cr)
	})
}

func (con *Console) campaigns(c echo.Context) error {
	return con.campaignsOf(c, func(u *civicflow.User, cr creds) error {
		return con.showCampaigns(c, u, cr, http.StatusOK, campaignInput{Kind: string(civicflow.CampaignAnnualReview),
			Scope: u.Jurisdiction, Nonce: randomToken()}, nil)
	})
}

func (con *Console) showCampaigns(c echo.Context, u *civicflow.User, cr creds, status int, in campaignInput, errs map[string]string) error {
	var list wire.Campaigns
	if _, err := con.api.do(c, call{method: http.MethodGet, path: "/api/v1/campaigns", creds: cr}, &list); err != nil {
		return con.fail(c, err)
	}
	d := campaignListData{Campaigns: list.Campaigns, Supervisor: u.Role == civicflow.RoleSupervisor, In: in, Errors: errs,
		Kinds: []civicflow.CampaignKind{civicflow.CampaignAnnualReview, civicflow.CampaignInspection}}
	if d.Supervisor {
		var js wire.Jurisdictions
		if _, err := con.api.do(c, call{method: http.MethodGet, path: "/api/v1/jurisdictions"}, &js); err != nil {
			return con.fail(c, err)
		}
		for _, j := range js.Jurisdictions {
			city := j.Level == civicflow.LevelCity && u.Jurisdiction == civicflow.CityCode
			district := j.Level == civicflow.LevelDistrict && (u.Jurisdiction == civicflow.CityCode || u.Jurisdiction == j.Code)
			if city || district {
				d.Scopes = append(d.Scopes, j)
			}
		}
	}
	p := con.opsPage(c, "campaign.title_list", "campaign.flash.", d)
	p.withErrors(errs)
	return con.renderPage(c, status, "campaign_list", p)
}

// campaignFieldToForm maps the API's fields of a create to the form's.
func campaignFieldToForm(field string) string {
	switch field {
	case "kind", "scope", "title", "as_of":
		return field
	}
	return "form"
}

func (con *Console) createCampaign(c echo.Context) error {
	return con.campaignsOf(c, func(u *civicflow.User, cr creds) error {
		v := func(k string) string { return strings.TrimSpace(c.FormValue(k)) }
		in := campaignInput{Kind: v("kind"), Scope: v("scope"), Title: v("title"), AsOf: v("as_of"), Nonce: v("nonce")}
		if in.Nonce == "" || len(in.Nonce) > 64 {
			in.Nonce = randomToken()
		}
		var ans wire.CampaignAnswer
		_, err := con.api.do(c, call{method: http.MethodPost, path: "/api/v1/campaigns", creds: cr, idemKey: "console-" + in.Nonce,
			body: wire.CreateCampaignRequest{Kind: in.Kind, Scope: in.Scope, Title: in.Title, AsOf: in.AsOf}}, &ans)
		var de *civicflow.Error
		switch {
		case err == nil:
			return redirect(c, "/campaigns/"+strconv.FormatInt(ans.Campaign.ID, 10)+"?done=created")
		case asDomain(err, &de) && de.Code == civicflow.EINVALID:
			p := con.newPage(c, "", nil)
			in.Nonce = randomToken()
			return con.showCampaigns(c, u, cr, http.StatusUnprocessableEntity, in, p.inlineErrors(de, "campaign.field.", campaignFieldToForm))
		}
		return con.fail(c, err)
	})
}

// boardGroup is one district of the progress board with its townships.
type boardGroup struct {
	District  civicflow.BoardRow
	Townships []civicflow.BoardRow
}

type campaignBoardData struct {
	Progress wire.CampaignProgress
	Groups   []boardGroup
	// MayClose: the supervisor may close it (the API decides again).
	MayClose bool
	Nonce    string
	Note     string
	Errors   map[string]string
}

// foundInput is what the found-person form holds.
type foundInput struct {
	Name, IDNumber, Phone, CommunityCode, Address, SelfCare string
	ContactName, ContactPhone, Statement, Nonce             string
}

type campaignTasksData struct {
	Campaign civicflow.Campaign
	Tasks    []civicflow.CampaignTask
	// After is this page's start; NextAfter the next page's ("" none).
	After     int64
	NextAfter int64
	Ledger    []civicflow.LedgerItem
	// Closing is the ledger item whose close form was refused, with what
	// was typed.
	Closing     int64
	ActionTaken string
	Found       foundInput
	Township    string
	Cares       []string
	FoundCase   string
	Errors      map[string]string
	LedgerError string
}

// campaignID is the path's campaign, or 0.
func campaignID(c echo.Context) int64 {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0
	}
	return id
}

func campaignPath(id int64) string { return "/api/v1/campaigns/" + strconv.FormatInt(id, 10) }

// campaignPage is the board for a supervisor, the tasks for a township
// official.
func (con *Console) campaignPage(c echo.Context) error {
	return con.campaignsOf(c, func(u *civicflow.User, cr creds) error {
		id := campaignID(c)
		if id == 0 {
			return con.notFound(c)
		}
		if u.Role == civicflow.RoleSupervisor {
			return con.showBoard(c, u, cr, id, http.StatusOK, "", nil)
		}
		d := &campaignTasksData{Found: foundInput{Nonce: randomToken()}}
		if ref := c.QueryParam("case"); c.QueryParam("done") == "found" && validReference(ref) {
			d.FoundCase = ref
		}
		return con.showTasks(c, u, cr, id, http.StatusOK, d)
	})
}

// validReference reports whether s looks like a case reference, so that
// only one is shown back from the address.
func validReference(s string) bool {
	if len(s) < 6 || len(s) > 40 {
		return false
	}
	for _, r := range s {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}

func (con *Console) showBoard(c echo.Context, u *civicflow.User, cr creds, id int64, status int, note string, errs map[string]string) error {
	var pr wire.CampaignProgress
	if _, err := con.api.do(c, call{method: http.MethodGet, path: campaignPath(id) + "/progress", creds: cr}, &pr); err != nil {
		return con.fail(c, err)
	}
	d := campaignBoardData{Progress: pr, Nonce: randomToken(), Note: note, Errors: errs,
		MayClose: pr.Campaign.Open() && civicflow.AuthorizeCampaign(u.Actor(), civicflow.CampaignClose, pr.Campaign.Scope, "") == nil}
	for _, dist := range pr.Districts {
		g := boardGroup{District: dist}
		for _, t := range pr.Townships {
			if t.DistrictCode == dist.DistrictCode {
				g.Townships = append(g.Townships, t)
			}
		}
		d.Groups = append(d.Groups, g)
	}
	p := con.opsPage(c, "campaign.title_board", "campaign.flash.", d)
	p.withErrors(errs)
	return con.renderPage(c, status, "campaign_board", p)
}

func (con *Console) showTasks(c echo.Context, u *civicflow.User, cr creds, id int64, status int, d *campaignTasksData) error {
	var cp wire.CampaignAnswer
	if _, err := con.api.do(c, call{method: http.MethodGet, path: campaignPath(id), creds: cr}, &cp); err != nil {
		return con.fail(c, err)
	}
	after, _ := strconv.ParseInt(c.QueryParam("after"), 10, 64)
	q := url.Values{"limit": {"20"}}
	if after > 0 {
		q.Set("after", strconv.FormatInt(after, 10))
	}
	var ts wire.CampaignTasks
	if _, err := con.api.do(c, call{method: http.MethodGet, path: campaignPath(id) + "/tasks", query: q, creds: cr}, &ts); err != nil {
		return con.fail(c, err)
	}
	var led wire.LedgerItems
	if _, err := con.api.do(c, call{method: http.MethodGet, path: campaignPath(id) + "/ledger", query: url.Values{"open": {"true"}},
		creds: cr}, &led); err != nil {
		return con.fail(c, err)
	}
	d.Campaign, d.Tasks, d.After, d.NextAfter, d.Ledger = cp.Campaign, ts.Tasks, after, ts.NextAfter, led.Items
	d.Township, d.Cares = u.Jurisdiction, []string{"self_care", "semi_dependent", "dependent"}
	p := con.opsPage(c, "campaign.title_tasks", "campaign.flash.", d)
	p.withErrors(d.Errors)
	if d.LedgerError != "" {
		p.Error = d.LedgerError
	}
	return con.renderPage(c, status, "campaign_tasks", p)
}

func (con *Console) closeCampaign(c echo.Context) error {
	return con.campaignsOf(c, func(u *civicflow.User, cr creds) error {
		id := campaignID(c)
		if id == 0 || u.Role != civicflow.RoleSupervisor {
			return con.notFound(c)
		}
		note, nonce := strings.TrimSpace(c.FormValue("note")), c.FormValue("nonce")
		if nonce == "" || len(nonce) > 64 {
			nonce = randomToken()
		}
		_, err := con.api.do(c, call{method: http.MethodPost, path: campaignPath(id) + "/close", creds: cr, idemKey: "console-" + nonce,
			body: wire.CloseCampaignRequest{Note: note}}, nil)
		var de *civicflow.Error
		switch {
		case err == nil:
			return redirect(c, "/campaigns/"+strconv.FormatInt(id, 10)+"?done=closed")
		case asDomain(err, &de) && de.Code == civicflow.EINVALID:
			p := con.newPage(c, "", nil)
			return con.showBoard(c, u, cr, id, http.StatusUnprocessableEntity, note,
				p.inlineErrors(de, "campaign.field.", func(f string) string {
					if f == "note" {
						return "note"
					}
					return "form"
				}))
		case asDomain(err, &de) && de.Code == civicflow.ECONFLICT:
			return con.showBoard(c, u, cr, id, http.StatusConflict, note, map[string]string{"form": con.cat.text(sessionOf(c).lang, "campaign.closed_already")})
		}
		return con.fail(c, err)
	})
}

// visitInput is what the visit form holds.
type visitInput struct {
	VisitedOn, Findings, Outcome, Problems, Problem string
}

// problems are the ledger items a visit opens: one a line.
func (in visitInput) problems() []string {
	out := []string{}
	if in.Outcome != string(civicflow.OutcomeProblem) {
		return out
	}
	for _, l := range strings.Split(in.Problems, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

type visitData struct {
	Campaign civicflow.Campaign
	Task     civicflow.CampaignTask
	In       visitInput
	Errors   map[string]string
}

// visitFieldToForm maps the API's fields of a visit (or a ledger item)
// to the form's.
func visitFieldToForm(field string) string {
	switch {
	case strings.HasPrefix(field, "problems"):
		return "problems"
	case field == "visited_on", field == "findings", field == "outcome":
		return field
	case field == "description":
		return "problem"
	}
	return "form"
}

// task reads one of the official's tasks: the API lists tasks by ID, so
// the page after ID-1 starts with it (any state).
func (con *Console) task(c echo.Context, cr creds, id, task int64) (*civicflow.CampaignTask, error) {
	var ts wire.CampaignTasks
	q := url.Values{"state": {"all"}, "after": {strconv.FormatInt(task-1, 10)}, "limit": {"1"}}
	if _, err := con.api.do(c, call{method: http.MethodGet, path: campaignPath(id) + "/tasks", query: q, creds: cr}, &ts); err != nil {
		return nil, err
	}
	if len(ts.Tasks) == 0 || ts.Tasks[0].ID != task {
		return nil, &answeredError{status: http.StatusNotFound, err: civicflow.Errorf(civicflow.ENOTFOUND, "no task %d", task)}
	}
	return &ts.Tasks[0], nil
}

func (con *Console) showVisit(c echo.Context, cr creds, status int, in visitInput, errs map[string]string) error {
	id := campaignID(c)
	task, err := strconv.ParseInt(c.Param("task"), 10, 64)
	if id == 0 || err != nil || task <= 0 {
		return con.notFound(c)
	}
	var cp wire.CampaignAnswer
	if _, err := con.api.do(c, call{method: http.MethodGet, path: campaignPath(id), creds: cr}, &cp); err != nil {
		return con.fail(c, err)
	}
	t, err := con.task(c, cr, id, task)
	if err != nil {
		return con.fail(c, err)
	}
	p := con.opsPage(c, "campaign.title_visit", "campaign.flash.", visitData{Campaign: cp.Campaign, Task: *t, In: in, Errors: errs})
	p.withErrors(errs)
	return con.renderPage(c, status, "campaign_visit", p)
}

func (con *Console) townshipOnly(c echo.Context, next func(*civicflow.User, creds) error) error {
	return con.officialOr(c, func(u *civicflow.User, cr creds) error {
		if u.Role != civicflow.RoleTownshipOfficial {
			return con.renderError(c, http.StatusForbidden, "err.forbidden")
		}
		return next(u, cr)
	})
}

func (con *Console) visitForm(c echo.Context) error {
	return con.townshipOnly(c, func(u *civicflow.User, cr creds) error {
		today := con.now().In(civicflow.ChinaZone()).Format("2006-01-02")
		return con.showVisit(c, cr, http.StatusOK, visitInput{VisitedOn: today}, nil)
	})
}

func (con *Console) recordVisit(c echo.Context) error {
	return con.townshipOnly(c, func(u *civicflow.User, cr creds) error {
		in := visitInput{VisitedOn: strings.TrimSpace(c.FormValue("visited_on")), Findings: strings.TrimSpace(c.FormValue("findings")),
			Outcome: c.FormValue("outcome"), Problems: c.FormValue("problems")}
		path := campaignPath(campaignID(c)) + "/tasks/" + url.PathEscape(c.Param("task")) + "/visit"
		_, err := con.api.do(c, call{method: http.MethodPost, path: path, creds: cr,
			body: wire.VisitRequest{VisitedOn: in.VisitedOn, Findings: in.Findings, Outcome: in.Outcome, Problems: in.problems()}}, nil)
		return con.afterTaskWrite(c, cr, in, err, "visited")
	})
}

func (con *Console) openLedgerItem(c echo.Context) error {
	return con.townshipOnly(c, func(u *civicflow.User, cr creds) error {
		in := visitInput{Problem: strings.TrimSpace(c.FormValue("problem"))}
		path := campaignPath(campaignID(c)) + "/tasks/" + url.PathEscape(c.Param("task")) + "/ledger"
		_, err := con.api.do(c, call{method: http.MethodPost, path: path, creds: cr,
			body: wire.LedgerItemRequest{Description: in.Problem}}, nil)
		return con.afterTaskWrite(c, cr, in, err, "ledger_opened")
	})
}

// afterTaskWrite answers a visit or a new ledger item: back to the
// campaign's tasks, or the visit page with the API's refusal.
func (con *Console) afterTaskWrite(c echo.Context, cr creds, in visitInput, err error, done string) error {
	var de *civicflow.Error
	switch {
	case err == nil:
		return redirect(c, "/campaigns/"+strconv.FormatInt(campaignID(c), 10)+"?done="+done)
	case asDomain(err, &de) && de.Code == civicflow.EINVALID:
		p := con.newPage(c, "", nil)
		return con.showVisit(c, cr, http.StatusUnprocessableEntity, in, p.inlineErrors(de, "campaign.visit.field.", visitFieldToForm))
	case asDomain(err, &de) && de.Code == civicflow.ECONFLICT:
		// Recorded already (by someone else, or a second click), or the
		// campaign closed: the page as it now stands.
		p := con.newPage(c, "", nil)
		return con.showVisit(c, cr, http.StatusConflict, in, map[string]string{"form": p.T("campaign.visit.conflict")})
	}
	return con.fail(c, err)
}

func (con *Console) closeLedgerItem(c echo.Context) error {
	return con.townshipOnly(c, func(u *civicflow.User, cr creds) error {
		id := campaignID(c)
		item, err := strconv.ParseInt(c.Param("item"), 10, 64)
		if id == 0 || err != nil || item <= 0 {
			return con.notFound(c)
		}
		action := strings.TrimSpace(c.FormValue("action_taken"))
		_, err = con.api.do(c, call{method: http.MethodPost, path: campaignPath(id) + "/ledger/" + strconv.FormatInt(item, 10) + "/close",
			creds: cr, body: wire.CloseLedgerItemRequest{ActionTaken: action}}, nil)
		var de *civicflow.Error
		switch {
		case err == nil:
			return redirect(c, "/campaigns/"+strconv.FormatInt(id, 10)+"?done=ledger_closed")
		case asDomain(err, &de) && (de.Code == civicflow.EINVALID || de.Code == civicflow.ECONFLICT):
			key := "campaign.ledger.field.action_taken"
			status := http.StatusUnprocessableEntity
			if de.Code == civicflow.ECONFLICT {
				key, status = "campaign.ledger.conflict", http.StatusConflict
			}
			p := con.newPage(c, "", nil)
			return con.showTasks(c, u, cr, id, status, &campaignTasksData{Closing: item, ActionTaken: action,
				Found: foundInput{Nonce: randomToken()}, LedgerError: p.T(key)})
		}
		return con.fail(c, err)
	})
}

// foundFieldToForm maps the API's fields of a found person to the form's.
func foundFieldToForm(field string) string {
	switch field {
	case "person.name":
		return "name"
	case "person.id_number":
		return "id_number"
	case "person.phone":
		return "phone"
	case "person.community_code":
		return "community_code"
	case "person.address":
		return "address"
	case "person.self_care":
		return "self_care"
	case "contact.name", "contact":
		return "contact_name"
	case "contact.phone":
		return "contact_phone"
	case "statement":
		return "statement"
	}
	return "form"
}

// foundFormFields are the found-person form's fields (each has a message
// campaign.found.field.<name> for its error).
var foundFormFields = []string{"name", "id_number", "phone", "community_code", "address", "self_care", "contact_name",
	"contact_phone", "statement", "form"}

func (con *Console) recordFoundPerson(c echo.Context) error {
	return con.townshipOnly(c, func(u *civicflow.User, cr creds) error {
		id := campaignID(c)
		if id == 0 {
			return con.notFound(c)
		}
		v := func(k string) string { return strings.TrimSpace(c.FormValue(k)) }
		in := foundInput{Name: v("name"), IDNumber: strings.ToUpper(v("id_number")), Phone: v("phone"), CommunityCode: v("community_code"),
			Address: v("address"), SelfCare: v("self_care"), ContactName: v("contact_name"), ContactPhone: v("contact_phone"),
			Statement: v("statement"), Nonce: v("nonce")}
		if in.Nonce == "" || len(in.Nonce) > 64 {
			in.Nonce = randomToken()
		}
		body := wire.FoundPersonRequest{Statement: in.Statement,
			Person: wire.PersonInput{PersonIdentity: wire.PersonIdentity{Name: in.Name, IDNumber: in.IDNumber, Phone: in.Phone,
				HukouTownshipCode: u.Jurisdiction, CommunityCode: in.CommunityCode, Address: in.Address}, SelfCare: in.SelfCare},
			Contact: wire.CommunityContact{Name: in.ContactName, Phone: in.ContactPhone}}
		var sub wire.Submitted
		_, err := con.api.do(c, call{method: http.MethodPost, path: campaignPath(id) + "/found-persons", creds: cr,
			idemKey: "console-" + in.Nonce, body: body}, &sub)
		var de *civicflow.Error
		switch {
		case err == nil:
			return redirect(c, "/campaigns/"+strconv.FormatInt(id, 10)+"?done=found&case="+url.QueryEscape(sub.Reference))
		case asDomain(err, &de) && (de.Code == civicflow.EINVALID || de.Code == civicflow.ECONFLICT):
			p := con.newPage(c, "", nil)
			errs := map[string]string{"form": p.T("campaign.found.conflict")}
			status := http.StatusConflict
			if de.Code == civicflow.EINVALID {
				errs, status = p.inlineErrors(de, "campaign.found.field.", foundFieldToForm), http.StatusUnprocessableEntity
			}
			in.Nonce = randomToken()
			return con.showTasks(c, u, cr, id, status, &campaignTasksData{Found: in, Errors: errs})
		}
		return con.fail(c, err)
	})
}
