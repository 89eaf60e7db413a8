package web

import (
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"civicflow"
	"civicflow/wire"
)

// The application form of every process is one page (templates/apply.html)
// rendered from a description of the process: its sections and fields, the
// API's names for them, and how the typed values become the API's request.
// A new process adds an applyProcess to applyProcesses and its labels to
// the catalogue; the page, the inline errors, the duplicate answer and the
// confirmation are shared.

const (
	// cookieSubmitted names the reference whose confirmation may be shown
	// (once) after an application was taken.
	cookieSubmitted = "cf_submitted"
	submittedFor    = 10 * time.Minute
)

// applyProcess describes one process's application form.
type applyProcess struct {
	// Key names the process in the console's paths (/console/apply/<key>;
	// centralised care, the first, is also /console/apply) and in the
	// catalogue (apply.choose.<key>).
	Key string
	// Title and Lead are catalogue keys of the page's title (and heading)
	// and its lead paragraph.
	Title, Lead string
	// APIPath is the API route the application is sent to.
	APIPath  string
	Sections []applySection
	// Defaults are the values of a new form.
	Defaults map[string]string
	// Request builds the API's request from the typed values; the map
	// holds the form's own refusals (form field → catalogue key) of what
	// cannot be sent at all.
	Request func(v formValues) (any, map[string]string)
	// Held is the catalogue key of the API's 409 that names no case (the
	// education grant: the student already holds it for the year); ""
	// says err.conflict.
	Held string
	// Whole are the API's fields that are about the form as a whole (the
	// transfer's "person": no one in the register has this ID number and
	// name), with the catalogue key of what the page says of them.
	Whole map[string]string
	// Opens says the API answers wire.RegisterCaseOpened (a case on a
	// registered person) rather than wire.Submitted.
	Opens bool
}

// applySection is a fieldset of the form.
type applySection struct {
	Legend string // catalogue key
	Hint   string // catalogue key, optional
	Fields []applyField
}

// Kinds of field.
const (
	kindText     = "text"
	kindTextarea = "textarea"
	kindSelect   = "select"
	kindTownship = "township" // a select of the street offices and towns, by district
	kindCheckbox = "checkbox" // sent as "yes" when ticked
	kindGroup    = "group"    // fields shown together, with one error
)

// applyField is one field of the form (or, kindGroup, several).
type applyField struct {
	Name     string // the form's name for it, its element id and its key in the errors
	Kind     string
	Label    string // catalogue key
	Hint     string // catalogue key, optional
	Required bool
	// Err is the catalogue key of its error ("field.<name>" when empty);
	// an API field missing altogether says "form.required" instead.
	Err string
	// API are the API's names of the field in its 422 answers.
	API []string
	// Input details: type, inputmode, maxlength and autocomplete
	// attributes; Upper upper-cases what was typed (the X of an ID number).
	Type, InputMode, Autocomplete string
	MaxLen                        int
	Upper                         bool
	// Options of a select: values and their catalogue keys; Blank is the
	// catalogue key of the empty choice ("" for none).
	Options []applyOption
	// Choices are options that depend on the day the form is shown (the
	// admission years), after Options.
	Choices func(now time.Time) []applyOption
	Blank   string
	Fields  []applyField // kindGroup
}

// applyOption is one choice of a select.
type applyOption struct {
	Value string
	Label string // catalogue key
	Arg   any    // argument of the label's message, if it takes one
}

// formValues are what the applicant typed, by field name.
type formValues map[string]string

// yes reports whether a checkbox was ticked.
func (v formValues) yes(name string) bool { return v[name] == "yes" }

// identity is the person's identity fields, which every process's form
// has under the same names (personFields).
func (v formValues) identity() wire.PersonIdentity {
	return wire.PersonIdentity{Name: v["name"], IDNumber: v["id_number"], Phone: v["phone"], HukouTownshipCode: v["township"],
		CommunityCode: v["community"], Address: v["address"]}
}

// options are the choices values, labelled by the catalogue keys prefix+value.
func options(prefix string, values ...string) []applyOption {
	out := make([]applyOption, len(values))
	for i, v := range values {
		out[i] = applyOption{Value: v, Label: prefix + v}
	}
	return out
}

// personFields are the person's fields every process asks for, with the
// API's names of them (the same in every process's request).
func personFields(nameLabel, phoneLabel string) []applyField {
	return []applyField{
		{Name: "name", Kind: kindText, Label: nameLabel, Required: true, Autocomplete: "off", API: []string{"person.name"}},
		{Name: "id_number", Kind: kindText, Label: "apply.id_number", Hint: "apply.id_number_hint", Required: true, InputMode: "text",
			MaxLen: 18, Autocomplete: "off", Upper: true, API: []string{"person.id_number"}},
		{Name: "phone", Kind: kindText, Label: phoneLabel, Type: "tel", InputMode: "numeric", MaxLen: 11, API: []string{"person.phone"}},
		{Name: "township", Kind: kindTownship, Label: "apply.township", Hint: "apply.township_hint", Required: true, Blank: "form.choose",
			API: []string{"person.hukou_township_code"}},
		{Name: "community", Kind: kindText, Label: "apply.community", Hint: "apply.community_hint", InputMode: "numeric", MaxLen: 12,
			API: []string{"person.community_code"}},
		{Name: "address", Kind: kindText, Label: "apply.address", Required: true, MaxLen: 200, API: []string{"person.address"}},
	}
}

// contactFields are the applicant's name and contact fields.
func contactFields(nameHint string) []applyField {
	return []applyField{
		{Name: "applicant_name", Kind: kindText, Label: "apply.applicant_name", Hint: nameHint, API: []string{"applicant.name"}},
		{Name: "applicant_phone", Kind: kindText, Label: "apply.applicant_phone", Type: "tel", InputMode: "numeric", MaxLen: 11,
			API: []string{"applicant.phone"}},
		{Name: "applicant_email", Kind: kindText, Label: "apply.applicant_email", Type: "email", API: []string{"applicant.email"}},
	}
}

// statementField is the free-text statement of an application.
func statementField(hint string) applyField {
	return applyField{Name: "statement", Kind: kindTextarea, Label: "apply.statement", Hint: hint, MaxLen: 2000, API: []string{"statement"}}
}

// applyProcesses are the processes the console takes applications for,
// the first the default of /console/apply.
func applyProcesses() []*applyProcess {
	return []*applyProcess{careProcess(), rehabProcess(), educationProcess(), transferProcess()}
}

// careProcess is centralised support for extremely poor persons
// (特困人员集中供养, POST /api/v1/applications).
func careProcess() *applyProcess {
	grades := make([]applyOption, 4)
	for i := range grades {
		grades[i] = applyOption{Value: strconv.Itoa(i + 1), Label: "disability.grade", Arg: i + 1}
	}
	person := append(personFields("apply.name", "apply.phone"),
		applyField{Name: "self_care", Kind: kindSelect, Label: "apply.self_care", Required: true, Blank: "form.choose",
			Options: options("care.", "self_care", "semi_dependent", "dependent"), API: []string{"person.self_care"}},
		applyField{Name: "disability", Kind: kindGroup, Label: "apply.disability", Hint: "apply.disability_hint",
			API: []string{"person.disability", "person.disability.kind", "person.disability.grade"},
			Fields: []applyField{
				{Name: "disability_kind", Kind: kindSelect, Label: "apply.disability_kind", Blank: "apply.disability_none",
					Options: options("disability.", "intellectual", "mental", "physical", "visual", "hearing", "speech")},
				{Name: "disability_grade", Kind: kindSelect, Label: "apply.disability_grade", Blank: "apply.choose.dash", Options: grades},
			}})
	applicant := append([]applyField{{Name: "relation", Kind: kindSelect, Label: "apply.relation", Required: true,
		Options: options("relation.", "self", "relative", "agent", "community"), API: []string{"applicant.relation"}}},
		contactFields("apply.applicant_name_hint")...)
	return &applyProcess{Key: "care", Title: "title.apply", Lead: "apply.lead", APIPath: "/api/v1/applications",
		Sections: []applySection{{Legend: "apply.person", Fields: person},
			{Legend: "apply.applicant", Fields: append(applicant, statementField(""))}},
		Defaults: map[string]string{"relation": "relative"},
		Request: func(v formValues) (any, map[string]string) {
			req := wire.ApplicationRequest{
				Person: wire.PersonInput{PersonIdentity: v.identity(), SelfCare: v["self_care"]},
				Applicant: wire.ApplicantInput{Relation: v["relation"], Name: v["applicant_name"], Phone: v["applicant_phone"],
					Email: v["applicant_email"]},
				Statement: v["statement"]}
			errs := map[string]string{}
			if kind, grade := v["disability_kind"], v["disability_grade"]; kind != "" || grade != "" {
				g, err := strconv.Atoi(grade)
				if err != nil || kind == "" {
					errs["disability"] = "field.disability"
				}
				req.Person.Disability = &wire.DisabilityInput{Kind: kind, Grade: g}
			}
			return req, errs
		}}
}

// rehabProcess is community rehabilitation for mental disorders
// (精神障碍社区康复, POST /api/v1/rehab/applications). It asks for nothing
// clinical: the centre records the diagnosis at registration.
func rehabProcess() *applyProcess {
	person := append(personFields("apply.rehab.name", "apply.phone"),
		applyField{Name: "without_capacity", Kind: kindCheckbox, Label: "apply.rehab.without_capacity",
			Hint: "apply.rehab.without_capacity_hint", Err: "apply.rehab.field.without_capacity", API: []string{"person.without_capacity"}})
	applicant := append([]applyField{{Name: "applied_by", Kind: kindSelect, Label: "apply.rehab.applied_by", Required: true,
		Blank: "form.choose", Options: options("apply.rehab.applied_by.", "patient", "family", "guardian"),
		Err: "apply.rehab.field.applied_by", API: []string{"applicant.applied_by"}}},
		contactFields("apply.rehab.applicant_name_hint")...)
	guardian := []applyField{
		{Name: "guardian_consent", Kind: kindCheckbox, Label: "apply.rehab.guardian_consent", Err: "apply.rehab.field.guardian_consent",
			API: []string{"applicant.guardian_consent"}},
		{Name: "consent_on", Kind: kindText, Type: "date", Label: "apply.rehab.consent_on", Hint: "apply.rehab.consent_on_hint",
			Err: "apply.rehab.field.consent_on", API: []string{"applicant.consent_on"}},
	}
	return &applyProcess{Key: "rehab", Title: "apply.rehab.title", Lead: "apply.rehab.lead", APIPath: "/api/v1/rehab/applications",
		Sections: []applySection{{Legend: "apply.rehab.person", Fields: person},
			{Legend: "apply.applicant", Fields: applicant},
			{Legend: "apply.rehab.guardian", Hint: "apply.rehab.guardian_hint", Fields: guardian},
			{Legend: "apply.rehab.more", Fields: []applyField{statementField("apply.rehab.statement_hint")}}},
		Request: func(v formValues) (any, map[string]string) {
			return wire.RehabApplicationRequest{
				Person: wire.RehabPersonInput{PersonIdentity: v.identity(), WithoutCapacity: v.yes("without_capacity")},
				Applicant: wire.RehabApplicantInput{AppliedBy: v["applied_by"], Name: v["applicant_name"], Phone: v["applicant_phone"],
					Email: v["applicant_email"], GuardianConsent: v.yes("guardian_consent"), ConsentOn: v["consent_on"]},
				Statement: v["statement"]}, nil
		}}
}

// educationProcess is the education grant for low-income college
// freshmen (教育资助, POST /api/v1/education/applications). The person is
// the student; a parent or other relative, an agent or the community may
// apply for them. What is declared of the family and the school, the
// township verifies.
func educationProcess() *applyProcess {
	person := personFields("apply.education.name", "apply.education.phone")
	applicant := append([]applyField{{Name: "relation", Kind: kindSelect, Label: "apply.education.relation", Required: true,
		Options: options("apply.education.relation.", "self", "relative", "agent", "community"),
		Err:     "apply.education.field.relation", API: []string{"applicant.relation"}}},
		contactFields("apply.education.applicant_name_hint")...)
	admission := []applyField{
		{Name: "family_status", Kind: kindSelect, Label: "apply.education.family_status", Required: true, Blank: "form.choose",
			Options: options("education.family.", string(civicflow.FamilyDibao), string(civicflow.FamilyDibaoMargin),
				string(civicflow.FamilyExtremelyPoor)),
			Err: "apply.education.field.family_status", API: []string{"education.family_status"}},
		{Name: "school", Kind: kindText, Label: "apply.education.school", Required: true, MaxLen: 100,
			Err: "apply.education.field.school", API: []string{"education.school"}},
		{Name: "school_kind", Kind: kindSelect, Label: "apply.education.school_kind", Required: true, Blank: "form.choose",
			Options: options("education.school.", string(civicflow.SchoolUndergraduate), string(civicflow.SchoolVocational)),
			Err:     "apply.education.field.school_kind", API: []string{"education.school_kind"}},
		{Name: "major", Kind: kindText, Label: "apply.education.major", MaxLen: 100,
			Err: "apply.education.field.major", API: []string{"education.major"}},
		{Name: "admission_year", Kind: kindSelect, Label: "apply.education.admission_year", Hint: "apply.education.admission_year_hint",
			Required: true, Blank: "form.choose", Choices: admissionYears,
			Err: "apply.education.field.admission_year", API: []string{"education.admission_year"}},
		{Name: "notice_number", Kind: kindText, Label: "apply.education.notice_number", Hint: "apply.education.notice_number_hint",
			Required: true, MaxLen: 40, Autocomplete: "off", Err: "apply.education.field.notice_number", API: []string{"education.notice_number"}},
	}
	return &applyProcess{Key: "education", Title: "apply.education.title", Lead: "apply.education.lead",
		APIPath: "/api/v1/education/applications", Held: "apply.education.held",
		Sections: []applySection{{Legend: "apply.education.student", Fields: person},
			{Legend: "apply.applicant", Fields: applicant},
			{Legend: "apply.education.admission", Hint: "apply.education.admission_hint", Fields: admission},
			{Legend: "apply.education.more", Fields: []applyField{statementField("apply.education.statement_hint")}}},
		Defaults: map[string]string{"relation": "self"},
		Request: func(v formValues) (any, map[string]string) {
			req := wire.EducationApplicationRequest{
				Person: wire.EducationPersonInput{PersonIdentity: v.identity()},
				Applicant: wire.ApplicantInput{Relation: v["relation"], Name: v["applicant_name"], Phone: v["applicant_phone"],
					Email: v["applicant_email"]},
				Education: wire.EducationInput{FamilyStatus: v["family_status"], School: v["school"], SchoolKind: v["school_kind"],
					Major: v["major"], NoticeNumber: v["notice_number"]},
				Statement: v["statement"]}
			errs := map[string]string{}
			if y := v["admission_year"]; y != "" {
				n, err := strconv.Atoi(y)
				if err != nil {
					errs["admission_year"] = "apply.education.field.admission_year"
				}
				req.Education.AdmissionYear = n
			}
			return req, errs
		}}
}

// transferProcess is the move of a person in dispersed support to an
// institution (分散供养转集中供养, POST /api/v1/transfer/applications):
// the person, or a relative (often the carer who can no longer go on),
// asks for it. The person is found in the register by ID number and
// name, so nothing else is asked of them; the township visits.
func transferProcess() *applyProcess {
	person := []applyField{
		{Name: "id_number", Kind: kindText, Label: "apply.id_number", Hint: "apply.id_number_hint", Required: true, InputMode: "text",
			MaxLen: 18, Autocomplete: "off", Upper: true, API: []string{"person.id_number"}},
		{Name: "name", Kind: kindText, Label: "apply.transfer.name", Hint: "apply.transfer.name_hint", Required: true, MaxLen: 50,
			Autocomplete: "off", API: []string{"person.name"}},
	}
	applicant := append([]applyField{{Name: "relation", Kind: kindSelect, Label: "apply.transfer.relation", Required: true,
		Options: options("apply.transfer.relation.", "self", "relative"), Err: "apply.transfer.field.relation",
		API: []string{"applicant.relation"}}},
		contactFields("apply.transfer.applicant_name_hint")...)
	request := []applyField{
		{Name: "reason", Kind: kindSelect, Label: "apply.transfer.reason", Required: true, Blank: "form.choose",
			Options: options("register.transfer_reason.", string(civicflow.TransferCarerUnable), string(civicflow.TransferCareLevelChanged),
				string(civicflow.TransferPersonsOwnRequest)),
			Err: "apply.transfer.field.reason", API: []string{"reason"}},
		statementField("apply.transfer.statement_hint"),
	}
	return &applyProcess{Key: "transfer", Title: "apply.transfer.title", Lead: "apply.transfer.lead",
		APIPath: "/api/v1/transfer/applications", Opens: true,
		Whole: map[string]string{"person": "apply.transfer.not_found"},
		Sections: []applySection{{Legend: "apply.transfer.person", Hint: "apply.transfer.person_hint", Fields: person},
			{Legend: "apply.applicant", Fields: applicant},
			{Legend: "apply.transfer.request", Fields: request}},
		Defaults: map[string]string{"relation": "relative"},
		Request: func(v formValues) (any, map[string]string) {
			var req wire.TransferApplicationRequest
			req.Person.IDNumber, req.Person.Name = v["id_number"], v["name"]
			req.Applicant.Relation, req.Applicant.Name = v["relation"], v["applicant_name"]
			req.Applicant.Phone, req.Applicant.Email = v["applicant_phone"], v["applicant_email"]
			req.Reason, req.Statement = v["reason"], v["statement"]
			return req, nil
		}}
}

// admissionYears are the years a freshman may have been admitted in,
// seen on the day now in China: this year's and last year's (the API
// takes no other).
func admissionYears(now time.Time) []applyOption {
	y := now.In(civicflow.ChinaZone()).Year()
	return []applyOption{{Value: strconv.Itoa(y), Label: "apply.education.year", Arg: y},
		{Value: strconv.Itoa(y - 1), Label: "apply.education.year", Arg: y - 1}}
}

// fields are the process's fields, groups opened.
func (pr *applyProcess) fields() []applyField {
	var out []applyField
	for _, s := range pr.Sections {
		for _, f := range s.Fields {
			out = append(out, f)
			out = append(out, f.Fields...)
		}
	}
	return out
}

// formName is the form's name for a field of the API's 422 ("form": one the
// form does not have).
func (pr *applyProcess) formName(apiField string) string {
	for _, f := range pr.fields() {
		for _, a := range f.API {
			if a == apiField {
				return f.Name
			}
		}
	}
	return "form"
}

// errKey is the catalogue key of a field's error.
func (pr *applyProcess) errKey(name string) string {
	for _, f := range pr.fields() {
		if f.Name == name && f.Err != "" {
			return f.Err
		}
	}
	return "field." + name
}

// path is the console's path of the form.
func (pr *applyProcess) path(first bool) string {
	if first {
		return "/apply"
	}
	return "/apply/" + pr.Key
}

// process finds the process of the path ("" for the first).
func (con *Console) process(key string) (*applyProcess, bool) {
	if key == "" {
		return con.processes[0], true
	}
	for i, pr := range con.processes {
		if pr.Key == key && i > 0 {
			return pr, true
		}
	}
	return nil, false
}

// read takes the process's values from the posted form.
func (pr *applyProcess) read(c echo.Context) formValues {
	v := formValues{}
	for _, f := range pr.fields() {
		if f.Kind == kindGroup {
			continue
		}
		s := strings.TrimSpace(c.FormValue(f.Name))
		if f.Upper {
			s = strings.ToUpper(s)
		}
		if f.Kind == kindCheckbox && s != "" {
			s = "yes"
		}
		if s != "" {
			v[f.Name] = s
		}
	}
	return v
}

// The page's view of the form: every text looked up, every value filled in.
type (
	applyData struct {
		Action, Nonce, Heading, Lead, Submit string
		Processes                            []processLink
		Sections                             []sectionView
	}
	processLink struct {
		Href, Label string
		Current     bool
	}
	sectionView struct {
		Legend, Hint string
		Fields       []fieldView
	}
	fieldView struct {
		Name, Kind, Label, Hint, Err, ReqMark, Value string
		Type, InputMode, Autocomplete                string
		MaxLen                                       int
		Required, Checked                            bool
		// DescribedBy are the ids of the hint and the error, for aria-describedby.
		DescribedBy string
		Blank       string
		Options     []optionView
		Groups      []optionGroup // kindTownship
		Fields      []fieldView   // kindGroup
	}
	optionView struct {
		Value, Label string
		Selected     bool
	}
	optionGroup struct {
		Label   string
		Options []optionView
	}
)

// processLinks are the links to every process's form, the current one marked.
func (con *Console) processLinks(p *page, current *applyProcess) []processLink {
	out := make([]processLink, len(con.processes))
	for i, pr := range con.processes {
		out[i] = processLink{Href: consolePath + pr.path(i == 0), Label: p.T("apply.choose." + pr.Key), Current: pr == current}
	}
	return out
}

// applyView fills the form of pr with v and the inline errors errs (form
// field → message), for page p.
func (con *Console) applyView(c echo.Context, p *page, pr *applyProcess, v formValues, nonce string, errs map[string]string) (*applyData, error) {
	var body wire.Jurisdictions
	if _, err := con.api.do(c, call{method: http.MethodGet, path: "/api/v1/jurisdictions"}, &body); err != nil {
		return nil, err
	}
	var townships []optionGroup
	names := map[string]string{}
	byDistrict := map[string][]civicflow.Jurisdiction{}
	var districts []string
	for _, j := range body.Jurisdictions {
		switch j.Level {
		case civicflow.LevelDistrict:
			names[j.Code] = j.Name
			districts = append(districts, j.Code)
		case civicflow.LevelTownship:
			byDistrict[j.ParentCode] = append(byDistrict[j.ParentCode], j)
		}
	}
	sort.Strings(districts)
	for _, d := range districts {
		if len(byDistrict[d]) == 0 {
			continue
		}
		g := optionGroup{Label: names[d]}
		for _, t := range byDistrict[d] {
			g.Options = append(g.Options, optionView{Value: t.Code, Label: t.Name, Selected: t.Code == v["township"]})
		}
		townships = append(townships, g)
	}
	var field func(f applyField) fieldView
	field = func(f applyField) fieldView {
		fv := fieldView{Name: f.Name, Kind: f.Kind, Label: p.T(f.Label), Err: errs[f.Name], Value: v[f.Name], Type: f.Type,
			InputMode: f.InputMode, Autocomplete: f.Autocomplete, MaxLen: f.MaxLen, Required: f.Required, Checked: v.yes(f.Name)}
		if f.Hint != "" {
			fv.Hint = p.T(f.Hint)
		}
		if f.Required {
			fv.ReqMark = p.T("form.req_mark")
		}
		if f.Blank != "" {
			fv.Blank = p.T(f.Blank)
		}
		var ids []string
		if fv.Hint != "" && f.Kind != kindGroup {
			ids = append(ids, f.Name+"-hint")
		}
		if fv.Err != "" {
			ids = append(ids, f.Name+"-err")
		}
		fv.DescribedBy = strings.Join(ids, " ")
		opts := f.Options
		if f.Choices != nil {
			opts = append(slices.Clone(opts), f.Choices(p.now)...)
		}
		for _, o := range opts {
			label := p.T(o.Label)
			if o.Arg != nil {
				label = p.T(o.Label, o.Arg)
			}
			fv.Options = append(fv.Options, optionView{Value: o.Value, Label: label, Selected: o.Value == v[f.Name]})
		}
		if f.Kind == kindTownship {
			fv.Groups = townships
		}
		for _, sub := range f.Fields {
			fv.Fields = append(fv.Fields, field(sub))
		}
		return fv
	}
	d := &applyData{Action: consolePath + pr.path(pr == con.processes[0]), Nonce: nonce, Heading: p.T(pr.Title), Lead: p.T(pr.Lead),
		Submit: p.T("apply.submit"), Processes: con.processLinks(p, pr)}
	for _, s := range pr.Sections {
		sv := sectionView{Legend: p.T(s.Legend)}
		if s.Hint != "" {
			sv.Hint = p.T(s.Hint)
		}
		for _, f := range s.Fields {
			sv.Fields = append(sv.Fields, field(f))
		}
		d.Sections = append(d.Sections, sv)
	}
	return d, nil
}

func (con *Console) applyForm(c echo.Context) error {
	pr, ok := con.process(c.Param("process"))
	if !ok {
		return con.notFound(c)
	}
	v := formValues{}
	for k, s := range pr.Defaults {
		v[k] = s
	}
	p := con.newPage(c, pr.Title, nil)
	d, err := con.applyView(c, p, pr, v, randomToken(), nil)
	if err != nil {
		return con.fail(c, err)
	}
	p.Data = d
	return con.renderPage(c, http.StatusOK, "apply", p)
}

// apply sends the application to the API, once per form (the form's
// nonce is the Idempotency-Key). Refused, the form comes back with what
// was typed and each of the API's 422 fields said next to its field; taken,
// the browser is sent on to the confirmation (post-redirect-get), so a
// reload sends nothing again.
func (con *Console) apply(c echo.Context) error {
	pr, ok := con.process(c.Param("process"))
	if !ok {
		return con.notFound(c)
	}
	v := pr.read(c)
	nonce := strings.TrimSpace(c.FormValue("nonce"))
	if nonce == "" || len(nonce) > 64 {
		nonce = randomToken()
	}
	body, local := pr.Request(v)
	var out wire.Submitted
	var err error
	if len(local) == 0 {
		send := call{method: http.MethodPost, path: pr.APIPath, body: body, idemKey: "console-" + nonce}
		if pr.Opens {
			var opened wire.RegisterCaseOpened
			_, err = con.api.do(c, send, &opened)
			out = wire.Submitted{Reference: opened.Reference, AccessCode: opened.AccessCode, Stage: opened.Stage, TrackURL: opened.TrackURL}
		} else {
			_, err = con.api.do(c, send, &out)
		}
	}
	if len(local) == 0 && err == nil {
		sessionOf(c).setCase(c, out.Reference, out.AccessCode)
		// The confirmation shows the access code once, for this reference.
		setCookie(c, cookieSubmitted, out.Reference, int(submittedFor.Seconds()))
		return redirect(c, "/apply/done")
	}
	p := con.newPage(c, pr.Title, nil)
	status := http.StatusUnprocessableEntity
	msgs := map[string]string{}
	for name, key := range local {
		msgs[name] = p.T(key)
	}
	var de *civicflow.Error
	switch {
	case err == nil:
	case asDomain(err, &de) && de.Code == civicflow.EINVALID:
		for _, fe := range de.Fields {
			name := pr.formName(fe.Field)
			if _, seen := msgs[name]; seen {
				continue
			}
			key := pr.errKey(name)
			switch {
			case name == "form" && pr.Whole[fe.Field] != "":
				key = pr.Whole[fe.Field]
			case name == "form":
				key = "field.form"
			case fe.Reason == "is required":
				key = "form.required"
			}
			msgs[name] = p.T(key)
		}
	case asDomain(err, &de) && de.Code == civicflow.ECONFLICT:
		status = http.StatusConflict
		switch {
		case de.Reference != "":
			msgs["form"] = p.T("apply.duplicate", de.Reference)
		case pr.Held != "":
			msgs["form"] = p.T(pr.Held)
		default:
			msgs["form"] = p.T("err.conflict")
		}
	default:
		return con.fail(c, err)
	}
	d, derr := con.applyView(c, p, pr, v, nonce, msgs)
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

// submitted is the confirmation of an application: its reference and
// access code, shown once (the cookie that allows it is cleared here).
// Later visits go to the case itself.
func (con *Console) submitted(c echo.Context) error {
	s := sessionOf(c)
	if s.caseRef == "" {
		return redirect(c, "/track")
	}
	if ref := cookieValue(c, cookieSubmitted); ref == "" || ref != s.caseRef {
		return redirect(c, "/my")
	}
	setCookie(c, cookieSubmitted, "", -1)
	return con.render(c, http.StatusOK, "submitted", "title.submitted", wire.Submitted{Reference: s.caseRef, AccessCode: s.caseCode})
}
