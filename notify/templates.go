package notify

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"

	"civicflow"
)

//go:embed templates/*.txt
var templateFS embed.FS

// Locales with templates; the first is the default.
var Locales = []string{"zh", "en"}

// Rendered is a notification's content, ready to be put in a message.
type Rendered struct {
	Subject string
	Text    string
	HTML    string
}

// Templates renders notifications: subject and plain text from
// templates/<locale>.txt, and an HTML part built from the same text by an
// escaping layout, so that both parts always say the same thing.
type Templates struct {
	text map[string]*texttemplate.Template
	html *htmltemplate.Template
}

// LoadTemplates parses the embedded templates and checks that every
// template exists in every locale.
func LoadTemplates() (*Templates, error) {
	t := &Templates{text: map[string]*texttemplate.Template{}}
	for _, loc := range Locales {
		tt, err := texttemplate.New(loc).Funcs(funcs(loc)).Option("missingkey=error").ParseFS(templateFS, "templates/"+loc+".txt")
		if err != nil {
			return nil, fmt.Errorf("parse %s templates: %w", loc, err)
		}
		for _, name := range civicflow.Templates {
			for _, part := range []string{"subject", "text"} {
				if tt.Lookup(string(name)+"."+part) == nil {
					return nil, fmt.Errorf("template %s.%s is missing in locale %s", name, part, loc)
				}
			}
		}
		t.text[loc] = tt
	}
	h, err := htmltemplate.New("layout").Parse(htmlLayout)
	if err != nil {
		return nil, fmt.Errorf("parse html layout: %w", err)
	}
	t.html = h
	return t, nil
}

// Render renders template name for locale ("" or unknown: Chinese).
func (t *Templates) Render(name civicflow.Template, locale string, d civicflow.NoticeData) (Rendered, error) {
	tt, ok := t.text[locale]
	if !ok {
		locale, tt = Locales[0], t.text[Locales[0]]
	}
	var subj, body bytes.Buffer
	if err := tt.ExecuteTemplate(&subj, string(name)+".subject", d); err != nil {
		return Rendered{}, fmt.Errorf("render %s subject: %w", name, err)
	}
	if err := tt.ExecuteTemplate(&body, string(name)+".text", d); err != nil {
		return Rendered{}, fmt.Errorf("render %s text: %w", name, err)
	}
	// Every message ends with the case reference and stage, whatever the
	// template says above them, and the same footer as the HTML part.
	trailer := fmt.Sprintf("\n\n--\n%s: %s\n%s: %s\n%s\n", label(locale, "Case", "案件编号"), d.Reference,
		label(locale, "Stage", "当前环节"), stageLabel(locale, d.Stage), footer(locale))
	r := Rendered{Subject: strings.Join(strings.Fields(subj.String()), " "), Text: strings.TrimSpace(body.String()) + trailer}
	var paras [][]string
	for _, p := range strings.Split(strings.TrimSpace(body.String()), "\n\n") {
		paras = append(paras, strings.Split(strings.Trim(p, "\n"), "\n"))
	}
	var html bytes.Buffer
	err := t.html.Execute(&html, map[string]any{"Lang": langTag(locale), "Subject": r.Subject, "Paragraphs": paras,
		"Reference": d.Reference, "Stage": stageLabel(locale, d.Stage), "Footer": footer(locale),
		"RefLabel": label(locale, "Case", "案件编号"), "StageLabel": label(locale, "Stage", "当前环节")})
	if err != nil {
		return Rendered{}, fmt.Errorf("render %s html: %w", name, err)
	}
	r.HTML = html.String()
	return r, nil
}

const htmlLayout = `<!DOCTYPE html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="font-family: sans-serif; line-height: 1.5; max-width: 40em">
<h1 style="font-size: 1.2em">{{.Subject}}</h1>
<table style="border-collapse: collapse; margin-bottom: 1em">
<tr><th style="text-align: left; padding-right: 1em">{{.RefLabel}}</th><td>{{.Reference}}</td></tr>
<tr><th style="text-align: left; padding-right: 1em">{{.StageLabel}}</th><td>{{.Stage}}</td></tr>
</table>
{{range .Paragraphs}}<p>{{range $i, $l := .}}{{if $i}}<br>
{{end}}{{$l}}{{end}}</p>
{{end}}<hr><p style="color: #666; font-size: 0.9em">{{.Footer}}</p>
</body></html>
`

func langTag(locale string) string {
	if locale == "en" {
		return "en"
	}
	return "zh-CN"
}

func label(locale, en, zh string) string {
	if locale == "en" {
		return en
	}
	return zh
}

func footer(locale string) string {
	return label(locale, "This message was sent automatically by civicflow for the civil-affairs bureau of Xi'an. Please do not reply to it.",
		"本邮件由西安市民政局 civicflow 系统自动发送，请勿直接回复。")
}

func funcs(locale string) texttemplate.FuncMap {
	return texttemplate.FuncMap{
		"stage": func(s civicflow.Stage) string { return stageLabel(locale, s) },
		"care":  func(c string) string { return careLabel(locale, civicflow.CareLevel(c)) },
		"ask":   func(s civicflow.Stage) string { return askLabel(locale, s) },
		"inc":   func(i int) int { return i + 1 },
		// rehab: the case is community rehabilitation (issue 5).
		"rehab": func(t civicflow.CaseType) bool { return t == civicflow.CaseTypeCommunityRehab },
		// edu: the case is the education grant (issue 15).
		"edu": func(t civicflow.CaseType) bool { return t == civicflow.CaseTypeEducationGrant },

		// action names an action or a timeline step, as the console does.
		"action": func(a civicflow.Action) string { return a.Label(civicflow.ParseLang(locale)) },
	}
}

// stageLabel names a stage from the vocabulary (civicflow.Stage.Label),
// the console's names too: notify keeps no names of its own.
func stageLabel(locale string, s civicflow.Stage) string { return s.Label(civicflow.ParseLang(locale)) }

func careLabel(locale string, c civicflow.CareLevel) string {
	switch c {
	case civicflow.CareSelf:
		return label(locale, "fully self-caring", "全自理")
	case civicflow.CareSemiDependent:
		return label(locale, "partly dependent", "半失能")
	case civicflow.CareDependent:
		return label(locale, "fully dependent", "全失能")
	}
	return string(c)
}

// askLabel says what an official is asked to do in a stage.
func askLabel(locale string, s civicflow.Stage) string {
	switch s {
	case civicflow.StageIntake:
		return label(locale, "check the papers and accept, ask for missing papers or refuse", "审查材料，决定受理、一次性告知补正或不予受理")
	case civicflow.StageInvestigation:
		return label(locale, "visit the household and record the preliminary opinion", "入户调查并提出初审意见")
	case civicflow.StageDistrictReview:
		return label(locale, "decide: approve, refuse with reasons, or return to the township", "审核确认：同意、不同意（说明理由）或退回乡镇（街道）")
	case civicflow.StageAwaitingAdmission:
		return label(locale, "confirm the admission when the person moves in", "入住后确认入住")
	case civicflow.StageRegistration:
		return label(locale, "register the person at the rehab centre", "登记建档")
	case civicflow.StageAssessment:
		return label(locale, "assess whether community rehabilitation fits", "开展康复评估")
	case civicflow.StagePlanning:
		return label(locale, "agree the rehab plan with the patient or guardian", "与患者或监护人商定康复计划")
	case civicflow.StageVerification:
		return label(locale, "verify the family status and the enrolment and record the preliminary opinion", "核实家庭状况及入学情况并提出初审意见")
	}
	return stageLabel(locale, s)
}
