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
	"civicflow/workflows"
)

// TestE2EConsoleRehabInBrowser: a family member applies through the
// console's rehab form; the rehab centre's assessor registers,
// assesses and agrees the plan of a community-rehab case through the
// console's forms, opens the clinical record (audited) and records
// attendance; a supervisor
// reassigns a township case by choosing the official from a list.
func TestE2EConsoleRehabInBrowser(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := withConsole(newAPI(e.cfg, e.tc, e.db, log), log)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()

	b := newBrowser(t, srv.URL)
	require.NoError(t, chromedp.Do(b.ctx, chromedp.Navigate(srv.URL+"/console/")))

	// A family member applies through the console's rehab form; nothing
	// clinical is asked.
	b.open("/console/apply/rehab", "#submit-application")
	diagnosis, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool]("document.getElementById('diagnosis') !== null"))
	require.NoError(t, err)
	require.False(t, diagnosis, "the application asks for no diagnosis")
	b.run(chromedp.SetValue(chromedp.CSS("#name"), "李𠀋华"),
		chromedp.SetValue(chromedp.CSS("#id_number"), newRehabIDNumber(1982)),
		chromedp.SetValue(chromedp.CSS("#township"), "610113001"),
		chromedp.SetValue(chromedp.CSS("#address"), "小寨西路8号"),
		chromedp.SetValue(chromedp.CSS("#applied_by"), "family"),
		chromedp.SetValue(chromedp.CSS("#applicant_name"), "李建国"),
		chromedp.SetValue(chromedp.CSS("#applicant_phone"), "13912340000"),
		chromedp.SetValue(chromedp.CSS("#statement"), "出院后居家，希望参加社区康复"),
		chromedp.Click(chromedp.CSS("#submit-application")), chromedp.WaitVisible(chromedp.CSS("#access-code")))
	b.screenshot("09-rehab-submitted")
	cs, err := e.db.CaseByReference(ctx, strings.TrimSpace(b.text("#reference")))
	require.NoError(t, err)
	require.Equal(t, civicflow.CaseTypeCommunityRehab, cs.Type)
	c := submitted{Ref: cs.Reference, Code: strings.TrimSpace(b.text("#access-code")), ID: cs.ID}
	e.waitStage(t, c.ID, civicflow.StageIntake, 60*time.Second)

	// Intake through the API; the district approves the case to its centre
	// in the console.
	ts := e.login(t, "ts.xiaozhai")
	e.mustAct(t, ts, c.Ref, "accept", map[string]any{}, "district_review")
	b.login("dr.yanta")
	b.act(c.Ref, "approve")
	require.Equal(t, "registration", b.stage())
	b.logout()
	b.login("ra.yanta")
	b.act(c.Ref, "register",
		chromedp.SetValue(chromedp.CSS("#file_number"), "YT-2026-0777"),
		chromedp.SetValue(chromedp.CSS("#diagnosis"), rehabDiagnosis))
	require.Equal(t, "assessment", b.stage())

	// A missing physician comes back from the API as an inline error.
	b.open("/console/cases/"+c.Ref+"/act/assess", "#review-action")
	b.run(chromedp.Click(chromedp.CSS("#suitable-yes")), chromedp.SetValue(chromedp.CSS("#risk_level"), "1"),
		chromedp.Click(chromedp.CSS("#svc-medication_training")), chromedp.Click(chromedp.CSS("#svc-social_skills")),
		chromedp.SetValue(chromedp.CSS("#findings"), "自知力部分恢复"))
	// The browser would refuse the empty required field itself; the
	// server must say so too.
	_, err = chromedp.Run(b.ctx, chromedp.Evaluate[bool]("document.getElementById('physician').removeAttribute('required'); true"))
	require.NoError(t, err)
	b.run(chromedp.Click(chromedp.CSS("#review-action")), chromedp.WaitVisible(chromedp.CSS("#confirm-action")))
	require.Contains(t, b.text("#rehab-confirm"), "服药训练")
	b.run(chromedp.Click(chromedp.CSS("#confirm-action")), chromedp.WaitVisible(chromedp.CSS("#physician-err")))
	require.Contains(t, b.text("#physician-err"), "评估医师")
	b.screenshot("09-rehab-assess-error")
	b.run(chromedp.SetValue(chromedp.CSS("#physician"), rehabPhysician),
		chromedp.Click(chromedp.CSS("#review-action")), chromedp.WaitVisible(chromedp.CSS("#confirm-action")),
		chromedp.Click(chromedp.CSS("#confirm-action")), chromedp.WaitVisible(chromedp.CSS("#stage")))
	require.Equal(t, "planning", b.stage())

	// The plan offers what the assessment recommended.
	b.open("/console/cases/"+c.Ref+"/act/agree_plan", "#review-action")
	family, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool]("document.getElementById('plan-family_support') !== null"))
	require.NoError(t, err)
	require.False(t, family, "family support was not recommended")
	b.act(c.Ref, "agree_plan",
		chromedp.Click(chromedp.CSS("#plan-medication_training")), chromedp.SetValue(chromedp.CSS("#frequency-medication_training"), "每周1次"),
		chromedp.Click(chromedp.CSS("#plan-social_skills")), chromedp.SetValue(chromedp.CSS("#frequency-social_skills"), "每周2次"),
		chromedp.Click(chromedp.CSS("#agreed_by-guardian")), chromedp.SetValue(chromedp.CSS("#agreed_by_name"), "李建国"))
	require.Equal(t, "in_rehab", b.stage())

	before := e.auditCount(t, "case.clinical_read", c.Ref)
	b.run(chromedp.Click(chromedp.CSS("#open-clinical")), chromedp.WaitVisible(chromedp.CSS("#rehab-records")))
	records := b.text("#rehab-records")
	require.Contains(t, records, rehabDiagnosis)
	require.Contains(t, records, "社交能力训练")
	require.Contains(t, records, "李建国")
	require.Equal(t, before+1, e.auditCount(t, "case.clinical_read", c.Ref))
	b.screenshot("09-rehab-record")

	// Attendance: the form offers the plan's services, and the workflow
	// counts what is recorded for the next review.
	b.open("/console/cases/"+c.Ref, "#open-sessions")
	b.run(chromedp.Click(chromedp.CSS("#open-sessions")), chromedp.WaitVisible(chromedp.CSS("#record-sessions")))
	offered := b.text("#service")
	require.Contains(t, offered, "社交能力训练")
	require.NotContains(t, offered, "家庭支持", "not in the plan")
	b.run(chromedp.SetValue(chromedp.CSS("#service"), "social_skills"), chromedp.SetValue(chromedp.CSS("#sessions"), "2"),
		chromedp.Click(chromedp.CSS("#record-sessions")), chromedp.WaitVisible(chromedp.CSS(".flash")))
	b.screenshot("09-rehab-sessions")
	require.Eventually(t, func() bool {
		v, err := e.tc.QueryWorkflow(ctx, civicflow.CaseWorkflowID(c.ID), "", workflows.QueryState)
		var st workflows.CaseState
		if err != nil || v.Get(&st) != nil || st.Rehab == nil {
			return false
		}
		for _, s := range st.Rehab.Sessions {
			if s.Service == "social_skills" && s.Sessions == 2 {
				return true
			}
		}
		return false
	}, 20*time.Second, 200*time.Millisecond, "the workflow counts the attendance")
	b.logout()

	// The district reviewer reads the clinical record too.
	b.login("dr.yanta")
	b.open("/console/cases/"+c.Ref+"/rehab", "#rehab-records")
	require.Contains(t, b.text("#rehab-records"), rehabPhysician)
	b.logout()

	// A supervisor sees the stage, not the clinical record, and reassigns a
	// township case by choosing from the township's officials.
	b.login("sv.yanta")
	b.open("/console/cases/"+c.Ref, "#stage")
	clinicalLink, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool]("document.getElementById('open-clinical') !== null"))
	require.NoError(t, err)
	require.False(t, clinicalLink)
	tc := e.submit(t, application(newIDNumber(t), "610113001", "self_care"), "")
	b.open("/console/cases/"+tc.Ref, "#user_id")
	options := b.text("#user_id")
	require.Contains(t, options, "ts.xiaozhai")
	require.NotContains(t, options, "ts.dayanta", "another township's official")
	b.run(chromedp.SetValue(chromedp.CSS("#user_id"), strconv.FormatInt(e.userID(t, "ts.xiaozhai"), 10)),
		chromedp.SetValue(chromedp.CSS("#reassign-reasons"), "负责人休假"),
		chromedp.Click(chromedp.CSS("#reassign-submit")), chromedp.WaitVisible(chromedp.CSS(".flash")))
	b.screenshot("09-supervisor-reassign")
	cs, err = e.db.CaseByReference(ctx, tc.Ref)
	require.NoError(t, err)
	require.Equal(t, e.userID(t, "ts.xiaozhai"), cs.AssignedUserID)
}
