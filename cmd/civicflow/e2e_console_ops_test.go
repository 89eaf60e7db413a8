package main

// The console's campaign, wait-list and institution pages in headless
// Chromium against the real API, PostgreSQL, Temporal and worker.

import (
	"context"
	"fmt"
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

// consoleServer serves the console over the e2e system's API.
func consoleServer(t *testing.T, e *e2eSystem) *httptest.Server {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := withConsole(newAPI(e.cfg, e.tc, e.db, log), log)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// A supervisor starts an annual review of 阎良区 from the console and
// follows its board; a township official records a visit (first refused
// by the API for a problem with no ledger item, shown at the field), then
// closes the ledger item; the board counts both, and the supervisor closes
// the campaign.
func TestE2EConsoleCampaignInBrowser(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	// 阎良区 (610114): no other e2e test registers persons there.
	generateRegister(t, e.db, fmt.Sprintf("console%d", time.Now().UnixNano()), []string{"610114001", "610114001", "610114101"}, 3)
	e.campaignOfficial(t, "ts.fenghuang", "610114001")
	srv := consoleServer(t, e)
	b := newBrowser(t, srv.URL)
	require.NoError(t, chromedp.Do(b.ctx, chromedp.Navigate(srv.URL+"/console/")))

	b.login("sv.city")
	b.open("/console/campaigns", "#campaign-form")
	title := "控制台测试年审（阎良区）" + time.Now().Format("150405.000")
	b.run(chromedp.Click(chromedp.CSS("#kind-annual_review")), chromedp.SetValue(chromedp.CSS("#scope"), "610114"),
		chromedp.SetValue(chromedp.CSS("#title"), title), chromedp.Click(chromedp.CSS("#create-campaign")),
		chromedp.WaitVisible(chromedp.CSS("#board-h")))
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	require.NoError(t, err)
	idText := strings.TrimPrefix(strings.SplitN(loc, "?", 2)[0], srv.URL+"/console/campaigns/")
	id, err := strconv.ParseInt(idText, 10, 64)
	require.NoError(t, err, loc)
	require.Contains(t, b.text(".flash"), "已发起")
	e.waitTasks(t, e.login(t, "sv.city"), id, 60*time.Second)
	var inTown, inDistrict int
	require.NoError(t, e.db.Pool().QueryRow(ctx, `SELECT count(*) FILTER (WHERE township_code = '610114001'), count(*)
		FROM campaign_tasks WHERE campaign_id = $1`, id).Scan(&inTown, &inDistrict))
	require.Positive(t, inTown)
	path := "/console/campaigns/" + idText
	b.open(path, "#campaign-board")
	require.Contains(t, b.text("#board-610114001"), fmt.Sprintf("0 / %d", inTown))
	require.Contains(t, b.text("#board-610114"), fmt.Sprintf("0 / %d", inDistrict))
	b.screenshot("20-campaign-board")
	b.logout()

	// The township official visits a person.
	b.login("ts.fenghuang")
	b.open("/console/campaigns", "#campaigns")
	require.Contains(t, b.text("#campaigns"), title)
	b.open(path, "#tasks")
	b.screenshot("21-campaign-tasks")
	b.run(chromedp.Click(chromedp.CSS(`#tasks a.button`)), chromedp.WaitVisible(chromedp.CSS("#visit-form")))
	b.run(chromedp.Click(chromedp.CSS("#outcome-problem")), chromedp.SetValue(chromedp.CSS("#findings"), "照料人外出务工，老人独居"),
		chromedp.Click(chromedp.CSS("#record-visit")), chromedp.WaitVisible(chromedp.CSS("#problems-err")))
	require.Contains(t, b.text("#problems-err"), "至少填写一项问题")
	b.screenshot("22-campaign-visit-error")
	b.run(chromedp.SetValue(chromedp.CSS("#problems"), "照料人长期外出，无人照料"), chromedp.Click(chromedp.CSS("#record-visit")),
		chromedp.WaitVisible(chromedp.CSS(".flash")))
	require.Contains(t, b.text(".flash"), "走访已记录")
	require.Contains(t, b.text("#ledger"), "照料人长期外出，无人照料")
	var item int64
	require.NoError(t, e.db.Pool().QueryRow(ctx, `SELECT id FROM campaign_ledger_items WHERE campaign_id = $1`, id).Scan(&item))
	sel := fmt.Sprintf("#action-%d", item)
	b.run(chromedp.SetValue(chromedp.CSS(sel), "已联系子女返乡照料"), chromedp.Click(chromedp.CSS(fmt.Sprintf("#close-item-%d", item))),
		chromedp.WaitVisible(chromedp.CSS("#ledger-empty")))
	require.Contains(t, b.text(".flash"), "已销号")
	b.logout()

	// The board counts the visit, the problem, and no open item; in English too.
	b.login("sv.city")
	b.open("/console/lang/en?back="+path, "#campaign-board")
	row := b.text("#board-610114001")
	require.Contains(t, row, fmt.Sprintf("1 / %d", inTown))
	require.Contains(t, b.text("#board-h"), "Progress")
	b.screenshot("23-campaign-board-en")
	b.open("/console/lang/zh-CN?back="+path, "#close-campaign")
	// The close form goes with the close: only the next page lacks it.
	b.run(chromedp.SetValue(chromedp.CSS("#close-note"), "控制台测试结束"), chromedp.Click(chromedp.CSS("#close-campaign")),
		chromedp.WaitNotPresent(chromedp.CSS("#close-campaign")), chromedp.WaitVisible(chromedp.CSS(".flash")))
	require.Contains(t, b.text("#campaign-state"), "已结束")
	var closed bool
	require.NoError(t, e.db.Pool().QueryRow(ctx, `SELECT closed_at IS NOT NULL FROM campaigns WHERE id = $1`, id).Scan(&closed))
	require.True(t, closed)
}

// An administrator creates an institution (first refused inline for a
// blank name), adds a bed and retires it; the wait-list shows a case
// waiting to supervisors and the district; the district releases a bed
// before admission through the action form.
func TestE2EConsoleWaitlistAndBedsInBrowser(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	srv := consoleServer(t, e)
	b := newBrowser(t, srv.URL)
	require.NoError(t, chromedp.Do(b.ctx, chromedp.Navigate(srv.URL+"/console/")))

	b.login("admin")
	b.open("/console/admin/institutions", "#institution-form")
	b.run(chromedp.SetValue(chromedp.CSS("#inst-name"), "   "), chromedp.SetValue(chromedp.CSS("#inst-district"), "610118"),
		chromedp.Click(chromedp.CSS("#inst-designated")), // not designated: its bed goes to nobody
		chromedp.Click(chromedp.CSS("#create-institution")), chromedp.WaitVisible(chromedp.CSS("#name-err")))
	require.Contains(t, b.text("#name-err"), "请填写机构名称")
	name := "鄠邑区控制台测试敬老院-" + time.Now().Format("150405.000")
	b.run(chromedp.SetValue(chromedp.CSS("#inst-name"), name), chromedp.Click(chromedp.CSS("#create-institution")),
		chromedp.WaitVisible(chromedp.CSS("#bed-form")))
	require.Equal(t, name, b.text("#inst-heading"))
	require.Contains(t, b.text("#inst-designated-state"), "否")
	b.run(chromedp.SetValue(chromedp.CSS("#bed-label"), "A-101"), chromedp.SetValue(chromedp.CSS("#bed-care"), "dependent"),
		chromedp.Click(chromedp.CSS("#add-bed")), chromedp.WaitVisible(chromedp.CSS("#beds")))
	require.Contains(t, b.text("#beds"), "空闲")
	require.Contains(t, b.text("#count-dependent"), "空闲 1 / 在用 1")
	b.screenshot("24-institution")
	var bed int64
	require.NoError(t, e.db.Pool().QueryRow(ctx, `SELECT b.id FROM beds b JOIN institutions i ON i.id = b.institution_id
		WHERE i.name = $1`, name).Scan(&bed))
	// The page after adding the bed shows a flash already: wait for the
	// retired bed's button to go, which only the next page does.
	b.run(chromedp.Click(chromedp.CSS(fmt.Sprintf("#retire-%d", bed))),
		chromedp.WaitNotPresent(chromedp.CSS(fmt.Sprintf("#retire-%d", bed))), chromedp.WaitVisible(chromedp.CSS(".flash")))
	require.Contains(t, b.text("#beds"), "已停用")
	require.Contains(t, b.text("#count-dependent"), "空闲 0 / 在用 0")
	b.open("/console/admin/institutions", "#institutions")
	require.Contains(t, b.text("#institutions"), name)
	b.screenshot("25-institutions")
	b.logout()

	// More dependent-care cases than free beds: one waits.
	is, err := e.db.Institutions(ctx, "")
	require.NoError(t, err)
	free := 0
	for _, in := range is {
		free += in.FreeBeds[civicflow.CareDependent]
	}
	subs, cases := e.placeDependent(t, free+1)
	defer e.giveBack(t, subs)
	waiting := subs[len(subs)-1]
	require.Equal(t, civicflow.StageWaitlisted, cases[len(cases)-1].Stage)
	for _, who := range []string{"sv.city", "dr.yanta"} {
		b.login(who)
		b.open("/console/waitlist", "#waitlist-dependent")
		require.Contains(t, b.text("#waitlist-dependent"), waiting.Ref)
		require.Contains(t, b.text("#waitlist-dependent"), "雁塔区")
		if who == "sv.city" {
			b.screenshot("26-waitlist")
		}
		if who == "dr.yanta" {
			// The district releases a bed whose person did not come.
			var holder string
			for _, cs := range cases {
				if cs.Stage == civicflow.StageAwaitingAdmission {
					holder = cs.Reference
				}
			}
			require.NotEmpty(t, holder)
			b.act(holder, "release_allocation", chromedp.SetValue(chromedp.CSS("#release_reason"), "no_show"),
				chromedp.SetValue(chromedp.CSS("#reasons"), "约定日期未报到，电话无人接听"))
			require.Equal(t, "withdrawn", b.stage())
		}
		b.logout()
	}
}
