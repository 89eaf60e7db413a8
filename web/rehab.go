package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"civicflow"
	"civicflow/wire"
)

// The rehab centre's actions (issue 5) in the console: one form per action
// with the fields of the API's wire.RehabInput, the same
// confirmation step as the other actions, and the clinical record on its
// own page (GET /api/v1/cases/:ref/rehab, audited) for those the API lets
// see it.

// rehabConsoleActions are the rehab actions the console has forms for.
var rehabConsoleActions = map[civicflow.Action]bool{
	civicflow.ActionRegister: true, civicflow.ActionAssess: true, civicflow.ActionAgreePlan: true,
	civicflow.ActionRecordReview: true, civicflow.ActionClose: true, civicflow.ActionRefer: true,
}

// rehabData is the rehab part of the case page: dates and counts anyone
// who reads the case sees, and whether the clinical record may be opened.
type rehabData struct {
	Summary     *civicflow.RehabSummary
	MayClinical bool
	MaySessions bool // attendance (rehab_sessions.go)
}

// rehabView reads nothing clinical: the link to the record is offered to
// those the API would let read it, and the API decides again.
func rehabView(u *civicflow.User, v *wire.CaseDetail) *rehabData {
	return &rehabData{Summary: v.Rehab, MayClinical: civicflow.MaySeeClinical(u.Actor(), v.Scope()), MaySessions: mayRecordSessions(u, v)}
}

// rehabForm is what a rehab action's form holds, as typed.
type rehabForm struct {
	Nonce                                   string
	FileNumber, Diagnosis                   string
	Suitable, RiskLevel                     string
	Services                                []string // assess: recommended
	Physician, Findings, ReferralSuggestion string
	PlanChosen                              []string // agree_plan: the services of the plan
	Frequency, StartDate                    map[string]string
	AgreedBy, AgreedByName, ReviewInterval  string
	Reviewed                                []string // record_review: the plan's services
	Rating, ProgressNote                    map[string]string
	Closure, ReferTo, CentreID, Hospital    string
	Notes                                   string
}

func readRehabForm(c echo.Context) rehabForm {
	form, _ := c.FormParams()
	v := func(k string) string { return strings.TrimSpace(form.Get(k)) }
	f := rehabForm{Nonce: v("nonce"), FileNumber: v("file_number"), Diagnosis: v("diagnosis"), Suitable: v("suitable"),
		RiskLevel: v("risk_level"), Physician: v("physician"), Findings: v("findings"), ReferralSuggestion: v("referral_suggestion"),
		AgreedBy: v("agreed_by"), AgreedByName: v("agreed_by_name"), ReviewInterval: v("review_interval_days"),
		Closure: v("closure"), ReferTo: v("refer_to"), CentreID: v("centre_id"), Hospital: v("hospital"), Notes: v("notes"),
		Frequency: map[string]string{}, StartDate: map[string]string{}, Rating: map[string]string{}, ProgressNote: map[string]string{}}
	known := func(list []string) []string {
		var out []string
		for _, s := range list {
			if civicflow.RehabService(s).Valid() {
				out = append(out, s)
			}
		}
		return out
	}
	f.Services, f.PlanChosen, f.Reviewed = known(form["services"]), known(form["plan_service"]), known(form["review_service"])
	for _, s := range civicflow.RehabServices {
		k := string(s)
		f.Frequency[k], f.StartDate[k] = v("frequency."+k), v("start_date."+k)
		f.Rating[k], f.ProgressNote[k] = v("rating."+k), v("progress_note."+k)
	}
	return f
}

// Has says whether a service is in a list (checkbox state).
func (f rehabForm) Has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// field is one name and value of a form.
type field struct{ Name, Value string }

// Hidden is everything the form holds, carried by the confirmation page.
func (f rehabForm) Hidden() []field {
	out := []field{{"file_number", f.FileNumber}, {"diagnosis", f.Diagnosis}, {"suitable", f.Suitable},
		{"risk_level", f.RiskLevel}, {"physician", f.Physician}, {"findings", f.Findings},
		{"referral_suggestion", f.ReferralSuggestion}, {"agreed_by", f.AgreedBy}, {"agreed_by_name", f.AgreedByName},
		{"review_interval_days", f.ReviewInterval}, {"closure", f.Closure}, {"refer_to", f.ReferTo},
		{"centre_id", f.CentreID}, {"hospital", f.Hospital}, {"notes", f.Notes}}
	for _, s := range f.Services {
		out = append(out, field{"services", s})
	}
	for _, s := range f.PlanChosen {
		out = append(out, field{"plan_service", s}, field{"frequency." + s, f.Frequency[s]}, field{"start_date." + s, f.StartDate[s]})
	}
	for _, s := range f.Reviewed {
		out = append(out, field{"review_service", s}, field{"rating." + s, f.Rating[s]}, field{"progress_note." + s, f.ProgressNote[s]})
	}
	kept := out[:0]
	for _, fl := range out {
		if fl.Value != "" {
			kept = append(kept, fl)
		}
	}
	return kept
}

// body is the rehab part of the action's API request
// (wire.ActionRequest.Rehab). A number that does not parse is not sent:
// bad names its field.
func (f rehabForm) body(act civicflow.Action) (wire.RehabInput, map[string]bool) {
	var r wire.RehabInput
	bad := map[string]bool{}
	num := func(k, v string) (int, bool) {
		if v == "" {
			return 0, false
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			bad[k] = true
			return 0, false
		}
		return n, true
	}
	switch act {
	case civicflow.ActionRegister:
		r.FileNumber, r.Diagnosis = f.FileNumber, f.Diagnosis
	case civicflow.ActionAssess:
		switch f.Suitable {
		case "yes":
			r.Suitable = new(true)
		case "no":
			r.Suitable = new(false)
		}
		if n, ok := num("risk_level", f.RiskLevel); ok {
			r.RiskLevel = &n
		}
		r.Services = append([]string{}, f.Services...)
		r.Physician, r.Findings, r.ReferralSuggestion = f.Physician, f.Findings, f.ReferralSuggestion
	case civicflow.ActionAgreePlan:
		r.Plan = []wire.PlanItemInput{}
		for _, s := range f.PlanChosen {
			r.Plan = append(r.Plan, wire.PlanItemInput{Service: s, Frequency: f.Frequency[s], StartDate: f.StartDate[s]})
		}
		r.AgreedBy, r.AgreedByName = f.AgreedBy, f.AgreedByName
		r.ReviewIntervalDays, _ = num("review_interval_days", f.ReviewInterval)
	case civicflow.ActionRecordReview:
		r.Progress = []wire.ProgressInput{}
		for _, s := range f.Reviewed {
			r.Progress = append(r.Progress, wire.ProgressInput{Service: s, Rating: f.Rating[s], Note: f.ProgressNote[s]})
		}
		r.ReviewIntervalDays, _ = num("review_interval_days", f.ReviewInterval)
		r.Notes = f.Notes
	case civicflow.ActionClose:
		r.Closure, r.Notes = f.Closure, f.Notes
	case civicflow.ActionRefer:
		r.ReferTo, r.Notes = f.ReferTo, f.Notes
		if f.ReferTo == "hospital" {
			r.Hospital = f.Hospital
		} else if n, ok := num("centre_id", f.CentreID); ok {
			r.CentreID = int64(n)
		}
	}
	return r, bad
}

var indexRe = regexp.MustCompile(`\[\d+\].*$`)

// rehabFieldToForm maps the API's field names ("rehab.plan[0].frequency")
// to the form's ("plan").
func rehabFieldToForm(apiField string) string {
	f := indexRe.ReplaceAllString(strings.TrimPrefix(apiField, "rehab."), "")
	switch f {
	case "file_number", "diagnosis", "suitable", "risk_level", "services", "physician", "findings", "referral_suggestion",
		"plan", "agreed_by", "agreed_by_name", "review_interval_days", "progress", "closure", "refer_to", "centre_id",
		"hospital", "notes":
		return f
	}
	return "form"
}

// rehabFormFields are the form's field names (each has a catalogue
// message rehab.field.<name> for its error).
var rehabFormFields = []string{"file_number", "diagnosis", "suitable", "risk_level", "services", "physician", "findings",
	"referral_suggestion", "plan", "agreed_by", "agreed_by_name", "review_interval_days", "progress", "closure", "refer_to",
	"centre_id", "hospital", "notes", "form"}

type rehabActionData struct {
	Case     *wire.CaseDetail
	Action   civicflow.Action
	In       rehabForm
	Errors   map[string]string
	Confirm  bool
	Services []civicflow.RehabService // the nine
	// Offered are the services a plan may hold (the assessment's
	// recommendation when it can be read, else the nine).
	Offered    []string
	Centres    []civicflow.RehabCentre
	Closures   []string
	Ratings    []string
	RiskLevels []string
	Today      string
}

// CentreName names a centre of the list.
func (d rehabActionData) CentreName(id string) string {
	for _, c := range d.Centres {
		if strconv.FormatInt(c.ID, 10) == id {
			return c.Name
		}
	}
	return id
}

// clinicalView is a rehab case's clinical record
// (GET /api/v1/cases/:ref/rehab) with each step's content decoded.
type clinicalView struct {
	*wire.ClinicalView
	Steps []clinicalStep
}

// clinicalStep is one step of the clinical record and what the assessor
// wrote in it.
type clinicalStep struct {
	wire.ClinicalRecord
	Input recordInput
}

// recordInput is what an assessor wrote, with what the page needs to show it.
type recordInput struct{ wire.RehabInput }

func (con *Console) clinical(c echo.Context, cr creds, ref string) (*clinicalView, error) {
	var v wire.ClinicalView
	if _, err := con.api.do(c, call{method: http.MethodGet, path: "/api/v1/cases/" + url.PathEscape(ref) + "/rehab", creds: cr}, &v); err != nil {
		return nil, err
	}
	out := &clinicalView{ClinicalView: &v}
	for _, r := range v.Records {
		var content wire.ClinicalContent
		if err := json.Unmarshal(r.Content, &content); err != nil {
			return nil, fmt.Errorf("decode clinical record %d of %s: %w", r.ID, ref, err)
		}
		out.Steps = append(out.Steps, clinicalStep{ClinicalRecord: r, Input: recordInput{content.Input}})
	}
	return out, nil
}

// planServices reads, from the clinical record, the services the
// assessment recommended and those of the plan now in force (the latest
// record naming a plan).
func planServices(v *clinicalView) (recommended, plan []string) {
	for _, r := range v.Steps {
		in := r.Input
		if r.Kind == "assessment" && len(in.Services) > 0 {
			recommended = in.Services
		}
		if len(in.Plan) > 0 {
			plan = plan[:0:0]
			for _, it := range in.Plan {
				plan = append(plan, it.Service)
			}
		}
	}
	return recommended, plan
}

func (con *Console) rehabActionPage(c echo.Context, u *civicflow.User, cr creds, status int, in rehabForm, errs map[string]string, confirm bool) error {
	act := civicflow.Action(c.Param("action"))
	v, err := con.caseDetail(c, cr, c.Param("ref"))
	if err != nil {
		return con.fail(c, err)
	}
	if !v.Allows(act) {
		return con.showCase(c, u, cr, http.StatusConflict, "err.not_now", nil)
	}
	d := rehabActionData{Case: v, Action: act, In: in, Errors: errs, Confirm: confirm, Services: civicflow.RehabServices,
		Closures: []string{"goals_met", "moved_away", "withdrew", "died"}, Ratings: []string{"improved", "stable", "worse"},
		RiskLevels: []string{"0", "1", "2", "3", "4", "5"},
		Today:      con.now().In(civicflow.ChinaZone()).Format(time.DateOnly)}
	for _, s := range civicflow.RehabServices {
		d.Offered = append(d.Offered, string(s))
	}
	switch act {
	case civicflow.ActionAgreePlan, civicflow.ActionRecordReview:
		// The plan is built from the assessment and reviewed service by
		// service: both are in the clinical record (the read is audited).
		if cv, err := con.clinical(c, cr, v.Reference); err == nil {
			rec, plan := planServices(cv)
			if act == civicflow.ActionAgreePlan && len(rec) > 0 {
				d.Offered = rec
			}
			if act == civicflow.ActionRecordReview && len(d.In.Reviewed) == 0 {
				d.In.Reviewed = plan
			}
		} else if act == civicflow.ActionRecordReview {
			return con.fail(c, err)
		}
	case civicflow.ActionRefer:
		var cs wire.RehabCentres
		if _, err := con.api.do(c, call{method: http.MethodGet, path: "/api/v1/rehab/centres", creds: cr}, &cs); err != nil {
			return con.fail(c, err)
		}
		for _, ce := range cs.Centres {
			if u.RehabCentreID == 0 || ce.ID != u.RehabCentreID {
				d.Centres = append(d.Centres, ce)
			}
		}
	}
	p := con.newPage(c, "title.action", d)
	if len(errs) > 0 {
		p.Error = p.T("apply.fix")
		if m, ok := errs["form"]; ok {
			p.Error = m
		}
	}
	return con.renderPage(c, status, "rehab_action", p)
}

func (con *Console) rehabActionForm(c echo.Context) error {
	return con.officialOr(c, func(u *civicflow.User, cr creds) error {
		in := rehabForm{Nonce: randomToken(), ReviewInterval: "90"}
		if civicflow.Action(c.Param("action")) == civicflow.ActionRecordReview {
			in.ReviewInterval = ""
		}
		return con.rehabActionPage(c, u, cr, http.StatusOK, in, nil, false)
	})
}

// rehabAct is act for the rehab actions: the confirmation page first, then
// the API, once (the nonce is the Idempotency-Key); the API's 422 fields
// come back as inline errors.
func (con *Console) rehabAct(c echo.Context) error {
	return con.officialOr(c, func(u *civicflow.User, cr creds) error {
		act := civicflow.Action(c.Param("action"))
		in := readRehabForm(c)
		if in.Nonce == "" || len(in.Nonce) > 64 {
			in.Nonce = randomToken()
		}
		p := con.newPage(c, "", nil)
		body, bad := in.body(act)
		if len(bad) > 0 {
			errs := map[string]string{}
			for k := range bad {
				errs[k] = p.T("rehab.field." + k)
			}
			return con.rehabActionPage(c, u, cr, http.StatusUnprocessableEntity, in, errs, false)
		}
		if c.FormValue("confirm") != "yes" || c.FormValue("edit") != "" {
			return con.rehabActionPage(c, u, cr, http.StatusOK, in, nil, c.FormValue("edit") == "")
		}
		ref := c.Param("ref")
		_, err := con.api.do(c, call{method: http.MethodPost, path: "/api/v1/cases/" + url.PathEscape(ref) + "/actions/" + string(act),
			body: wire.ActionRequest{Rehab: &body}, creds: cr, idemKey: "console-" + in.Nonce}, nil)
		var de *civicflow.Error
		switch {
		case err == nil:
			return redirect(c, "/cases/"+url.PathEscape(ref)+"?done=action")
		case asDomain(err, &de) && de.Code == civicflow.EINVALID:
			errs := p.inlineErrors(de, "rehab.field.", rehabFieldToForm)
			// A new nonce: the refused request used the old one.
			in.Nonce = randomToken()
			return con.rehabActionPage(c, u, cr, http.StatusUnprocessableEntity, in, errs, false)
		case asDomain(err, &de) && de.Code == civicflow.ECONFLICT:
			return con.showCase(c, u, cr, http.StatusConflict, "err.acted_first", nil)
		}
		return con.fail(c, err)
	})
}

// clinicalPage shows a rehab case's clinical record to whom the API lets
// see it; every view is an audited read.
func (con *Console) clinicalPage(c echo.Context) error {
	return con.officialOr(c, func(u *civicflow.User, cr creds) error {
		v, err := con.clinical(c, cr, c.Param("ref"))
		if err != nil {
			return con.fail(c, err)
		}
		return con.render(c, http.StatusOK, "rehab_record", "title.rehab_record", v)
	})
}

// SuitableText is "yes", "no" or "" (not assessed).
func (r recordInput) SuitableText() string {
	switch {
	case r.Suitable == nil:
		return ""
	case *r.Suitable:
		return "yes"
	}
	return "no"
}

// RiskText shows a risk level (0-5).
func (r recordInput) RiskText() string {
	if r.RiskLevel == nil {
		return ""
	}
	return fmt.Sprint(*r.RiskLevel)
}
