package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"civicflow"
	"civicflow/wire"
)

// consoleActions are the official actions the console offers, as
// POST /api/v1/cases/:ref/actions/:action takes them.
var consoleActions = map[civicflow.Action]bool{
	civicflow.ActionAccept: true, civicflow.ActionRequestSupplements: true, civicflow.ActionReject: true,
	civicflow.ActionRecordInvestigation: true, civicflow.ActionLodgeObjection: true, civicflow.ActionApprove: true,
	civicflow.ActionReturn: true, civicflow.ActionConfirmAdmission: true,
}

// actionInput is what the action form holds.
type actionInput struct {
	Reasons, Items, Note                              string
	VisitedOn, Visitors, Findings, VisitCare, Opinion string
	Objector, CareLevel, Nonce                        string
	// RehabCentre: approving a community-rehab case names the district's centre.
	RehabCentre string
}

func readActionInput(c echo.Context) actionInput {
	v := func(k string) string { return strings.TrimSpace(c.FormValue(k)) }
	return actionInput{Reasons: v("reasons"), Items: v("items"), Note: v("note"), VisitedOn: v("visited_on"),
		Visitors: v("visitors"), Findings: v("findings"), VisitCare: v("visit_care"), Opinion: v("opinion"),
		Objector: v("objector"), CareLevel: v("care_level"), Nonce: v("nonce"), RehabCentre: v("rehab_centre_id")}
}

// lines splits a list typed one item per line (or separated by commas).
func lines(s string) []string {
	out := []string{}
	for _, l := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == ',' || r == '，' || r == '、' }) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// ItemList and VisitorList show the typed lists on the confirmation page.
func (in actionInput) ItemList() []string    { return lines(in.Items) }
func (in actionInput) VisitorList() []string { return lines(in.Visitors) }

// body is the API request of the action: the fields act takes.
func (in actionInput) body(act civicflow.Action) wire.ActionRequest {
	b := wire.ActionRequest{Reasons: in.Reasons, Note: in.Note}
	switch act {
	case civicflow.ActionRequestSupplements:
		b.Items = lines(in.Items)
	case civicflow.ActionRecordInvestigation:
		b.HomeVisit = &wire.HomeVisitInput{VisitedOn: in.VisitedOn, Visitors: lines(in.Visitors), Findings: in.Findings,
			CareLevel: in.VisitCare, Opinion: in.Opinion}
	case civicflow.ActionLodgeObjection:
		b.Objector = in.Objector
	case civicflow.ActionApprove:
		b.CareLevel = in.CareLevel
		if id, err := strconv.ParseInt(in.RehabCentre, 10, 64); err == nil {
			b.RehabCentreID = id
		}
	}
	return b
}

// actionFieldToForm maps the API's and the workflow's field names to the form's.
func actionFieldToForm(field string) string {
	switch {
	case strings.HasPrefix(field, "items"):
		return "items"
	case strings.HasPrefix(field, "home_visit.visitors"):
		return "visitors"
	}
	switch field {
	case "home_visit.visited_on":
		return "visited_on"
	case "home_visit.findings":
		return "findings"
	case "home_visit.care_level":
		return "visit_care"
	case "home_visit.opinion", "home_visit":
		return "opinion"
	case "reasons", "note", "objector", "care_level", "rehab_centre_id":
		return field
	}
	return "form"
}

type actionData struct {
	Case    *wire.CaseDetail
	Action  civicflow.Action
	In      actionInput
	Errors  map[string]string
	Confirm bool
	Cares   []string
	// Centres: the district's rehab centres, when a rehab case is approved.
	Centres []civicflow.RehabCentre
}

func (con *Console) actionPage(c echo.Context, u *civicflow.User, cr creds, status int, in actionInput, errs map[string]string, confirm bool) error {
	act := civicflow.Action(c.Param("action"))
	v, err := con.caseDetail(c, cr, c.Param("ref"))
	if err != nil {
		return con.fail(c, err)
	}
	if !consoleActions[act] || !v.Allows(act) {
		// Not (or no longer) this official's to do in this stage: the case
		// page says so and shows where the case stands.
		return con.showCase(c, u, cr, http.StatusConflict, "err.not_now", nil)
	}
	d := actionData{Case: v, Action: act, In: in, Errors: errs, Confirm: confirm,
		Cares: []string{"self_care", "semi_dependent", "dependent"}}
	if act == civicflow.ActionApprove && v.Type == civicflow.CaseTypeCommunityRehab {
		var cs wire.RehabCentres
		if _, err := con.api.do(c, call{method: http.MethodGet, path: "/api/v1/rehab/centres",
			query: url.Values{"district": {v.DistrictCode}}, creds: cr}, &cs); err != nil {
			return con.fail(c, err)
		}
		d.Centres = cs.Centres
	}
	p := con.newPage(c, "title.action", d)
	if len(errs) > 0 {
		p.Error = p.T("apply.fix")
		if m, ok := errs["form"]; ok {
			p.Error = m
		}
	}
	return con.renderPage(c, status, "action", p)
}

// Rehab says whether the case is a community-rehab case.
func (d actionData) Rehab() bool { return d.Case.Type == civicflow.CaseTypeCommunityRehab }

func (con *Console) actionForm(c echo.Context) error {
	if rehabConsoleActions[civicflow.Action(c.Param("action"))] {
		return con.rehabActionForm(c)
	}
	return con.officialOr(c, func(u *civicflow.User, cr creds) error {
		in := actionInput{Nonce: randomToken(), VisitedOn: con.now().In(civicflow.ChinaZone()).Format("2006-01-02")}
		return con.actionPage(c, u, cr, http.StatusOK, in, nil, false)
	})
}

// act shows the confirmation of an action first; the confirmed form sends
// it to the API (and so to the case's workflow), once: the form's nonce is
// the update's Idempotency-Key.
func (con *Console) act(c echo.Context) error {
	if rehabConsoleActions[civicflow.Action(c.Param("action"))] {
		return con.rehabAct(c)
	}
	return con.officialOr(c, func(u *civicflow.User, cr creds) error {
		act := civicflow.Action(c.Param("action"))
		in := readActionInput(c)
		if in.Nonce == "" || len(in.Nonce) > 64 {
			in.Nonce = randomToken()
		}
		if c.FormValue("confirm") != "yes" || c.FormValue("edit") != "" {
			return con.actionPage(c, u, cr, http.StatusOK, in, nil, c.FormValue("edit") == "")
		}
		if !consoleActions[act] {
			return con.notFound(c)
		}
		ref := c.Param("ref")
		_, err := con.api.do(c, call{method: http.MethodPost, path: "/api/v1/cases/" + url.PathEscape(ref) + "/actions/" + string(act),
			body: in.body(act), creds: cr, idemKey: "console-" + in.Nonce}, nil)
		var de *civicflow.Error
		switch {
		case err == nil:
			return redirect(c, "/cases/"+url.PathEscape(ref)+"?done=action")
		case asDomain(err, &de) && de.Code == civicflow.EINVALID:
			errs := con.newPage(c, "", nil).inlineErrors(de, "action.field.", actionFieldToForm)
			return con.actionPage(c, u, cr, http.StatusUnprocessableEntity, in, errs, false)
		case asDomain(err, &de) && de.Code == civicflow.ECONFLICT:
			// Wrong stage, or someone acted first: show the case as it is now.
			return con.showCase(c, u, cr, http.StatusConflict, "err.acted_first", nil)
		}
		return con.fail(c, err)
	})
}
