package main

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"civicflow"
)

// studentDibaoMargin is a demo student whose household the verification
// stand-in records as 低保边缘 (households.json); no other end-to-end test
// applies for them, so the one award per student and year is this test's.
const studentDibaoMargin = "610113200711020241"

// TestE2EConsoleEducationInBrowser: a freshman applies for the education
// grant through the console's form (a refused notice number shown inline
// first), the township accepts and records the verification (its form
// starts from the platform's assistance status), the district approves
// with the tier the rules give preselected (another tier refused inline),
// and the case page shows the case completed with its award; the
// applicant is told of the award, not of an admission.
func TestE2EConsoleEducationInBrowser(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := withConsole(newAPI(e.cfg, e.tc, e.db, log), log)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()

	b := newBrowser(t, srv.URL)
	require.NoError(t, chromedp.Do(b.ctx, chromedp.Navigate(srv.URL+"/console/")))

	// 1. The student applies on a phone-sized screen.
	b.run(chromedp.EmulateViewport(390, 844))
	b.open("/console/", "main h1")
	b.run(chromedp.Click(chromedp.CSS(`a[href="/console/apply/education"]`)), chromedp.WaitVisible(chromedp.CSS("#notice_number")))
	year := strconv.Itoa(admissionYear())
	b.run(chromedp.SetValue(chromedp.CSS("#name"), "王𠀋宁"),
		chromedp.SetValue(chromedp.CSS("#id_number"), studentDibaoMargin),
		chromedp.SetValue(chromedp.CSS("#phone"), "13800007788"),
		chromedp.SetValue(chromedp.CSS("#township"), "610113001"),
		chromedp.SetValue(chromedp.CSS("#address"), "小寨东路5号"),
		chromedp.SetValue(chromedp.CSS("#relation"), "relative"),
		chromedp.SetValue(chromedp.CSS("#applicant_name"), "王建国"),
		chromedp.SetValue(chromedp.CSS("#applicant_phone"), "13912347788"),
		chromedp.SetValue(chromedp.CSS("#family_status"), "dibao_margin"),
		chromedp.SetValue(chromedp.CSS("#school"), "西安交通大学"),
		chromedp.SetValue(chromedp.CSS("#school_kind"), "undergraduate"),
		chromedp.SetValue(chromedp.CSS("#major"), "软件工程"),
		chromedp.SetValue(chromedp.CSS("#admission_year"), year),
		chromedp.SetValue(chromedp.CSS("#notice_number"), "2026 0001"),
		chromedp.SetValue(chromedp.CSS("#statement"), "母亲务工收入低，家庭为低保边缘户"))
	b.run(chromedp.Click(chromedp.CSS("#submit-application")), chromedp.WaitVisible(chromedp.CSS("#notice_number-err")))
	require.Contains(t, b.text("#notice_number-err"), "录取通知书编号")
	b.screenshot("10-education-apply-errors-phone")
	b.run(chromedp.SetValue(chromedp.CSS("#notice_number"), "2026610113000777"),
		chromedp.Click(chromedp.CSS("#submit-application")), chromedp.WaitVisible(chromedp.CSS("#access-code")))
	ref, code := strings.TrimSpace(b.text("#reference")), strings.TrimSpace(b.text("#access-code"))
	require.NotEmpty(t, code)
	cs, err := e.db.CaseByReference(ctx, ref)
	require.NoError(t, err)
	require.Equal(t, civicflow.CaseTypeEducationGrant, cs.Type)
	b.screenshot("10-education-submitted-phone")
	e.waitStage(t, cs.ID, civicflow.StageIntake, 60*time.Second)

	// 2. The township accepts, then records what it verified.
	b.run(chromedp.EmulateViewport(1280, 900))
	b.login("ts.xiaozhai")
	b.open("/console/inbox", "#inbox")
	require.Regexp(t, ref+`\s+教育资助\s+王𠀋宁`, b.text("#inbox"), "the inbox names the process")
	b.act(ref, "accept")
	require.Equal(t, "verification", b.stage())
	require.Contains(t, b.text("#education-application"), "西安交通大学")
	e.waitCheck(t, cs.ID, 1) // an eligible opinion waits for the household check
	b.open("/console/cases/"+ref+"/act/record_verification", "#review-action")
	found, err := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS("#family_status")))
	require.NoError(t, err)
	require.Equal(t, "dibao_margin", found, "the form starts from the platform's assistance status")
	b.actShot(ref, "record_verification", "11-education-verify-confirm",
		chromedp.Click(chromedp.CSS("#enrolment-yes")),
		chromedp.SetValue(chromedp.CSS("#findings"), "核对平台登记为低保边缘家庭；已电话向学校招生办核实录取"),
		chromedp.Click(chromedp.CSS("#op-eligible")))
	require.Equal(t, "district_review", b.stage())
	b.logout()

	// 3. The district approves the tier the rules give: preselected;
	// another tier is refused by the API at the field.
	b.login("dr.yanta")
	b.open("/console/cases/"+ref, "#education-verification")
	require.Contains(t, b.text("#education-tier"), "3,000 元")
	b.open("/console/cases/"+ref+"/act/approve", "#review-action")
	preselected, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool]("document.getElementById('tier-3000').checked"))
	require.NoError(t, err)
	require.True(t, preselected, "the tier the rules give is preselected")
	require.Contains(t, b.text("#tier-basis"), "低保边缘家庭")
	b.run(chromedp.Click(chromedp.CSS("#tier-5000")), chromedp.Click(chromedp.CSS("#review-action")),
		chromedp.WaitVisible(chromedp.CSS("#confirm-action")))
	require.Contains(t, b.text("#confirm-tier"), "5,000 元")
	b.run(chromedp.Click(chromedp.CSS("#confirm-action")), chromedp.WaitVisible(chromedp.CSS("#tier_amount-err")))
	require.Contains(t, b.text("#tier_amount-err"), "资助标准给出的档次")
	b.screenshot("12-education-approve-refused")
	aw, err := e.db.AwardOf(ctx, cs.ID)
	require.NoError(t, err)
	require.Nil(t, aw, "a refused approval records nothing")
	b.run(chromedp.Click(chromedp.CSS("#tier-3000")), chromedp.Click(chromedp.CSS("#review-action")),
		chromedp.WaitVisible(chromedp.CSS("#confirm-action")),
		chromedp.Click(chromedp.CSS("#confirm-action")), chromedp.WaitVisible(chromedp.CSS("#stage")))
	require.Contains(t, b.text("main"), "已办理")
	require.Equal(t, "completed", b.stage())
	award := b.text("#education-award")
	require.Contains(t, award, "3,000 元")
	require.Contains(t, award, "待发放")
	b.screenshot("12-education-case-completed")
	aw, err = e.db.AwardOf(ctx, cs.ID)
	require.NoError(t, err)
	require.Equal(t, 3000, aw.Amount)
	require.Equal(t, civicflow.FamilyDibaoMargin, aw.FamilyStatus)
	b.logout()

	// 4. The applicant is told of the award.
	b.run(chromedp.EmulateViewport(390, 844))
	b.open("/console/track", "#track-submit")
	b.run(chromedp.SetValue(chromedp.CSS("#reference"), ref), chromedp.SetValue(chromedp.CSS("#access_code"), code),
		chromedp.Click(chromedp.CSS("#track-submit")), chromedp.WaitVisible(chromedp.CSS("#explain")))
	require.Equal(t, "completed", b.stage())
	require.Contains(t, b.text("#explain"), "资助已批准")
	require.NotContains(t, b.text("main"), "入住")
	b.screenshot("13-education-applicant-phone")
}
