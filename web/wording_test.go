package web

import (
	"html"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"civicflow"
)

// perProcessPrefixes are the texts a process may word its own way
// (page.perProcess): <prefix><process>.<code>.
var perProcessPrefixes = []string{"explain.", "action.help.", "action.reasons_hint."}

// TestPerProcessTextsNameTheirProcess: a per-process text names a process
// and a stage (explain) or an action (help, hint) of that process, so a
// misspelt key cannot sit in the catalogue unseen while the shared text
// shows instead.
func TestPerProcessTextsNameTheirProcess(t *testing.T) {
	t.Parallel()
	cat, err := loadCatalogue()
	require.NoError(t, err)
	seen := 0
	for key := range cat[languages[0]] {
		for _, prefix := range perProcessPrefixes {
			rest, ok := strings.CutPrefix(key, prefix)
			if !ok || !strings.Contains(rest, ".") {
				continue
			}
			proc, code, _ := strings.Cut(rest, ".")
			def, ok := civicflow.ProcessOf(civicflow.CaseType(proc))
			require.True(t, ok, "%s: no process %q", key, proc)
			if prefix == "explain." {
				require.Contains(t, def.Stages, civicflow.Stage(code), "%s: %s has no stage %s", key, proc, code)
			} else {
				require.True(t, slices.ContainsFunc(def.Rules, func(r civicflow.Rule) bool { return r.Action == civicflow.Action(code) }),
					"%s: no one takes %s in %s", key, code, proc)
				require.True(t, cat.has(prefix+code), "%s: no shared %s%s to fall back to", key, prefix, code)
			}
			seen++
		}
	}
	require.GreaterOrEqual(t, seen, 10)
}

// TestTextsArePerProcess: the applicant's explanation and the forms' help
// are the process's own where its stage or action means something else,
// the shared text otherwise (and for a case whose process is not known).
func TestTextsArePerProcess(t *testing.T) {
	t.Parallel()
	cat, err := loadCatalogue()
	require.NoError(t, err)
	care, rehab, edu := civicflow.CaseTypeCentralisedCare, civicflow.CaseTypeCommunityRehab, civicflow.CaseTypeEducationGrant
	for _, lang := range languages {
		p := &page{Lang: lang, cat: cat}
		tr := func(k string) string { return cat.text(lang, k) }
		require.Equal(t, tr("explain.centralised_care.completed"), p.Explain(care, civicflow.StageCompleted))
		require.Equal(t, tr("explain.education_grant.completed"), p.Explain(edu, civicflow.StageCompleted))
		require.Equal(t, tr("explain.completed"), p.Explain("", civicflow.StageCompleted), "an unknown process: the shared text")
		require.Equal(t, tr("explain.intake"), p.Explain(care, "intake"), "no text of its own: the shared one")
		require.Equal(t, tr("explain.verification"), p.Explain(edu, civicflow.StageVerification))
		for _, a := range []civicflow.Action{civicflow.ActionAccept, civicflow.ActionApprove, civicflow.ActionReturn} {
			shared := tr("action.help." + string(a))
			for _, pt := range []civicflow.CaseType{care, rehab, edu} {
				own := p.Help(pt, a)
				require.Equal(t, tr("action.help."+string(pt)+"."+string(a)), own)
				require.NotEqual(t, shared, own, "%s %s %s", lang, pt, a)
			}
		}
		require.Equal(t, tr("action.help.reject"), p.Help(edu, civicflow.ActionReject))
		require.Equal(t, tr("action.reasons_hint.education_grant.return"), p.ReasonsHint(edu, civicflow.ActionReturn))
		require.Equal(t, tr("action.reasons_hint.reject"), p.ReasonsHint(edu, civicflow.ActionReject))
		require.Equal(t, civicflow.CaseTypeEducationGrant.Label(civicflow.ParseLang(lang)), p.Process(edu))
	}
	// Nothing shared speaks of one process only.
	for _, k := range []string{"explain.completed", "action.help.accept", "action.help.approve", "action.help.return",
		"action.reasons_hint.return", "home.heading", "home.lead"} {
		for _, word := range []string{"入住", "供养", "入户调查", "重新调查"} {
			require.NotContains(t, cat.text("zh-CN", k), word, k)
		}
	}
}

// The forms of a rehab case say what a rehab case's actions do.
func TestRehabActionsHaveTheirOwnHelp(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	cat, err := loadCatalogue()
	require.NoError(t, err)
	h.login("dr.yanta")
	for _, a := range []string{"approve", "return"} {
		status, body, _ := h.get("/console/cases/RH-610113-000014/act/" + a)
		require.Equal(t, http.StatusOK, status, body)
		require.Contains(t, body, `<p class="explain" id="action-help">`+html.EscapeString(cat.text("zh-CN", "action.help.community_rehab."+a))+`</p>`)
	}
	_, body, _ := h.get("/console/cases/RH-610113-000014/act/return")
	require.Contains(t, body, cat.text("zh-CN", "action.reasons_hint.community_rehab.return"))
	require.NotContains(t, body, "重新调查")
}
