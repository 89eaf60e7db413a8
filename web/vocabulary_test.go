package web

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"civicflow"
	"civicflow/notify"
)

// namedCodes is every code the vocabulary names for the console.
func namedCodes() (stages, actions []string) {
	for _, s := range civicflow.AllStages {
		stages = append(stages, string(s))
	}
	stages = append(stages, civicflow.DeadlineRefusalNotice)
	all := append(append([]civicflow.Action{}, civicflow.Actions()...), civicflow.SystemSteps...)
	all = append(all, civicflow.StepSupervisoryNote, civicflow.StepSupervisorReminder, civicflow.StepReassigned, civicflow.StepNoticeNotSent)
	for _, a := range all {
		actions = append(actions, string(a))
	}
	return stages, actions
}

// TestCatalogueHoldsNoStageOrActionNames: the names live in the
// vocabulary only, so they cannot drift from the mails' again.
func TestCatalogueHoldsNoStageOrActionNames(t *testing.T) {
	t.Parallel()
	cat, err := loadCatalogue()
	require.NoError(t, err)
	stages, actions := namedCodes()
	for _, lang := range languages {
		for _, s := range stages {
			require.NotContains(t, cat[lang], "stage."+s, "%s: the vocabulary names stages", lang)
		}
		for _, a := range actions {
			require.NotContains(t, cat[lang], "action."+a, "%s: the vocabulary names actions", lang)
		}
	}
}

// TestPageNamesComeFromTheVocabulary: the page's naming functions, in
// both languages, give the vocabulary's names.
func TestPageNamesComeFromTheVocabulary(t *testing.T) {
	t.Parallel()
	cat, err := loadCatalogue()
	require.NoError(t, err)
	stages, actions := namedCodes()
	for _, lang := range languages {
		p := &page{Lang: lang, cat: cat}
		l := civicflow.ParseLang(lang)
		for _, s := range stages {
			require.Equal(t, civicflow.DeadlineLabel(s, l), p.Deadline(s))
		}
		for _, s := range civicflow.AllStages {
			require.Equal(t, s.Label(l), p.Stage(s))
			require.Equal(t, s.Label(l), p.Stage(string(s)), "a code given as a string")
		}
		for _, a := range actions {
			require.Equal(t, civicflow.Action(a).Label(l), p.Action(a))
		}
	}
}

// vocabularyAPI answers the applicant's view of TK-610113-0000NN in
// stage AllStages[NN], its history one step, the action Actions()[NN].
func vocabularyAPI(t *testing.T) http.Handler {
	const prefix = "/api/v1/applications/TK-610113-0000"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var i int
		if _, err := fmt.Sscanf(strings.TrimPrefix(r.URL.Path, prefix), "%d", &i); err != nil || !strings.HasPrefix(r.URL.Path, prefix) ||
			i >= len(civicflow.AllStages) || r.Header.Get("X-Access-Code") != "ABCD-2345" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error": {"code": "unauthorized", "message": "x"}}`)
			return
		}
		s, a := civicflow.AllStages[i], civicflow.Actions()[i%len(civicflow.Actions())]
		w.Header().Set("Content-Type", "application/json")
		require.NoError(t, json.NewEncoder(w).Encode(map[string]any{"reference": strings.TrimPrefix(r.URL.Path, "/api/v1/applications/"),
			"stage": s, "stage_since": time.Now(), "waiting_for": []string{}, "person_name": "张**", "id_number_masked": "6101**********1015",
			"papers": []any{}, "history": []map[string]any{{"at": time.Now(), "action": a, "stage": s, "by": "civicflow"}}}))
	})
}

var (
	stageOnPage  = regexp.MustCompile(`<strong id="stage" data-stage="([a-z_]+)">([^<]*)</strong>`)
	actionOnPage = regexp.MustCompile(`<ol class="timeline">\s*<li><time>[^<]*</time> <strong>([^<]*)</strong>`)
	csrfOnPage   = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

// TestConsoleAndMailNameStagesAlike tracks a case in every stage on the
// applicant's page and renders a mail in the same stage: both name it as
// the vocabulary does, in both languages.
func TestConsoleAndMailNameStagesAlike(t *testing.T) {
	t.Parallel()
	con, err := New(vocabularyAPI(t), slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	e := echo.New()
	con.Register(e)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (int, string) {
		resp, err := client.Get(srv.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	mails, err := notify.LoadTemplates()
	require.NoError(t, err)

	for _, lang := range languages {
		status, _ := get("/console/lang/" + lang)
		require.Equal(t, http.StatusSeeOther, status)
		l := civicflow.ParseLang(lang)
		mailStage := regexp.MustCompile(map[civicflow.Lang]string{civicflow.LangZH: `\n当前环节: (.+)\n`, civicflow.LangEN: `\nStage: (.+)\n`}[l])
		for i, s := range civicflow.AllStages {
			_, body := get("/console/track")
			m := csrfOnPage.FindStringSubmatch(body)
			require.NotNil(t, m, "no CSRF token on the track page")
			resp, err := client.PostForm(srv.URL+"/console/track", url.Values{"csrf": {m[1]},
				"reference": {fmt.Sprintf("TK-610113-0000%02d", i)}, "access_code": {"ABCD-2345"}})
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusSeeOther, resp.StatusCode, "track %s", s)
			status, body := get("/console/my")
			require.Equal(t, http.StatusOK, status, "%s/%s: %s", lang, s, body)
			require.NotContains(t, body, "⟦", "%s/%s: a message is missing", lang, s)

			onPage := stageOnPage.FindStringSubmatch(body)
			require.NotNil(t, onPage, "%s/%s: the page names no stage", lang, s)
			require.Equal(t, string(s), onPage[1])
			act := actionOnPage.FindStringSubmatch(body)
			require.NotNil(t, act, "%s/%s: the history names no action", lang, s)
			require.Equal(t, civicflow.Actions()[i%len(civicflow.Actions())].Label(l), html.UnescapeString(act[1]))

			r, err := mails.Render(civicflow.TemplateEscalated, string(l), civicflow.NoticeData{Reference: "TK-610113-000001", Stage: s,
				PersonName: "张**", At: "2026-03-02", Reasons: "x"})
			require.NoError(t, err)
			inMail := mailStage.FindStringSubmatch(r.Text)
			require.NotNil(t, inMail, "%s/%s: the mail names no stage: %s", lang, s, r.Text)

			require.Equal(t, s.Label(l), html.UnescapeString(onPage[2]), "%s/%s: the console", lang, s)
			require.Equal(t, s.Label(l), inMail[1], "%s/%s: the mail", lang, s)
		}
	}
}
