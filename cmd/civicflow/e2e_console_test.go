package main

// The web console in a real browser: headless Chromium (Debian's chromium
// package) driven by chromedp against the console mounted on the API, with
// the real PostgreSQL, Temporal and worker of the e2e harness. Screenshots
// of each main page go to artifacts/screenshots/ (git-ignored).

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"civicflow"
	"civicflow/postgres"
)

// chromiumPath finds the browser, or says how to install it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "the console's browser test needs Chromium: apt-get install -y chromium fonts-wqy-microhei (make test installs them when run as root)"
	if os.Getenv("CIVICFLOW_REQUIRE_SERVICES") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// browser is one headless Chromium session (one cookie jar).
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
	shot string
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 8*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	dir := filepath.Join("..", "..", "artifacts", "screenshots")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return &browser{t: t, ctx: ctx, base: base, shot: dir}
}

// run runs the actions, each batch for at most a minute (the first starts
// Chromium, slow on a loaded machine); on failure the
// test log shows the page the browser was on.
func (b *browser) run(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		dctx, dcancel := context.WithTimeout(b.ctx, 5*time.Second)
		defer dcancel()
		loc, _ := chromedp.Run(dctx, chromedp.Location())
		html, _ := chromedp.Run(dctx, chromedp.Evaluate[string]("document.body ? document.body.innerText : 'no body'"))
		b.t.Fatalf("browser at %s: %v\n%s", loc, err, html)
	}
}

func (b *browser) open(path, waitFor string) {
	b.t.Helper()
	b.run(chromedp.Navigate(b.base+path), chromedp.WaitVisible(chromedp.CSS(waitFor)))
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	require.NoError(b.t, err)
	return s
}

func (b *browser) screenshot(name string) {
	b.t.Helper()
	buf, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100)) // quality 100: PNG
	require.NoError(b.t, err)
	require.NoError(b.t, os.WriteFile(filepath.Join(b.shot, name+".png"), buf, 0o644))
}

func (b *browser) login(username string) {
	b.t.Helper()
	b.open("/console/login", "#username")
	b.run(chromedp.SetValue(chromedp.CSS("#username"), username), chromedp.SetValue(chromedp.CSS("#password"), testPassword),
		chromedp.Click(chromedp.CSS("#login-submit")), chromedp.WaitVisible(chromedp.CSS("header .who")))
}

func (b *browser) logout() {
	b.t.Helper()
	b.run(chromedp.Click(chromedp.CSS(`form[action="/console/logout"] button`)), chromedp.WaitVisible(chromedp.CSS("#username")))
}

// stage reads the stage shown on a case page.
func (b *browser) stage() string {
	b.t.Helper()
	r, err := chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.CSS("#stage"), "data-stage"))
	require.NoError(b.t, err)
	return r.Value
}

// waitStage reloads a case page until it shows one of the stages.
func (b *browser) waitStage(path string, want ...string) string {
	b.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		b.open(path, "#stage")
		st := b.stage()
		for _, w := range want {
			if st == w {
				return st
			}
		}
		require.True(b.t, time.Now().Before(deadline), "the case stayed in %s, waiting for %v", st, want)
		time.Sleep(500 * time.Millisecond)
	}
}

// act runs an official action through its form and the confirmation page.
func (b *browser) act(ref, action string, fill ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	b.actShot(ref, action, "", fill...)
}

// actShot is act, with a screenshot of the confirmation page unless shot is "".
func (b *browser) actShot(ref, action, shot string, fill ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	b.open("/console/cases/"+ref, "#act-"+action)
	b.run(chromedp.Click(chromedp.CSS("#act-"+action)), chromedp.WaitVisible(chromedp.CSS("#review-action")))
	b.run(fill...)
	b.run(chromedp.Click(chromedp.CSS("#review-action")), chromedp.WaitVisible(chromedp.CSS("#confirm-action")))
	if shot != "" {
		b.screenshot(shot)
	}
	b.run(chromedp.Click(chromedp.CSS("#confirm-action")), chromedp.WaitVisible(chromedp.CSS("#stage")))
	require.Contains(b.t, b.text("main"), "已办理", "the action was confirmed")
}

func TestE2EConsoleCentralisedCareInBrowser(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := withConsole(newAPI(e.cfg, e.tc, e.db, log), log)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()

	// A bed is sure to be free: an institution of this test, with its own
	// staff login (the demo institution's beds are shared with other tests).
	instName := fmt.Sprintf("雁塔区控制台测试敬老院-%d", time.Now().UnixNano())
	instID, err := e.db.EnsureInstitution(ctx, postgres.NewInstitution{Name: instName, DistrictCode: "610113",
		Beds: map[civicflow.CareLevel]int{civicflow.CareSelf: 3, civicflow.CareSemiDependent: 3, civicflow.CareDependent: 3}})
	require.NoError(t, err)
	_, err = e.db.EnsureUser(ctx, postgres.NewUser{Username: "st.console", DisplayName: "测试", Password: testPassword,
		Role: civicflow.RoleInstitutionStaff, Jurisdiction: "610113", InstitutionID: instID})
	require.NoError(t, err)

	b := newBrowser(t, srv.URL)
	// The first run starts the browser, which lives as long as that run's
	// context: no per-step timeout on it.
	require.NoError(t, chromedp.Do(b.ctx, chromedp.Navigate(srv.URL+"/console/")))
	idNumber := newIDNumber(t)

	// 1. The applicant, on a phone-sized screen, applies; a wrong ID number
	// is refused inline, in Chinese.
	b.run(chromedp.EmulateViewport(390, 844))
	b.open("/console/", "main h1")
	b.screenshot("00-home-phone")
	b.open("/console/apply", "#submit-application")
	bad := idNumber[:17] + string("0123456789X"[(strings.IndexByte("0123456789X", idNumber[17])+1)%11])
	b.run(chromedp.SetValue(chromedp.CSS("#name"), "赵秀英"))
	b.run(chromedp.SetValue(chromedp.CSS("#id_number"), bad))
	b.run(chromedp.SetValue(chromedp.CSS("#township"), "610113001"))
	b.run(chromedp.SetValue(chromedp.CSS("#address"), "小寨东路12号"))
	b.run(chromedp.SetValue(chromedp.CSS("#self_care"), "dependent"))
	b.run(chromedp.SetValue(chromedp.CSS("#relation"), "relative"))
	b.run(chromedp.SetValue(chromedp.CSS("#applicant_name"), "赵明"))
	b.run(chromedp.SetValue(chromedp.CSS("#applicant_phone"), "13912345678"))
	b.run(chromedp.SetValue(chromedp.CSS("#statement"), "独居，卧床"))
	b.run(chromedp.Click(chromedp.CSS("#submit-application")))
	b.run(chromedp.WaitVisible(chromedp.CSS("#id_number-err")))
	require.Contains(t, b.text("#id_number-err"), "身份证号码无效")
	b.screenshot("01-apply-errors")
	b.run(chromedp.SetValue(chromedp.CSS("#id_number"), idNumber),
		chromedp.Click(chromedp.CSS("#submit-application")), chromedp.WaitVisible(chromedp.CSS("#access-code")))
	ref, code := strings.TrimSpace(b.text("#reference")), strings.TrimSpace(b.text("#access-code"))
	require.True(t, strings.HasPrefix(ref, "TK-610113-"), ref)
	require.NotEmpty(t, code)
	b.screenshot("02-submitted")
	cs, err := e.db.CaseByReference(ctx, ref)
	require.NoError(t, err)
	e.waitStage(t, cs.ID, civicflow.StageIntake, 60*time.Second)

	// 2. The township official asks for the missing papers, all at once.
	b.run(chromedp.EmulateViewport(1280, 900))
	b.open("/console/login", "#username")
	b.screenshot("03-login")
	b.login("ts.xiaozhai")
	b.open("/console/inbox", "#inbox")
	require.Contains(t, b.text("#inbox"), ref)
	b.screenshot("03-inbox")
	b.actShot(ref, "request_supplements", "03-action-confirm", chromedp.SetValue(chromedp.CSS("#items"), "户口簿复印件\n收入证明"))
	require.Equal(t, "awaiting_supplements", b.stage())
	b.logout()

	// 3. The applicant tracks the case by reference and code, uploads a
	// paper and hands it in.
	b.run(chromedp.EmulateViewport(390, 844))
	b.open("/console/track", "#track-submit")
	b.screenshot("04-track-phone")
	b.run(chromedp.SetValue(chromedp.CSS("#reference"), ref), chromedp.SetValue(chromedp.CSS("#access_code"), code),
		chromedp.Click(chromedp.CSS("#track-submit")), chromedp.WaitVisible(chromedp.CSS("#waiting-for")))
	require.Contains(t, b.text("#waiting-for"), "收入证明")
	paper := filepath.Join(t.TempDir(), "户口簿.pdf")
	require.NoError(t, os.WriteFile(paper, []byte("%PDF-1.4\n%%EOF\n"), 0o644))
	b.run(chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{paper}),
		chromedp.Click(chromedp.CSS("#upload-paper")), chromedp.WaitVisible(chromedp.CSS(".flash")))
	require.Contains(t, b.text(".papers"), "户口簿.pdf")
	b.screenshot("04-applicant-case")
	b.run(chromedp.Click(chromedp.CSS("#hand-in")), chromedp.WaitNotPresent(chromedp.CSS("#hand-in")))
	b.waitStage("/console/my", "intake")

	// 4. The township official accepts, reveals the ID number (audited) and
	// records the home visit.
	b.run(chromedp.EmulateViewport(1280, 900))
	b.login("ts.xiaozhai")
	b.act(ref, "accept")
	require.Equal(t, "investigation", b.stage())
	require.Contains(t, b.text("#id-number"), "*", "masked by default")
	b.run(chromedp.Click(chromedp.CSS("details.panel summary")),
		chromedp.Click(chromedp.CSS("#rv-id_number")),
		chromedp.SetValue(chromedp.CSS("#reveal-reason"), "入户调查核对身份"),
		chromedp.Click(chromedp.CSS("#reveal-submit")), chromedp.WaitVisible(chromedp.CSS("#id-number mark")))
	require.Equal(t, idNumber, b.text("#id-number mark"))
	var audited int
	require.NoError(t, e.db.Pool().QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'case.reveal' AND target_id = $1`, ref).Scan(&audited))
	require.Equal(t, 1, audited, "the reveal is in the audit trail")
	b.screenshot("05-case-official")
	b.act(ref, "record_investigation",
		// The visit date stays the form's default: today, in China.
		chromedp.SetValue(chromedp.CSS("#visitors"), "王芳, 李娜"),
		chromedp.SetValue(chromedp.CSS("#findings"), "独居卧床，无赡养人"),
		chromedp.SetValue(chromedp.CSS("#visit_care"), "dependent"),
		chromedp.Click(chromedp.CSS("#op-eligible")))
	b.logout()

	// 5. An official of another street office never sees the case.
	b.login("ts.dayanta")
	b.open("/console/inbox", "main h1")
	require.NotContains(t, b.text("main"), ref)
	b.open("/console/cases/"+ref, "#page-error")
	require.Contains(t, b.text("#page-error"), "您无权查看")
	require.NotContains(t, b.text("main"), "赵秀英")
	b.logout()

	// 6. The district reviewer approves once the public notice is over.
	b.login("dr.yanta")
	b.waitStage("/console/cases/"+ref, "district_review")
	b.screenshot("06-case-district")
	b.act(ref, "approve")
	b.logout()

	// 7. The institution holding the bed confirms admission.
	st := b.waitStageAs(e, ref, instID)
	b.login(st)
	b.act(ref, "confirm_admission")
	require.Equal(t, "completed", b.stage())
	b.logout()

	// 8. The supervisor's board shows an overdue case.
	late := e.submit(t, application(newIDNumber(t), "610113001", "self_care"), "")
	e.waitDue(t, late.ID)
	_, err = e.db.Pool().Exec(ctx, `UPDATE cases SET stage_due_at = now() - interval '2 days' WHERE id = $1`, late.ID)
	require.NoError(t, err)
	b.login("sv.yanta")
	b.open("/console/board", "#overdue")
	require.Contains(t, b.text("#overdue"), late.Ref)
	require.Contains(t, b.text("#matrix"), "雁塔区")
	b.screenshot("07-board")
	b.run(chromedp.Click(chromedp.CSS(`#overdue a[href="/console/cases/`+late.Ref+`"]`)), chromedp.WaitVisible(chromedp.CSS("#remind-submit")),
		chromedp.SetValue(chromedp.CSS("#remind-note"), "请尽快受理"), chromedp.Click(chromedp.CSS("#remind-submit")),
		chromedp.WaitVisible(chromedp.CSS(".flash")))
	require.Contains(t, b.text("#timeline"), "督办提醒")
	b.logout()

	// The applicant of that case withdraws it, after a confirmation page.
	b.run(chromedp.EmulateViewport(390, 844))
	b.open("/console/track", "#track-submit")
	b.run(chromedp.SetValue(chromedp.CSS("#reference"), late.Ref), chromedp.SetValue(chromedp.CSS("#access_code"), late.Code),
		chromedp.Click(chromedp.CSS("#track-submit")), chromedp.WaitVisible(chromedp.CSS("#withdraw-link")))
	b.run(chromedp.Click(chromedp.CSS("#withdraw-link")), chromedp.WaitVisible(chromedp.CSS("#confirm-withdraw")))
	b.screenshot("07-withdraw-confirm-phone")
	b.run(chromedp.SetValue(chromedp.CSS("#reasons"), "家属决定居家照护"), chromedp.Click(chromedp.CSS("#confirm-withdraw")),
		chromedp.WaitNotPresent(chromedp.CSS("#confirm-withdraw")))
	require.Equal(t, "withdrawn", b.waitStage("/console/my", "withdrawn"))
	b.run(chromedp.EmulateViewport(1280, 900))

	// 9. The administrator's pages.
	b.login("admin")
	b.open("/console/admin/users", "#users")
	require.Contains(t, b.text("#users"), "ts.xiaozhai")
	b.screenshot("08-admin-users")
	b.open("/console/admin/deadlines", "#deadlines")
	b.screenshot("08-admin-deadlines")
	b.open("/console/lang/en?back=/console/admin/calendar", "#calendar")
	require.Contains(t, b.text("main h1"), "Holidays")
	b.screenshot("08-admin-calendar-en")
}

// waitStageAs waits until the case awaits admission and returns the login
// of the staff of the institution holding its bed.
func (b *browser) waitStageAs(e *e2eSystem, ref string, instID int64) string {
	b.t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(90 * time.Second)
	for {
		cs, err := e.db.CaseByReference(ctx, ref)
		require.NoError(b.t, err)
		if cs.Stage == civicflow.StageAwaitingAdmission {
			if cs.InstitutionID == instID {
				return "st.console"
			}
			return "st.yanta"
		}
		require.True(b.t, time.Now().Before(deadline), "the case stayed in %s", cs.Stage)
		time.Sleep(300 * time.Millisecond)
	}
}

// waitDue waits until the case's current stage has a due date.
func (e *e2eSystem) waitDue(t *testing.T, caseID int64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		cs, err := e.db.Case(context.Background(), caseID)
		require.NoError(t, err)
		if cs.StageDueAt != nil {
			return
		}
		require.True(t, time.Now().Before(deadline), "no due date on case %d", caseID)
		time.Sleep(200 * time.Millisecond)
	}
}
