package notify_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"civicflow"
	"civicflow/notify"
)

// TestRehabNoticesNameTheirProcess renders the applicant's notices of a
// community-rehab case (issue 5): they name community rehabilitation, never
// centralised support, and the stages of the rehab ending have labels.
func TestRehabNoticesNameTheirProcess(t *testing.T) {
	t.Parallel()
	tmpl, err := notify.LoadTemplates()
	require.NoError(t, err)
	words := map[string][2]string{"zh": {"精神障碍社区康复", "特困"}, "en": {"community rehab", "centralised support"}}
	for _, name := range []civicflow.Template{civicflow.TemplateApplicationReceived, civicflow.TemplateDecisionApproved,
		civicflow.TemplateDecisionRejected, civicflow.TemplateWithdrawalConfirmed} {
		for _, loc := range notify.Locales {
			d := sampleData()
			d.CaseType, d.Stage, d.CareLevel = civicflow.CaseTypeCommunityRehab, civicflow.StageRegistration, ""
			r, err := tmpl.Render(name, loc, d)
			require.NoError(t, err, "%s/%s", name, loc)
			require.Contains(t, r.Text, words[loc][0], "%s/%s: %s", name, loc, r.Text)
			require.NotContains(t, r.Text, words[loc][1], "%s/%s: %s", name, loc, r.Text)
			// The same notice of a centralised-care case keeps its wording.
			d.CaseType = ""
			r, err = tmpl.Render(name, loc, d)
			require.NoError(t, err)
			require.NotContains(t, r.Text, words[loc][0], "%s/%s", name, loc)
		}
	}
	d := sampleData()
	d.CaseType, d.Stage = civicflow.CaseTypeCommunityRehab, civicflow.StageAssessment
	r, err := tmpl.Render(civicflow.TemplateCaseWaiting, "zh", d)
	require.NoError(t, err)
	require.Contains(t, r.Text, "康复评估")
}
