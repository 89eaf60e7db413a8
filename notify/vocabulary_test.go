package notify

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"civicflow"
)

// TestMailsNameStagesFromTheVocabulary renders a notice in every stage and
// language: the text and the HTML name the stage exactly as the vocabulary
// does (the console's names, web/vocabulary_test.go), and the template
// functions give the vocabulary's names.
func TestMailsNameStagesFromTheVocabulary(t *testing.T) {
	t.Parallel()
	tmpl, err := LoadTemplates()
	require.NoError(t, err)
	for _, loc := range Locales {
		lang := civicflow.ParseLang(loc)
		require.Equal(t, loc, string(lang), "a locale of the mails is a language of the vocabulary")
		for _, s := range civicflow.AllStages {
			d := civicflow.NoticeData{Reference: "TK-610113-000042", Stage: s, PersonName: "王**", At: "2026-03-02", Reasons: "x"}
			r, err := tmpl.Render(civicflow.TemplateEscalated, loc, d)
			require.NoError(t, err)
			name := s.Label(lang)
			require.Contains(t, r.Text, fmt.Sprintf("\n%s: %s\n", label(loc, "Stage", "当前环节"), name), "%s/%s", s, loc)
			require.Contains(t, r.HTML, "<td>"+name+"</td>", "%s/%s", s, loc)
			require.Equal(t, name, funcs(loc)["stage"].(func(civicflow.Stage) string)(s))
		}
		action := funcs(loc)["action"].(func(civicflow.Action) string)
		for _, a := range append(civicflow.Actions(), civicflow.SystemSteps...) {
			require.Equal(t, a.Label(lang), action(a))
		}
	}
	// The refusal's own words are the rejected stage's name.
	r, err := tmpl.Render(civicflow.TemplateDecisionRejected, "zh", civicflow.NoticeData{Stage: civicflow.StageRejected, Reasons: "x"})
	require.NoError(t, err)
	require.Contains(t, r.Subject, civicflow.StageRejected.Label(civicflow.LangZH))
	require.Equal(t, 3, strings.Count(r.Text, civicflow.StageRejected.Label(civicflow.LangZH)), "the decision, the written notice, the trailer: %s", r.Text)
	require.NotContains(t, r.Subject+r.Text, "不予认定", "one wording of a refusal")
}
