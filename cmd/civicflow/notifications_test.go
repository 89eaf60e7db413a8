package main

// Notifications end to end: the real mail sink runs as a child process
// (`civicflow mailsink`, demanding AUTH after STARTTLS), a notifier worker
// and dispatcher send the outbox through it, and cases are driven over
// HTTP. The tests run one after the other: each has its own task queue,
// sink and dispatcher.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/mail"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"civicflow"
	"civicflow/demo"
	"civicflow/devenv"
	"civicflow/notify"
	"civicflow/postgres"
	"civicflow/worker"
	"civicflow/workflows"
)

const (
	sinkUser     = "mailer"
	sinkPassword = "sink-pass-1"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// testSink is a `civicflow mailsink` child process.
type testSink struct {
	p              *devenv.Process
	smtp, httpAddr string
	dir            string
}

// startTestSink runs the sink on smtpAddr, keeping mail in dir.
func startTestSink(t *testing.T, smtpAddr, dir string) *testSink {
	t.Helper()
	s := &testSink{smtp: smtpAddr, httpAddr: freeAddr(t), dir: dir}
	p, err := startProc("mailsink", "mailsink", []string{"CIVICFLOW_DATA_DIR=" + dir,
		"CIVICFLOW_MAILSINK_SMTP_ADDR=" + smtpAddr, "CIVICFLOW_MAILSINK_HTTP_ADDR=" + s.httpAddr,
		"CIVICFLOW_MAILSINK_USERNAME=" + sinkUser, "CIVICFLOW_MAILSINK_PASSWORD=" + sinkPassword, "CIVICFLOW_LOG_LEVEL=warn"})
	require.NoError(t, err)
	s.p = p
	t.Cleanup(p.Kill)
	require.NoError(t, p.WaitHTTP(context.Background(), "http://"+s.httpAddr+"/mail", 30*time.Second))
	return s
}

func (s *testSink) certFile() string { return filepath.Join(s.dir, "mailsink", "cert.pem") }

// received is a message in the sink with its civicflow headers.
type received struct {
	notify.SinkMail
	Template, Case, Notification string
	Text                         string
}

func (s *testSink) received(t *testing.T) []received {
	t.Helper()
	resp, err := http.Get("http://" + s.httpAddr + "/mail")
	require.NoError(t, err)
	defer resp.Body.Close()
	var list struct {
		Mail []notify.SinkMail `json:"mail"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&list))
	out := make([]received, 0, len(list.Mail))
	for _, m := range list.Mail {
		r, err := http.Get(fmt.Sprintf("http://%s/mail/%d/raw", s.httpAddr, m.ID))
		require.NoError(t, err)
		raw, err := io.ReadAll(r.Body)
		r.Body.Close()
		require.NoError(t, err)
		msg, err := mail.ReadMessage(strings.NewReader(string(raw)))
		require.NoError(t, err)
		text, _, err := notify.Parts(raw)
		require.NoError(t, err)
		out = append(out, received{SinkMail: m, Template: msg.Header.Get("X-Civicflow-Template"),
			Case: msg.Header.Get("X-Civicflow-Case"), Notification: msg.Header.Get("X-Civicflow-Notification"), Text: text})
	}
	return out
}

func (s *testSink) forCase(t *testing.T, ref string) []received {
	var out []received
	for _, m := range s.received(t) {
		if m.Case == ref {
			out = append(out, m)
		}
	}
	return out
}

// notifierConfig points a copy of the e2e config at the sink, on its own
// task queue.
func (e *e2eSystem) notifierConfig(t *testing.T, s *testSink) config {
	cfg := e.cfg
	cfg.TaskQueue = "civicflow-notify-" + strings.ToLower(t.Name())
	host, port, err := net.SplitHostPort(s.smtp)
	require.NoError(t, err)
	cfg.SMTPHost, cfg.SMTPTLS, cfg.SMTPCAFile = host, notify.TLSStartTLS, s.certFile()
	fmt.Sscan(port, &cfg.SMTPPort) //nolint:errcheck
	cfg.SMTPUsername, cfg.SMTPPassword = sinkUser, sinkPassword
	cfg.SMTPFrom = "西安市民政局 <noreply@mz.xa.example>"
	cfg.NotifyLease = 3 * time.Second
	return cfg
}

// startNotifier runs a worker and a dispatcher sending through cfg's SMTP
// server until the test ends.
func (e *e2eSystem) startNotifier(t *testing.T, cfg config) (stop func()) {
	t.Helper()
	w := newWorker(cfg, e.tc, e.db, e.verifierURL)
	require.NoError(t, w.Start())
	retry := cfg.notifyRetry()
	retry.InitialInterval, retry.MaximumInterval, retry.GiveUpAfter = 200*time.Millisecond, time.Second, time.Minute
	d := &worker.Dispatcher{Store: e.db, Client: e.tc, TaskQueue: cfg.TaskQueue, Interval: 100 * time.Millisecond, Retry: retry}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done; w.Stop() }) }
	t.Cleanup(stop)
	return stop
}

func (e *e2eSystem) notifications(t *testing.T, caseID int64) []*civicflow.Notification {
	t.Helper()
	ns, err := e.db.Notifications(context.Background(), postgres.NotificationFilter{CaseID: caseID})
	require.NoError(t, err)
	return ns
}

func applicationWithEmail(t *testing.T, email string) map[string]any {
	app := application(newIDNumber(t), "610113001", "dependent")
	app["applicant"].(map[string]any)["email"] = email
	return app
}

// TestNotificationsFollowACase drives a case from application to admission
// and checks that applicant and officials got exactly the mail the steps
// call for, each once, through an SMTP server that demands AUTH.
func TestNotificationsFollowACase(t *testing.T) {
	e := setup(t)
	s := startTestSink(t, freeAddr(t), t.TempDir())
	e.startNotifier(t, e.notifierConfig(t, s))
	ts, dr := e.login(t, "ts.xiaozhai"), e.login(t, "dr.yanta")
	// Earlier tests may have taken the demo beds: a bed of our own, with
	// its own staff, in the case's district.
	ctx := context.Background()
	instID, err := e.db.EnsureInstitution(ctx, postgres.NewInstitution{Name: "雁塔区通知测试福利院", DistrictCode: "610113",
		Beds: map[civicflow.CareLevel]int{civicflow.CareSelf: 1}})
	require.NoError(t, err)
	staffID, err := e.db.EnsureUser(ctx, postgres.NewUser{Username: "st.notify", DisplayName: "钱多", Password: testPassword,
		Role: civicflow.RoleInstitutionStaff, Jurisdiction: "610113", InstitutionID: instID})
	require.NoError(t, err)
	require.NoError(t, e.db.SetUserEmail(ctx, staffID, demo.Email("st.notify"), "zh"))
	staffOf := map[int64]string{instID: "st.notify"}
	is, err := e.db.Institutions(ctx, "")
	require.NoError(t, err)
	for _, in := range is {
		switch in.Name {
		case "雁塔区社会福利院":
			staffOf[in.ID] = "st.yanta"
		case "新城区特困人员供养服务中心":
			staffOf[in.ID] = "st.xincheng"
		}
	}

	app := applicationWithEmail(t, "family@example.org")
	app["person"].(map[string]any)["self_care"] = "self_care"
	idNumber := app["person"].(map[string]any)["id_number"].(string)
	c := e.submit(t, app, "")
	e.mustAct(t, ts, c.Ref, "request_supplements", map[string]any{"items": []string{"户口簿复印件", "收入证明"}}, "awaiting_supplements")
	// The applicant hands the papers in. (Straight to the workflow, as the
	// applicant: the API's access-code throttle is shared with the tests
	// that try wrong codes from the same address.)
	h, err := e.tc.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: civicflow.CaseWorkflowID(c.ID),
		UpdateName: string(civicflow.ActionProvideSupplements), WaitForStage: client.WorkflowUpdateStageCompleted,
		Args: []any{workflows.ActionRequest{Actor: civicflow.Actor{Role: civicflow.RoleApplicant, CaseID: c.ID}, Note: "已补交"}}})
	require.NoError(t, err)
	require.NoError(t, h.Get(ctx, nil))
	e.mustAct(t, ts, c.Ref, "accept", map[string]any{}, "investigation")
	visit := visitBody("eligible")
	visit["home_visit"].(map[string]any)["care_level"] = "self_care"
	e.visited(t, ts, c.Ref, visit)
	e.waitStage(t, c.ID, civicflow.StageDistrictReview, 30*time.Second)
	e.mustAct(t, dr, c.Ref, "approve", map[string]any{}, "placement", "awaiting_admission")
	cs := e.waitStage(t, c.ID, civicflow.StageAwaitingAdmission, 30*time.Second)
	staff, ok := staffOf[cs.InstitutionID]
	require.True(t, ok, "placed in institution %d, which has no staff to confirm", cs.InstitutionID)
	e.mustAct(t, e.login(t, staff), c.Ref, "confirm_admission", map[string]any{}, "completed")

	want := []string{
		"family@example.org application_received", "family@example.org supplements_requested",
		"family@example.org decision_approved", "family@example.org placement", "family@example.org admission_confirmed",
		demo.Email("ts.xiaozhai") + " case_waiting", demo.Email("ts.xiaozhai") + " case_waiting",
		demo.Email("dr.yanta") + " case_waiting", demo.Email(staff) + " case_waiting",
	}
	sort.Strings(want)
	var got []string
	require.Eventually(t, func() bool {
		got = got[:0]
		for _, m := range s.forCase(t, c.Ref) {
			got = append(got, strings.Join(m.To, ",")+" "+m.Template)
		}
		sort.Strings(got)
		return len(got) >= len(want)
	}, 60*time.Second, 200*time.Millisecond, "mail so far: %v", got)
	require.Equal(t, want, got)

	// Every outbox row of the case was sent once, under its own Message-ID,
	// which is the one the sink received.
	mails := s.forCase(t, c.Ref)
	byID := map[string]received{}
	for _, m := range mails {
		byID[m.MessageID] = m
	}
	ns := e.notifications(t, c.ID)
	require.Len(t, ns, len(want))
	for _, n := range ns {
		require.Equal(t, civicflow.NotificationSent, n.State, "%+v", n)
		require.Equal(t, 1, n.Attempts)
		require.Equal(t, fmt.Sprintf("<civicflow-notification-%d@mz.xa.example>", n.ID), n.MessageID)
		m, ok := byID[n.MessageID]
		require.True(t, ok, "notification %d reached the sink", n.ID)
		require.Equal(t, string(n.Template), m.Template)
		require.Equal(t, sinkUser, m.AuthUser)
	}
	saveHistory(t, e, workflows.NotificationWorkflowID(ns[0].ID, ns[0].Generation), "notify_sent")
	for _, m := range mails {
		require.NotContains(t, m.Text, idNumber, "no ID number in any mail")
		require.NotContains(t, m.Text, idNumber[len(idNumber)-4:], "not even its last digits")
		require.Contains(t, m.Text, "买**", "the person is named masked")
		if m.Template == string(civicflow.TemplateSupplementsRequested) {
			require.Contains(t, m.Text, "1. 户口簿复印件")
			require.Contains(t, m.Text, "2. 收入证明")
		}
	}
}

// TestNotificationApplicantWithoutEmail: the outbox records that there was
// no channel, the case's timeline says so, and the officials still get mail.
func TestNotificationApplicantWithoutEmail(t *testing.T) {
	e := setup(t)
	s := startTestSink(t, freeAddr(t), t.TempDir())
	e.startNotifier(t, e.notifierConfig(t, s))
	ts := e.login(t, "ts.xiaozhai")
	c := e.submit(t, application(newIDNumber(t), "610113001", "dependent"), "")
	e.mustAct(t, ts, c.Ref, "reject", map[string]any{"reasons": "户籍不在本街道"}, "rejected")

	require.Eventually(t, func() bool { return len(s.forCase(t, c.Ref)) == 1 }, 30*time.Second, 200*time.Millisecond)
	require.Equal(t, "case_waiting", s.forCase(t, c.Ref)[0].Template, "only the township official had an address")

	var noChannel []civicflow.Template
	for _, n := range e.notifications(t, c.ID) {
		if n.Recipient == civicflow.RecipientApplicant {
			require.Equal(t, civicflow.ChannelNone, n.Channel)
			require.Equal(t, civicflow.NotificationNoChannel, n.State)
			require.Zero(t, n.Attempts)
			noChannel = append(noChannel, n.Template)
		}
	}
	require.ElementsMatch(t, []civicflow.Template{civicflow.TemplateApplicationReceived, civicflow.TemplateDecisionRejected}, noChannel)

	detail := e.do(t, http.MethodGet, "/api/v1/cases/"+c.Ref, ts, nil)
	require.Equal(t, http.StatusOK, detail.Status)
	var notes []string
	for _, ev := range detail.Body["timeline"].([]any) {
		ev := ev.(map[string]any)
		if ev["action"] == string(civicflow.StepNoticeNotSent) {
			notes = append(notes, ev["details"].(map[string]any)["template"].(string))
			require.Contains(t, ev["details"].(map[string]any)["reason"], "deliver this notice on paper")
		}
	}
	require.Equal(t, []string{"application_received", "decision_rejected"}, notes)
}

// TestNotificationRetriedAfterServerDown: while the SMTP server is down the
// notification is retried with back-off; once it is back, it is sent once.
func TestNotificationRetriedAfterServerDown(t *testing.T) {
	e := setup(t)
	addr, dir := freeAddr(t), t.TempDir()
	s := startTestSink(t, addr, dir) // creates the certificate the notifier trusts
	cfg := e.notifierConfig(t, s)
	s.p.Kill()
	e.startNotifier(t, cfg)

	c := e.submit(t, applicationWithEmail(t, "down@example.org"), "")
	var n *civicflow.Notification
	require.Eventually(t, func() bool {
		for _, x := range e.notifications(t, c.ID) {
			if x.Recipient == civicflow.RecipientApplicant {
				n = x
			}
		}
		return n != nil && n.Attempts >= 3
	}, 60*time.Second, 100*time.Millisecond)
	require.Contains(t, []civicflow.NotificationState{civicflow.NotificationPending, civicflow.NotificationSending}, n.State)
	require.Contains(t, n.LastError, "connect")

	s = startTestSink(t, addr, dir)
	require.Eventually(t, func() bool {
		got, err := e.db.Notification(context.Background(), n.ID)
		require.NoError(t, err)
		n = got
		return n.State == civicflow.NotificationSent
	}, 60*time.Second, 100*time.Millisecond)
	require.GreaterOrEqual(t, n.Attempts, 4)
	var copies int
	for _, m := range s.forCase(t, c.Ref) {
		if m.MessageID == n.MessageID {
			copies++
		}
	}
	require.Equal(t, 1, copies)
}

// TestNotificationNotResentAfterWorkerKilled: a worker process is killed
// after the SMTP server accepted the message and before the outbox row was
// marked sent. The retry on another worker does not send it again: the row
// becomes unconfirmed, which supervisors see, and the sink holds one copy.
// A supervisor may then send it again; it keeps its Message-ID.
func TestNotificationNotResentAfterWorkerKilled(t *testing.T) {
	e := setup(t)
	s := startTestSink(t, freeAddr(t), t.TempDir())
	cfg := e.notifierConfig(t, s)
	ctx := context.Background()

	c := e.submit(t, applicationWithEmail(t, "killed@example.org"), "")
	var id int64
	for _, n := range e.notifications(t, c.ID) {
		if n.Recipient == civicflow.RecipientApplicant {
			id = n.ID
		}
	}
	require.NotZero(t, id)
	// Hold the worker between the server's acceptance and the 'sent' update:
	// the update of this row waits in the database until the worker dies.
	fn := fmt.Sprintf("civicflow_test_hold_%d", id)
	_, err := e.db.Pool().Exec(ctx, fmt.Sprintf(`CREATE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF NEW.id = %d AND NEW.state = 'sent' THEN PERFORM pg_sleep(600); END IF; RETURN NEW; END $$;
		CREATE TRIGGER %s BEFORE UPDATE ON notifications FOR EACH ROW EXECUTE FUNCTION %s();`, fn, id, fn, fn))
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = e.db.Pool().Exec(ctx, fmt.Sprintf(`DROP TRIGGER IF EXISTS %s ON notifications; DROP FUNCTION IF EXISTS %s();`, fn, fn))
	})

	// The worker is a real child process: `civicflow worker`.
	env := []string{"CIVICFLOW_DATABASE_URL=" + cfg.DatabaseURL, "CIVICFLOW_TEMPORAL_ADDRESS=" + cfg.TemporalAddress,
		"CIVICFLOW_TASK_QUEUE=" + cfg.TaskQueue, "CIVICFLOW_VERIFICATION_URL=" + e.verifierURL,
		"CIVICFLOW_WORKER_METRICS_ADDR=" + freeAddr(t), "CIVICFLOW_SMTP_HOST=127.0.0.1",
		"CIVICFLOW_SMTP_PORT=" + strings.Split(s.smtp, ":")[1], "CIVICFLOW_SMTP_CA_FILE=" + s.certFile(),
		"CIVICFLOW_SMTP_USERNAME=" + sinkUser, "CIVICFLOW_SMTP_PASSWORD=" + sinkPassword,
		"CIVICFLOW_SMTP_FROM=" + cfg.SMTPFrom, "CIVICFLOW_NOTIFY_LEASE=3s", "CIVICFLOW_NOTIFY_POLL_INTERVAL=100ms",
		"CIVICFLOW_LOG_LEVEL=warn"}
	env = append(env, keyEnv(cfg)...)
	w, err := startProc("worker", "worker", env)
	require.NoError(t, err)
	t.Cleanup(w.Kill)
	require.Eventually(t, func() bool {
		for _, m := range s.forCase(t, c.Ref) {
			if m.Notification == fmt.Sprint(id) {
				return true
			}
		}
		return false
	}, 60*time.Second, 50*time.Millisecond, "the worker hands the message over\n%s", w.Tail(2000))
	time.Sleep(200 * time.Millisecond) // the worker is now waiting on its 'sent' update
	w.Kill()
	// The server notices a dead client only when it next talks to it; end
	// the held statement as that would, releasing the row.
	_, err = e.db.Pool().Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event = 'PgSleep'`)
	require.NoError(t, err)
	_, err = e.db.Pool().Exec(ctx, fmt.Sprintf(`DROP TRIGGER %s ON notifications; DROP FUNCTION %s();`, fn, fn))
	require.NoError(t, err)

	n, err := e.db.Notification(ctx, id)
	require.NoError(t, err)
	require.Equal(t, civicflow.NotificationSending, n.State, "killed before the row was marked sent")

	// Another worker takes over the Notify workflow's retry.
	e.startNotifier(t, cfg)
	require.Eventually(t, func() bool {
		n, err = e.db.Notification(ctx, id)
		require.NoError(t, err)
		return n.State == civicflow.NotificationUnconfirmed
	}, 90*time.Second, 100*time.Millisecond)
	require.Contains(t, n.LastError, "may have been delivered")
	var res civicflow.NotificationState
	require.NoError(t, e.tc.GetWorkflow(ctx, workflows.NotificationWorkflowID(id, 1), "").Get(ctx, &res))
	require.Equal(t, civicflow.NotificationUnconfirmed, res)
	copies := func() int {
		k := 0
		for _, m := range s.forCase(t, c.Ref) {
			if m.MessageID == n.MessageID {
				k++
			}
		}
		return k
	}
	time.Sleep(time.Second)
	require.Equal(t, 1, copies(), "not sent a second time")

	// Supervisors see it; a district supervisor of another district does not.
	sv := e.login(t, "sv.yanta")
	list := e.do(t, http.MethodGet, "/api/v1/notifications?state=unconfirmed&case="+c.Ref, sv, nil)
	require.Equal(t, http.StatusOK, list.Status, string(list.Raw))
	items := list.Body["notifications"].([]any)
	require.Len(t, items, 1)
	require.Equal(t, float64(id), items[0].(map[string]any)["id"])
	require.Equal(t, http.StatusForbidden, e.do(t, http.MethodGet, "/api/v1/notifications", e.login(t, "ts.xiaozhai"), nil).Status)

	// A supervisor decides to send it again: same Message-ID, second copy.
	r := e.postJSON(t, fmt.Sprintf("/api/v1/notifications/%d/retry", id), sv, map[string]any{})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, "pending", r.str("state"))
	require.Eventually(t, func() bool {
		n, err = e.db.Notification(ctx, id)
		require.NoError(t, err)
		return n.State == civicflow.NotificationSent
	}, 30*time.Second, 100*time.Millisecond)
	require.Equal(t, 2, copies())
	require.Equal(t, 2, n.Generation)
	require.Equal(t, http.StatusConflict, e.postJSON(t, fmt.Sprintf("/api/v1/notifications/%d/retry", id), sv, map[string]any{}).Status)
}

// TestNotificationPermanentFailuresReachSupervisors: a wrong password and a
// rejected recipient are not retried; the notifications are failed with
// the server's answer, and supervisors of the district find them.
func TestNotificationPermanentFailuresReachSupervisors(t *testing.T) {
	e := setup(t)
	s := startTestSink(t, freeAddr(t), t.TempDir())
	cfg := e.notifierConfig(t, s)
	cfg.SMTPPassword = "wrong-password"
	stopWrong := e.startNotifier(t, cfg)

	c := e.submit(t, applicationWithEmail(t, "someone@example.org"), "")
	rejected := e.submit(t, applicationWithEmail(t, "nobody@rejected.invalid"), "")
	waitFailed := func(caseID int64) *civicflow.Notification {
		var n *civicflow.Notification
		require.Eventually(t, func() bool {
			for _, x := range e.notifications(t, caseID) {
				if x.Recipient == civicflow.RecipientApplicant {
					n = x
				}
			}
			return n != nil && n.State == civicflow.NotificationFailed
		}, 60*time.Second, 100*time.Millisecond)
		return n
	}
	bad := waitFailed(c.ID)
	require.Contains(t, bad.LastError, "535")
	require.Equal(t, 1, bad.Attempts, "a permanent failure is not retried")

	first := waitFailed(rejected.ID)
	require.Contains(t, first.LastError, "535")

	// With the password fixed, a supervisor retries: the rejected recipient
	// still fails, now with 550.
	stopWrong()
	good := e.notifierConfig(t, s)
	good.TaskQueue += "-fixed"
	e.startNotifier(t, good)
	sv := e.login(t, "sv.yanta")
	r := e.postJSON(t, fmt.Sprintf("/api/v1/notifications/%d/retry", first.ID), sv, map[string]any{})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	var rej *civicflow.Notification
	require.Eventually(t, func() bool {
		n, err := e.db.Notification(context.Background(), first.ID)
		require.NoError(t, err)
		rej = n
		return n.State == civicflow.NotificationFailed && n.Generation == 2
	}, 60*time.Second, 100*time.Millisecond)
	require.Contains(t, rej.LastError, "550")

	for _, who := range []string{"sv.yanta", "sv.city"} {
		list := e.do(t, http.MethodGet, "/api/v1/notifications?state=failed", e.login(t, who), nil)
		require.Equal(t, http.StatusOK, list.Status, string(list.Raw))
		seen := map[float64]string{}
		for _, it := range list.Body["notifications"].([]any) {
			m := it.(map[string]any)
			seen[m["id"].(float64)] = m["last_error"].(string)
		}
		require.Contains(t, seen[float64(bad.ID)], "535", who)
		require.Contains(t, seen[float64(rej.ID)], "550", who)
	}
	require.Equal(t, http.StatusUnprocessableEntity,
		e.do(t, http.MethodGet, "/api/v1/notifications?state=lost", e.login(t, "sv.city"), nil).Status)
}

// keyEnv passes the data-at-rest keys (issue 3) to a child process.
func keyEnv(c config) []string {
	if c.DataKeys == "" {
		return nil
	}
	return []string{"CIVICFLOW_DATA_KEYS=" + c.DataKeys, "CIVICFLOW_DATA_KEY_ID=" + c.DataKeyID, "CIVICFLOW_LOOKUP_KEY=" + c.LookupKey}
}
