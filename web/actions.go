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
	civicflow.ActionReturn: true, civicflow.ActionConfirmAdmission: true, civicflow.ActionRecordVerification: true,
	civicflow.ActionRecordTransferVisit: true,
	civicflow.ActionReleaseAllocation:   true,
}

// actionInput is what the action form holds.
type actionInput struct {
	Reasons, Items, Note                              string
	VisitedOn, Visitors, Findings, VisitCare, Opinion string
	Objector, CareLevel, Nonce                        string
	// RehabCentre: approving a community-rehab case names the district's centre.
	RehabCentre string
	// ReleaseReason: release_allocation, why the bed is given up before
	// admission (declined, died, no_show).
	ReleaseReason string
	// The education grant: the township's verification (the family
	// status and kind of school found, the school's confirmation of the
	// enrolment "yes" or "no", with Findings and Opinion), and the tier a
	// district approves.
	FamilyStatus, SchoolKind, Enrolment, TierAmount string
	// The district's approval of centralised care records the person's
	// choice of support (centralised, or dispersed at home with the carer
	// under a care agreement).
	SupportForm                                                      string
	CarerName, CarerRelation, CarerPhone, CarerStartsOn, CarerEndsOn string
	// TransferReason: the township's visit for a transfer says why the
	// person must move (with VisitedOn, Findings and VisitCare).
	TransferReason string
	// fresh: a new form, not yet typed in (prefilled from the case).
	fresh bool
}

func readActionInput(c echo.Context) actionInput {
	v := func(k string) string { return strings.TrimSpace(c.FormValue(k)) }
	return actionInput{Reasons: v("reasons"), ReleaseReason: v("release_reason"), Items: v("items"), Note: v("note"), VisitedOn: v("visited_on"),
		Visitors: v("visitors"), Findings: v("findings"), VisitCare: v("visit_care"), Opinion: v("opinion"),
		Objector: v("objector"), CareLevel: v("care_level"), Nonce: v("nonce"), RehabCentre: v("rehab_centre_id"),
		FamilyStatus: v("family_status"), SchoolKind: v("school_kind"), Enrolment: v("enrolment_confirmed"), TierAmount: v("tier_amount"),
		SupportForm: v("support_form"), CarerName: v("carer_name"), CarerRelation: v("carer_relation"), CarerPhone: v("carer_phone"),
		CarerStartsOn: v("carer_starts_on"), CarerEndsOn: v("carer_ends_on"), TransferReason: v("transfer_reason")}
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
	case civicflow.ActionReleaseAllocation:
		b.ReleaseReason = in.ReleaseReason
	case civicflow.ActionRecordInvestigation:
		b.HomeVisit = &wire.HomeVisitInput{VisitedOn: in.VisitedOn, Visitors: lines(in.Visitors), Findings: in.Findings,
			CareLevel: in.VisitCare, Opinion: in.Opinion}
	case civicflow.ActionLodgeObjection:
		b.Objector = in.Objector
	case civicflow.ActionRecordTransferVisit:
		b.TransferVisit = &wire.TransferVisitInput{VisitedOn: in.VisitedOn, Reason: in.TransferReason, Findings: in.Findings,
			CareLevel: in.VisitCare}
	case civicflow.ActionRecordVerification:
		v := &wire.VerificationInput{FamilyStatus: in.FamilyStatus, SchoolKind: in.SchoolKind, Findings: in.Findings, Opinion: in.Opinion}
		switch in.Enrolment {
		case "yes":
			v.EnrolmentConfirmed = new(true)
		case "no":
			v.EnrolmentConfirmed = new(false)
		}
		b.Verification = v
	case civicflow.ActionApprove:
		// Only the form of the case's process has each of these fields.
		b.CareLevel = in.CareLevel
		if id, err := strconv.ParseInt(in.RehabCentre, 10, 64); err == nil {
			b.RehabCentreID = id
		}
		if n, err := strconv.Atoi(in.TierAmount); err == nil {
			b.TierAmount = n
		}
		b.SupportForm = in.SupportForm
		if in.SupportForm == string(civicflow.SupportDispersed) {
			b.Carer = &wire.CarerInput{Name: in.CarerName, Relation: in.CarerRelation, Phone: in.CarerPhone,
				StartsOn: in.CarerStartsOn, EndsOn: in.CarerEndsOn}
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
	case strings.HasPrefix(field, "carer."):
		return "carer_" + strings.TrimPrefix(field, "carer.")
	}
	switch field {
	case "release_reason":
		return field
	case "home_visit.visited_on":
		return "visited_on"
	case "home_visit.findings":
		return "findings"
	case "home_visit.care_level":
		return "visit_care"
	case "home_visit.opinion", "home_visit":
		return "opinion"
	case "verification.family_status":
		return "family_status"
	case "verification.school_kind":
		return "school_kind"
	case "verification.enrolment_confirmed":
		return "enrolment_confirmed"
	case "verification.findings":
		return "findings"
	case "verification.opinion", "verification":
		return "opinion"
	case "carer":
		return "carer_name"
	case "transfer_visit.visited_on":
		return "visited_on"
	case "transfer_visit.reason":
		return "transfer_reason"
	case "transfer_visit.findings":
		return "findings"
	case "transfer_visit.care_level":
		return "visit_care"
	case "support_form":
		return field
	case "reasons", "note", "objector", "care_level", "rehab_centre_id", "tier_amount":
		return field
	}
	return "form"
}

// actionFormFields are the action form's field names (each has a
// catalogue message action.field.<name> for its error, and may have one
// of its own for an action, action.field.<action>.<name>).
var actionFormFields = []string{"items", "visitors", "visited_on", "findings", "visit_care", "opinion", "reasons", "note",
	"objector", "care_level", "rehab_centre_id", "family_status", "school_kind", "enrolment_confirmed", "tier_amount",
	"support_form", "carer_name", "carer_relation", "carer_phone", "carer_starts_on", "carer_ends_on", "transfer_reason", "form"}

type actionData struct {
	Case    *wire.CaseDetail
	Action  civicflow.Action
	Role    civicflow.Role
	In      actionInput
	Errors  map[string]string
	Confirm bool
	Cares   []string
	// Centres: the district's rehab centres, when a rehab case is approved.
	Centres []civicflow.RehabCentre
	// Grant: the choices of an education-grant case's forms.
	Grant *educationChoices
	// Forms and TransferReasons: the choices of the approval's form of
	// support and of a transfer visit's reason.
	Forms           []civicflow.SupportForm
	TransferReasons []civicflow.TransferReason
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
	d := actionData{Case: v, Action: act, Role: u.Role, In: in, Errors: errs, Confirm: confirm,
		Cares: []string{"self_care", "semi_dependent", "dependent"}, Forms: civicflow.SupportForms,
		TransferReasons: []civicflow.TransferReason{civicflow.TransferCarerUnable, civicflow.TransferCareLevelChanged,
			civicflow.TransferPersonsOwnRequest}}
	if in.fresh && act == civicflow.ActionRecordTransferVisit && v.Register != nil {
		// The visit starts from the reason the applicant gave.
		d.In.TransferReason = v.Register.Reason
	}
	if v.Type == civicflow.CaseTypeEducationGrant {
		d.Grant = newEducationChoices(v)
		if in.fresh {
			d.In = in.prefilled(act, v, d.Grant)
		}
	}
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

// Care says whether the case's approval may set the care level: a
// centralised-care case, or a transfer to an institution.
func (d actionData) Care() bool {
	return d.Case.Type == civicflow.CaseTypeCentralisedCare || d.Case.Type == civicflow.CaseTypeSupportTransfer
}

// ChoosesSupport says whether the approval records the person's choice
// of centralised or dispersed support: centralised care only (a transfer
// is to an institution by definition).
func (d actionData) ChoosesSupport() bool {
	return d.Action == civicflow.ActionApprove && d.Case.Type == civicflow.CaseTypeCentralisedCare
}

// Dispersed says whether the approval being typed is in dispersed support.
func (d actionData) Dispersed() bool { return d.In.SupportForm == string(civicflow.SupportDispersed) }

// AsksReasons says whether the form has a reasons field: the actions
// that need them, and those that need them for an ineligible opinion.
func (d actionData) AsksReasons() bool { return d.ReasonsRequired() || d.ReasonsIfIneligible() }

// ReasonsRequired says whether the action always needs written reasons
// (the process's rules, civicflow.NeedsReasons).
func (d actionData) ReasonsRequired() bool {
	return civicflow.NeedsReasons(d.Case.Type, d.Action, d.Role)
}

// ReasonsIfIneligible says whether the action needs reasons when its
// opinion is ineligible (the township's investigation or verification).
func (d actionData) ReasonsIfIneligible() bool {
	return d.Action == civicflow.ActionRecordInvestigation || d.Action == civicflow.ActionRecordVerification
}

func (con *Console) actionForm(c echo.Context) error {
	if rehabConsoleActions[civicflow.Action(c.Param("action"))] {
		return con.rehabActionForm(c)
	}
	return con.officialOr(c, func(u *civicflow.User, cr creds) error {
		today := con.now().In(civicflow.ChinaZone()).Format("2006-01-02")
		in := actionInput{Nonce: randomToken(), VisitedOn: today, SupportForm: string(civicflow.SupportCentralised),
			CarerStartsOn: today, fresh: true}
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
			p := con.newPage(c, "", nil)
			errs := p.inlineErrors(de, "action.field.", actionFieldToForm)
			for name := range errs {
				// An action may say its own (a verification's findings
				// are not a home visit's).
				if k := "action.field." + string(act) + "." + name; p.cat.has(k) {
					errs[name] = p.T(k)
				}
			}
			// A new nonce: the refused request used the old one.
			in.Nonce = randomToken()
			return con.actionPage(c, u, cr, http.StatusUnprocessableEntity, in, errs, false)
		case asDomain(err, &de) && de.Code == civicflow.ECONFLICT:
			// Wrong stage, or someone acted first: show the case as it is now.
			return con.showCase(c, u, cr, http.StatusConflict, "err.acted_first", nil)
		}
		return con.fail(c, err)
	})
}
