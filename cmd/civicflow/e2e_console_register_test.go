package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"civicflow"
	"civicflow/postgres"
)

// entryOf is the register entry a case opened, as the township lists it.
func (e *e2eSystem) entryOf(t *testing.T, ts map[string]string, ref string) int64 {
	t.Helper()
	for _, en := range e.registerEntries(t, ts, "limit=500") {
		if en["opened_by_case"] == ref {
			return int64(en["id"].(float64))
		}
	}
	t.Fatalf("case %s opened no running register entry", ref)
	return 0
}

// TestE2EConsoleRegisterInBrowser: the district approves a case in
// dispersed support through the console (a carer's phone refused inline
// first); the township finds the person in the register by ID number,
// opens the entry and reveals the carer's phone (audited); the carer
// applies for the transfer to an institution on the public form (a wrong
// name refused first) and tracks it; the township accepts and records
// its visit, the district approves the move and the institution admits
// the person; the person dies and the institution raises the end of
// support on the entry page (the API's refusal of a missing reporter
// shown inline), the township accepts, the district confirms it, and
// after the notice the entry shows the period ended; a supervisor sees
// the counts, in Chinese and English.
func TestE2EConsoleRegisterInBrowser(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := withConsole(newAPI(e.cfg, e.tc, e.db, log), log)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()
	ts := e.login(t, "ts.xiaozhai")
	a := e.toReview(t, ts, "self_care")
	// Beds of this test's own, so the transfer is placed at once.
	_, err = e.db.EnsureInstitution(ctx, postgres.NewInstitution{Name: fmt.Sprintf("雁塔区控制台转集中敬老院-%d", time.Now().UnixNano()),
		DistrictCode: "610113", Beds: map[civicflow.CareLevel]int{civicflow.CareSelf: 2}})
	require.NoError(t, err)

	b := newBrowser(t, srv.URL)
	require.NoError(t, chromedp.Do(b.ctx, chromedp.Navigate(srv.URL+"/console/")))

	// 1. The district approves A in dispersed support.
	b.login("dr.yanta")
	b.open("/console/cases/"+a.Ref+"/act/approve", "#sf-dispersed")
	hidden, err := chromedp.Run(b.ctx, chromedp.Evaluate[string]("getComputedStyle(document.getElementById('carer-fields')).display"))
	require.NoError(t, err)
	require.Equal(t, "none", hidden, "the carer's fields wait for dispersed support to be chosen")
	b.run(chromedp.Click(chromedp.CSS("#sf-dispersed")), chromedp.WaitVisible(chromedp.CSS("#carer_name")))
	b.run(chromedp.SetValue(chromedp.CSS("#carer_name"), "李娜"), chromedp.SetValue(chromedp.CSS("#carer_relation"), "侄女"),
		chromedp.SetValue(chromedp.CSS("#carer_phone"), "1391234"))
	b.screenshot("20-register-approve-dispersed")
	b.run(chromedp.Click(chromedp.CSS("#review-action")), chromedp.WaitVisible(chromedp.CSS("#confirm-action")))
	require.Contains(t, b.text("#confirm-support-form"), "分散供养")
	require.Contains(t, b.text("#confirm-carer"), "李娜")
	b.run(chromedp.Click(chromedp.CSS("#confirm-action")), chromedp.WaitVisible(chromedp.CSS("#carer_phone-err")))
	require.Contains(t, b.text("#carer_phone-err"), "11位手机号码")
	b.screenshot("20-register-approve-refused")
	b.run(chromedp.SetValue(chromedp.CSS("#carer_phone"), "13912340077"),
		chromedp.Click(chromedp.CSS("#review-action")), chromedp.WaitVisible(chromedp.CSS("#confirm-action")),
		chromedp.Click(chromedp.CSS("#confirm-action")), chromedp.WaitVisible(chromedp.CSS("#stage")))
	require.Contains(t, b.text("main"), "已办理")
	require.Equal(t, "completed", b.stage(), "dispersed support completes the case at once")
	b.logout()

	// 2. The township finds A in the register by ID number and reveals
	// the carer's phone.
	pd, err := e.db.PersonalData(ctx, a.ID)
	require.NoError(t, err)
	b.login("ts.xiaozhai")
	b.run(chromedp.Click(chromedp.CSS("#nav-register")), chromedp.WaitVisible(chromedp.CSS("#register-search")))
	b.run(chromedp.SetValue(chromedp.CSS("#s-id"), pd.IDNumber), chromedp.Click(chromedp.CSS("#search-submit")),
		chromedp.WaitVisible(chromedp.CSS("#search-result")))
	list := b.text("#register")
	require.Contains(t, list, "分散供养")
	require.Contains(t, list, "139****0077", "the carer's phone, masked")
	require.NotContains(t, list, pd.IDNumber)
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	require.NoError(t, err)
	require.NotContains(t, loc, pd.IDNumber, "the searched number is not in the address")
	b.screenshot("21-register-search")
	rows, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll('#register tbody tr').length`))
	require.NoError(t, err)
	require.Equal(t, 1, rows, "one running period for one person")
	b.run(chromedp.Click(chromedp.CSS(`#register tbody a`)), chromedp.WaitVisible(chromedp.CSS("#entry")))
	require.Equal(t, "dispersed", attr(b, "#entry-form", "data-form"))
	require.Equal(t, a.Ref, b.text("#opened-by"))
	require.Contains(t, b.text("#changes"), "纳入供养")
	loc, err = chromedp.Run(b.ctx, chromedp.Location())
	require.NoError(t, err)
	entryA := loc[strings.LastIndex(loc, "/")+1:]
	b.run(chromedp.Click(chromedp.CSS("#reveal-open")), chromedp.SetValue(chromedp.CSS("#reveal-reason"), "联系照料人核实情况"),
		chromedp.Click(chromedp.CSS("#reveal-submit")), chromedp.WaitVisible(chromedp.CSS("#entry-carer-phone mark")))
	require.Equal(t, "13912340077", b.text("#entry-carer-phone mark"))
	require.Equal(t, "李娜", b.text("#entry-carer mark"))
	var audited int
	require.NoError(t, e.db.Pool().QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'register.reveal' AND target_id = $1`,
		entryA).Scan(&audited))
	require.Equal(t, 1, audited, "the reveal is in the audit trail")
	b.screenshot("22-register-entry-revealed")
	b.logout()

	// The district's supervisor sees A counted, also in English.
	b.login("sv.yanta")
	b.open("/console/register", "#register-counts")
	require.Contains(t, b.text("#register-counts"), "雁塔区")
	require.Contains(t, b.text("#register-counts"), "分散供养")
	b.screenshot("27-register-counts")
	b.open("/console/lang/en?back=/console/register", "#register-counts")
	require.Contains(t, b.text("main h1"), "Register of supported persons")
	b.screenshot("27-register-counts-en")
	b.open("/console/lang/zh-CN?back=/console/register", "#register-counts")
	b.logout()

	// 3. The carer, A's niece, applies for the move on a phone.
	b.run(chromedp.EmulateViewport(390, 844))
	b.open("/console/", "main h1")
	b.run(chromedp.Click(chromedp.CSS(`a[href="/console/apply/transfer"]`)), chromedp.WaitVisible(chromedp.CSS("#reason")))
	b.run(chromedp.SetValue(chromedp.CSS("#id_number"), pd.IDNumber), chromedp.SetValue(chromedp.CSS("#name"), "别人"),
		chromedp.SetValue(chromedp.CSS("#relation"), "relative"), chromedp.SetValue(chromedp.CSS("#applicant_name"), "李娜"),
		chromedp.SetValue(chromedp.CSS("#applicant_phone"), "13912340077"), chromedp.SetValue(chromedp.CSS("#reason"), "carer_unable"),
		chromedp.SetValue(chromedp.CSS("#statement"), "照料人已外出务工，无法继续照料"))
	b.run(chromedp.Click(chromedp.CSS("#submit-application")), chromedp.WaitVisible(chromedp.CSS("#page-error")))
	require.Contains(t, b.text("#page-error"), "没有与此身份证号码和姓名相符的人")
	b.screenshot("23-transfer-apply-refused-phone")
	b.run(chromedp.SetValue(chromedp.CSS("#name"), "买买提·艾力"), chromedp.Click(chromedp.CSS("#submit-application")),
		chromedp.WaitVisible(chromedp.CSS("#access-code")))
	tref, code := strings.TrimSpace(b.text("#reference")), strings.TrimSpace(b.text("#access-code"))
	require.True(t, strings.HasPrefix(tref, "ZJ-610113-"), tref)
	require.NotEmpty(t, code)
	b.screenshot("23-transfer-submitted-phone")
	tc, err := e.db.CaseByReference(ctx, tref)
	require.NoError(t, err)
	require.Equal(t, civicflow.CaseTypeSupportTransfer, tc.Type)
	e.waitStage(t, tc.ID, civicflow.StageIntake, 60*time.Second)
	b.open("/console/track", "#track-submit")
	b.run(chromedp.SetValue(chromedp.CSS("#reference"), tref), chromedp.SetValue(chromedp.CSS("#access_code"), code),
		chromedp.Click(chromedp.CSS("#track-submit")), chromedp.WaitVisible(chromedp.CSS("#explain")))
	require.Equal(t, "intake", b.stage())
	b.run(chromedp.EmulateViewport(1280, 900))

	// 4. The township accepts and records its visit; the district
	// approves the move (no choice of dispersed support there).
	b.login("ts.xiaozhai")
	b.act(tref, "accept")
	require.Equal(t, "investigation", b.stage())
	require.Contains(t, b.text("#register-reason"), "照料人无法继续照料")
	b.open("/console/cases/"+tref+"/act/record_transfer_visit", "#review-action")
	reason, err := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS("#transfer_reason")))
	require.NoError(t, err)
	require.Equal(t, "carer_unable", reason, "the visit starts from the applicant's reason")
	b.actShot(tref, "record_transfer_visit", "24-transfer-visit-confirm",
		chromedp.SetValue(chromedp.CSS("#findings"), "侄女外出务工，老人独居，行动尚可"),
		chromedp.SetValue(chromedp.CSS("#visit_care"), "self_care"))
	require.Equal(t, "district_review", b.stage())
	require.Contains(t, b.text("#transfer-visit"), "侄女外出务工")
	b.logout()
	b.login("dr.yanta")
	b.open("/console/cases/"+tref+"/act/approve", "#review-action")
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll('#sf-dispersed').length`))
	require.NoError(t, err)
	require.Zero(t, n, "a transfer is to centralised support")
	b.act(tref, "approve")
	require.Contains(t, []string{"placement", "waitlisted", "awaiting_admission"}, b.stage())
	b.logout()

	// The institution holding the bed admits A: the dispersed period ends
	// and the centralised one begins today.
	tcs := e.waitStage(t, tc.ID, civicflow.StageAwaitingAdmission, 60*time.Second)
	e.staffOf(t, tcs) // the institution's staff account
	al, err := e.db.Allocation(ctx, tcs.AllocationID)
	require.NoError(t, err)
	b.login(fmt.Sprintf("st.e2e-%d", al.InstitutionID))
	b.act(tref, "confirm_admission")
	require.Equal(t, "completed", b.stage())

	// 5. A has died: the institution raises the end of support on the
	// entry page (the API's refusal of a missing reporter shown inline).
	entry := e.entryOf(t, ts, tref)
	b.run(chromedp.Click(chromedp.CSS("#nav-register")), chromedp.WaitVisible(chromedp.CSS("#register-filter")))
	b.open(fmt.Sprintf("/console/register/%d", entry), "#termination")
	require.Equal(t, "centralised", attr(b, "#entry-form", "data-form"))
	require.Equal(t, "供养机构", b.text("#raised-by"), "institution staff raise it as the institution")
	b.run(chromedp.SetValue(chromedp.CSS("#reason"), "died"), chromedp.SetValue(chromedp.CSS("#statement"), "本人于今日在院内病故"))
	b.run(chromedp.Click(chromedp.CSS("#term-submit")), chromedp.WaitVisible(chromedp.CSS("#reporter-err")))
	require.Contains(t, b.text("#reporter-err"), "报告人")
	b.screenshot("25-termination-refused")
	b.run(chromedp.SetValue(chromedp.CSS("#reporter"), "院方护理部"), chromedp.Click(chromedp.CSS("#term-submit")),
		chromedp.WaitVisible(chromedp.CSS("#raised-case")))
	// The case is the township's: the institution is told its reference.
	zref := regexp.MustCompile(`ZZ-610113-[0-9]{6}`).FindString(b.text("#raised-case"))
	require.NotEmpty(t, zref, b.text("#raised-case"))
	b.logout()
	zc, err := e.db.CaseByReference(ctx, zref)
	require.NoError(t, err)
	e.waitStage(t, zc.ID, civicflow.StageIntake, 60*time.Second)
	b.login("ts.xiaozhai")
	b.open("/console/cases/"+zref, "#register-case")
	require.Contains(t, b.text("#register-reason"), "死亡")
	require.Contains(t, b.text("#register-raised-by"), "供养机构")
	require.Equal(t, strconv.FormatInt(entry, 10), strings.TrimPrefix(attr(b, "#register-entry", "href"), "/console/register/"))
	b.act(zref, "accept")
	require.Equal(t, "district_review", b.stage())
	b.logout()
	b.login("dr.yanta")
	b.open("/console/cases/"+zref+"/act/approve", "#review-action")
	n, err = chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll('#sf-dispersed, #care_level').length`))
	require.NoError(t, err)
	require.Zero(t, n, "a termination's approval confirms the end only")
	b.act(zref, "approve")
	b.waitStage("/console/cases/"+zref, "completed")
	b.screenshot("26-termination-completed")
	b.open(fmt.Sprintf("/console/register/%d", entry), "#entry-ends")
	require.Contains(t, b.text("#entry-ends"), "死亡")
	require.Equal(t, zref, b.text("#closed-by"))
	changes := b.text("#changes")
	require.Contains(t, changes, "转为集中供养", "the dispersed period ended by the transfer")
	require.Contains(t, changes, "死亡")
	b.screenshot("26-register-entry-ended")
	b.logout()

}

// attr reads an attribute of the first element sel matches.
func attr(b *browser, sel, name string) string {
	b.t.Helper()
	r, err := chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
	require.NoError(b.t, err)
	return r.Value
}
