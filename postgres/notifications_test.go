package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"civicflow"
	"civicflow/postgres"
)

// notifyCase creates a case whose applicant has an e-mail address (or
// none) and an official with an address in its township.
func notifyCase(t *testing.T, db *postgres.DB, email string) (caseID, officialID int64) {
	t.Helper()
	ctx := context.Background()
	app := newApplication("610113001")
	app.ApplicantEmail = email
	c, err := db.CreateApplication(ctx, postgres.NewCase{Application: app})
	require.NoError(t, err)
	officialID, err = db.EnsureUser(ctx, postgres.NewUser{Username: fmt.Sprintf("ts.n%d", c.CaseID), DisplayName: "王芳",
		Password: "pw-123456789", Role: civicflow.RoleTownshipOfficial, Jurisdiction: "610113001"})
	require.NoError(t, err)
	require.NoError(t, db.SetUserEmail(ctx, officialID, fmt.Sprintf("ts%d@example.gov.cn", c.CaseID), "en"))
	return c.CaseID, officialID
}

func submitted(caseID int64) civicflow.Transition {
	return civicflow.Transition{CaseID: caseID, Key: "step-1", Seq: 1, Action: "submitted", From: civicflow.StageSubmitted,
		To: civicflow.StageIntake, Actor: civicflow.SystemActor, At: time.Date(2026, 3, 6, 10, 0, 0, 0, civicflow.ChinaZone())}
}

func TestStepEnqueuesNotificationsOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)
	caseID, officialID := notifyCase(t, db, "family@example.org")
	step := submitted(caseID)
	require.NoError(t, db.RecordTransition(ctx, step))
	require.NoError(t, db.RecordTransition(ctx, step), "a retried step")

	ns, err := db.Notifications(ctx, postgres.NotificationFilter{CaseID: caseID})
	require.NoError(t, err)
	require.Len(t, ns, 2)
	require.Equal(t, civicflow.TemplateApplicationReceived, ns[0].Template)
	require.Equal(t, civicflow.RecipientApplicant, ns[0].Recipient)
	require.Equal(t, civicflow.ChannelEmail, ns[0].Channel)
	require.Equal(t, civicflow.NotificationPending, ns[0].State)
	require.Equal(t, "zh", ns[0].Locale)
	require.Equal(t, civicflow.TemplateCaseWaiting, ns[1].Template)
	require.Equal(t, officialID, ns[1].UserID)
	require.Equal(t, "en", ns[1].Locale)
	require.Equal(t, "610113", ns[1].DistrictCode)

	addr, err := db.NotificationAddress(ctx, ns[0])
	require.NoError(t, err)
	require.Equal(t, "family@example.org", addr, "the applicant's sealed address is opened when sending")
	var plain int
	require.NoError(t, db.Pool().QueryRow(ctx, `SELECT count(*) FROM notifications WHERE data::text LIKE '%example.org%'`).Scan(&plain))
	require.Zero(t, plain, "the outbox keeps no copy of the address")

	// Supplements: the whole list, and a date 10 working days on
	// (Friday 2026-03-06 + 10 working days = Friday 2026-03-20).
	sup := civicflow.Transition{CaseID: caseID, Key: "step-2", Seq: 2, Action: "request_supplements", From: civicflow.StageIntake,
		To: civicflow.StageAwaitingSupplements, Actor: civicflow.SystemActor, At: step.At, WaitingFor: []string{"户口簿", "收入证明"}}
	require.NoError(t, db.RecordTransition(ctx, sup))
	outcome, o, err := db.ClaimNotification(ctx, lastID(t, db, caseID), time.Minute, "mz.example")
	require.NoError(t, err)
	require.Equal(t, civicflow.ClaimSend, outcome)
	require.Equal(t, civicflow.TemplateSupplementsRequested, o.Template)
	require.Equal(t, []string{"户口簿", "收入证明"}, o.Data.Items)
	require.Equal(t, "2026-03-20", o.Data.Due)
	require.Equal(t, civicflow.StageAwaitingSupplements, o.Data.Stage)
	require.Equal(t, civicflow.MaskName(newApplicationName(t, db, caseID)), o.Data.PersonName)
}

func newApplicationName(t *testing.T, db *postgres.DB, caseID int64) string {
	return getCase(t, db, caseID).PersonName
}

func lastID(t *testing.T, db *postgres.DB, caseID int64) int64 {
	t.Helper()
	var id int64
	require.NoError(t, db.Pool().QueryRow(context.Background(), `SELECT max(id) FROM notifications WHERE case_id = $1`, caseID).Scan(&id))
	return id
}

func TestApplicantWithoutEmailIsNotedOnTheTimeline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)
	caseID, _ := notifyCase(t, db, "")
	require.NoError(t, db.RecordTransition(ctx, submitted(caseID)))
	require.NoError(t, db.RecordTransition(ctx, submitted(caseID)))
	ns, err := db.Notifications(ctx, postgres.NotificationFilter{CaseID: caseID, States: []civicflow.NotificationState{civicflow.NotificationNoChannel}})
	require.NoError(t, err)
	require.Len(t, ns, 1)
	require.Equal(t, civicflow.ChannelNone, ns[0].Channel)
	require.Contains(t, ns[0].LastError, "paper")
	evs, err := db.Events(ctx, caseID)
	require.NoError(t, err)
	require.Len(t, evs, 2, "the step and one note, however often the step is recorded")
	require.Equal(t, civicflow.StepNoticeNotSent, evs[1].Action)
	require.JSONEq(t, fmt.Sprintf(`{"notification_id": %d, "template": "application_received", "recipient": "applicant",
		"reason": %q}`, ns[0].ID, ns[0].LastError), string(evs[1].Details))
	// A row without channel is never claimed for sending.
	outcome, _, err := db.ClaimNotification(ctx, ns[0].ID, time.Minute, "x")
	require.NoError(t, err)
	require.Equal(t, civicflow.ClaimFinished, outcome)
}

// TestClaimLeaseAndHandOver: the states a sending attempt moves a row
// through, and what a second attempt finds at each point.
func TestClaimLeaseAndHandOver(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)
	caseID, _ := notifyCase(t, db, "family@example.org")
	require.NoError(t, db.RecordTransition(ctx, submitted(caseID)))
	ns, err := db.Notifications(ctx, postgres.NotificationFilter{CaseID: caseID})
	require.NoError(t, err)
	id := ns[0].ID
	lease := 500 * time.Millisecond

	outcome, a, err := db.ClaimNotification(ctx, id, lease, "mz.example")
	require.NoError(t, err)
	require.Equal(t, civicflow.ClaimSend, outcome)
	require.Equal(t, fmt.Sprintf("<civicflow-notification-%d@mz.example>", id), a.MessageID)
	outcome, _, err = db.ClaimNotification(ctx, id, lease, "mz.example")
	require.NoError(t, err)
	require.Equal(t, civicflow.ClaimBusy, outcome, "a live lease keeps others off")

	// The holder dies before the hand-over: after the lease another attempt
	// takes over, and the first one can no longer commit.
	time.Sleep(lease + 100*time.Millisecond)
	outcome, b, err := db.ClaimNotification(ctx, id, lease, "other.example")
	require.NoError(t, err)
	require.Equal(t, civicflow.ClaimSend, outcome)
	require.Equal(t, a.MessageID, b.MessageID, "the Message-ID never changes")
	require.Equal(t, 2, b.Attempts)
	requireCode(t, db.CommitNotification(ctx, id, a.Token, lease), civicflow.ECONFLICT)

	// The new holder hands over and dies before recording the answer: the
	// next attempt does not send, the row becomes unconfirmed.
	require.NoError(t, db.CommitNotification(ctx, id, b.Token, lease))
	outcome, _, err = db.ClaimNotification(ctx, id, lease, "mz.example")
	require.NoError(t, err)
	require.Equal(t, civicflow.ClaimBusy, outcome)
	time.Sleep(lease + 100*time.Millisecond)
	outcome, _, err = db.ClaimNotification(ctx, id, lease, "mz.example")
	require.NoError(t, err)
	require.Equal(t, civicflow.ClaimInDoubt, outcome)
	n, err := db.Notification(ctx, id)
	require.NoError(t, err)
	require.Equal(t, civicflow.NotificationUnconfirmed, n.State)
	outcome, _, err = db.ClaimNotification(ctx, id, lease, "mz.example")
	require.NoError(t, err)
	require.Equal(t, civicflow.ClaimFinished, outcome)

	// A late answer from the dead attempt is still recorded.
	require.NoError(t, db.MarkNotificationSent(ctx, id, b.Token, "250 queued"))
	n, err = db.Notification(ctx, id)
	require.NoError(t, err)
	require.Equal(t, civicflow.NotificationSent, n.State)
	requireCode(t, func() error { _, err := db.RetryNotification(ctx, id); return err }(), civicflow.ECONFLICT)

	// Giving up: failed before a hand-over, unconfirmed after one.
	ids := ns[1].ID
	st, err := db.GiveUpNotification(ctx, ids, "gave up")
	require.NoError(t, err)
	require.Equal(t, civicflow.NotificationFailed, st)
	n, err = db.RetryNotification(ctx, ids)
	require.NoError(t, err)
	require.Equal(t, civicflow.NotificationPending, n.State)
	require.Equal(t, 2, n.Generation)
}

func TestDispatchStartsEachNotificationOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)
	caseID, _ := notifyCase(t, db, "family@example.org")
	require.NoError(t, db.RecordTransition(ctx, submitted(caseID)))
	var started []int64
	runConcurrently(4, func(int) {
		_, err := db.DispatchNotifications(ctx, 10, func(id int64, gen int) error {
			require.Equal(t, 1, gen)
			started = append(started, id) // serialised: rows are locked by one dispatcher
			return nil
		})
		require.NoError(t, err)
	})
	require.Len(t, started, 2)
	require.NotEqual(t, started[0], started[1])
	n, err := db.DispatchNotifications(ctx, 10, func(int64, int) error { t.Fatal("dispatched twice"); return nil })
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestEscalationSeamNotifiesSupervisors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)
	caseID, _ := notifyCase(t, db, "")
	ids := map[string]int64{}
	for _, u := range []struct{ name, jur string }{{"sv.d", "610113"}, {"sv.c", civicflow.CityCode}, {"sv.o", "610102"}} {
		id, err := db.EnsureUser(ctx, postgres.NewUser{Username: fmt.Sprintf("%s%d", u.name, caseID), DisplayName: "督查",
			Password: "pw-123456789", Role: civicflow.RoleSupervisor, Jurisdiction: u.jur})
		require.NoError(t, err)
		require.NoError(t, db.SetUserEmail(ctx, id, fmt.Sprintf("%s%d@example.gov.cn", u.name, caseID), ""))
		ids[u.name] = id
	}
	e := postgres.EscalationNotice{CaseID: caseID, Key: "escalation-1", Reasons: "审核超期", At: time.Now()}
	require.NoError(t, db.EnqueueEscalation(ctx, e))
	require.NoError(t, db.EnqueueEscalation(ctx, e))
	ns, err := db.Notifications(ctx, postgres.NotificationFilter{CaseID: caseID})
	require.NoError(t, err)
	var got []int64
	for _, n := range ns {
		require.Equal(t, civicflow.TemplateEscalated, n.Template)
		require.Equal(t, civicflow.RecipientSupervisor, n.Recipient)
		got = append(got, n.UserID)
	}
	require.ElementsMatch(t, []int64{ids["sv.d"], ids["sv.c"]}, got, "the district's and the city's, not another district's")
}
