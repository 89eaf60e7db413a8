package notify_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"civicflow"
	"civicflow/notify"
)

// TestEducationNoticesNameTheirProcess renders the applicant's notices of
// an education-grant case (issue 15): they name the education grant, never
// centralised support, the approval states the amount and nothing of
// beds or admission.
func TestEducationNoticesNameTheirProcess(t *testing.T) {
	t.Parallel()
	tmpl, err := notify.LoadTemplates()
	require.NoError(t, err)
	words := map[string][2]string{"zh": {"教育资助", "特困人员集中供养"}, "en": {"education grant", "centralised support"}}
	for _, name := range []civicflow.Template{civicflow.TemplateApplicationReceived, civicflow.TemplateDecisionApproved,
		civicflow.TemplateDecisionRejected, civicflow.TemplateWithdrawalConfirmed} {
		for _, loc := range notify.Locales {
			d := sampleData()
			d.CaseType, d.Stage, d.CareLevel, d.Amount = civicflow.CaseTypeEducationGrant, civicflow.StageVerification, "", 5000
			r, err := tmpl.Render(name, loc, d)
			require.NoError(t, err, "%s/%s", name, loc)
			require.Contains(t, r.Text, words[loc][0], "%s/%s: %s", name, loc, r.Text)
			require.NotContains(t, r.Text, words[loc][1], "%s/%s: %s", name, loc, r.Text)
			require.Contains(t, r.HTML, words[loc][0], "%s/%s", name, loc)
		}
	}

	approved := sampleData()
	approved.CaseType, approved.Stage, approved.Action, approved.CareLevel, approved.Amount =
		civicflow.CaseTypeEducationGrant, civicflow.StageCompleted, civicflow.ActionApprove, "", 7000
	r, err := tmpl.Render(civicflow.TemplateDecisionApproved, "zh", approved)
	require.NoError(t, err)
	require.Contains(t, r.Text, "核准资助金额：7000 元")
	require.Contains(t, r.Text, "当前环节: "+civicflow.StageCompleted.Label(civicflow.LangZH))
	require.NotContains(t, r.Text, "已入住")
	require.NotContains(t, r.Text, "床位")
	r, err = tmpl.Render(civicflow.TemplateDecisionApproved, "en", approved)
	require.NoError(t, err)
	require.Contains(t, r.Text, "Approved amount: 7000 CNY")
	require.Contains(t, r.Text, "Stage: "+civicflow.StageCompleted.Label(civicflow.LangEN))
	require.NotContains(t, r.Text, "admitted")
	// A centralised-care case keeps its wording for the same stage.
	approved.CaseType = ""
	r, err = tmpl.Render(civicflow.TemplateDecisionApproved, "zh", approved)
	require.NoError(t, err)
	require.NotContains(t, r.Text, "资助")

	// The township is asked to verify; a return asks for a new verification.
	waiting := sampleData()
	waiting.CaseType, waiting.Stage = civicflow.CaseTypeEducationGrant, civicflow.StageVerification
	r, err = tmpl.Render(civicflow.TemplateCaseWaiting, "zh", waiting)
	require.NoError(t, err)
	require.Contains(t, r.Text, civicflow.StageVerification.Label(civicflow.LangZH))
	require.Contains(t, r.Subject, "核实家庭状况及入学情况")
	r, err = tmpl.Render(civicflow.TemplateReturnedToTownship, "en", waiting)
	require.NoError(t, err)
	require.Contains(t, r.Text, "for a new verification")
	require.NotContains(t, r.Text, "investigation")
}

// TestEducationStepsNotify: the township's verification tells the district
// reviewer when it is eligible and the applicant when it is not.
func TestEducationStepsNotify(t *testing.T) {
	t.Parallel()
	require.Equal(t, []civicflow.Notice{{Template: civicflow.TemplateCaseWaiting, Recipient: civicflow.RecipientOfficial,
		Role: civicflow.RoleDistrictReviewer}}, civicflow.NoticesFor(civicflow.ActionRecordVerification, civicflow.StageDistrictReview))
	require.Equal(t, []civicflow.Notice{{Template: civicflow.TemplateDecisionRejected, Recipient: civicflow.RecipientApplicant}},
		civicflow.NoticesFor(civicflow.ActionRecordVerification, civicflow.StageRejected))
	require.Equal(t, []civicflow.Notice{{Template: civicflow.TemplateDecisionApproved, Recipient: civicflow.RecipientApplicant}},
		civicflow.NoticesFor(civicflow.ActionApprove, civicflow.StageCompleted))
}
