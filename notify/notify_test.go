package notify_test

// These tests talk SMTP to a real server process: the mail sink, run by
// re-executing this test binary (TestMain), listening on loopback and
// demanding AUTH after STARTTLS.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/mail"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"civicflow"
	"civicflow/notify"
)

const (
	sinkUser     = "mailer"
	sinkPassword = "s3cret-sink"
)

func TestMain(m *testing.M) {
	if os.Getenv("CIVICFLOW_TEST_MAILSINK") == "1" {
		os.Exit(runSinkProcess())
	}
	os.Exit(m.Run())
}

// runSinkProcess is the sink process: it prints its addresses and serves
// until killed.
func runSinkProcess() int {
	s, err := notify.NewSink(notify.SinkConfig{Username: sinkUser, Password: sinkPassword,
		Dir: os.Getenv("CIVICFLOW_TEST_MAILSINK_DIR"), RejectDomains: []string{"rejected.invalid"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	addr := os.Getenv("CIVICFLOW_TEST_MAILSINK_ADDR")
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	smtpLn, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	smtpsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go func() { _ = s.ServeSMTPS(smtpsLn) }()
	go func() { _ = http.Serve(httpLn, s.Handler()) }()
	fmt.Printf("READY %s %s %s %s\n", smtpLn.Addr(), smtpsLn.Addr(), httpLn.Addr(), s.CertFile())
	if err := s.ServeSMTP(smtpLn); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// sink is a running sink process.
type sink struct {
	cmd                   *exec.Cmd
	smtp, smtps, httpAddr string
	cert                  string
}

func startSink(t *testing.T, addr, dir string) *sink {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CIVICFLOW_TEST_MAILSINK=1", "CIVICFLOW_TEST_MAILSINK_ADDR="+addr,
		"CIVICFLOW_TEST_MAILSINK_DIR="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	s := &sink{cmd: cmd}
	t.Cleanup(s.kill)
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err, "the sink process did not start")
	f := strings.Fields(line)
	require.Len(t, f, 5, line)
	s.smtp, s.smtps, s.httpAddr, s.cert = f[1], f[2], f[3], f[4]
	return s
}

func (s *sink) kill() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_, _ = s.cmd.Process.Wait()
	}
}

func (s *sink) mails(t *testing.T) []notify.SinkMail {
	t.Helper()
	resp, err := http.Get("http://" + s.httpAddr + "/mail")
	require.NoError(t, err)
	defer resp.Body.Close()
	var body struct {
		Mail []notify.SinkMail `json:"mail"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return body.Mail
}

func (s *sink) raw(t *testing.T, id int) []byte {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://%s/mail/%d/raw", s.httpAddr, id))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return b
}

func sender(t *testing.T, s *sink, mutate func(*notify.SMTPConfig)) *notify.SMTPSender {
	t.Helper()
	host, port, err := net.SplitHostPort(s.smtp)
	require.NoError(t, err)
	cfg := notify.SMTPConfig{Host: host, Username: sinkUser, Password: sinkPassword,
		From: "西安市民政局 <noreply@mz.xa.example>", TLS: notify.TLSStartTLS, CAFile: s.cert, Timeout: 5 * time.Second}
	fmt.Sscan(port, &cfg.Port)
	if mutate != nil {
		mutate(&cfg)
	}
	snd, err := notify.NewSMTPSender(cfg)
	require.NoError(t, err)
	return snd
}

func noCommit(context.Context) error { return nil }

func sampleData() civicflow.NoticeData {
	return civicflow.NoticeData{Reference: "TK-610113-000042", Stage: civicflow.StageAwaitingSupplements,
		Action: "request_supplements", PersonName: civicflow.MaskName("王秀英"), District: "雁塔区", Township: "小寨路街道",
		At: "2026-03-02", Due: "2026-03-16", Items: []string{"户口簿复印件", "残疾人证"}, Reasons: "家庭人均收入高于当地低保标准",
		CareLevel: string(civicflow.CareDependent), Institution: "雁塔区社会福利院", Bed: "A-101", SupportStart: "2026-04-01",
		Role: civicflow.RoleTownshipOfficial}
}

// TestTemplatesOverSMTP renders every template in both languages, sends it
// through the sink and checks what arrives: headers, both parts, the case
// reference, the stage, what is asked and by when, and no personal data.
func TestTemplatesOverSMTP(t *testing.T) {
	s := startSink(t, "127.0.0.1:0", t.TempDir())
	snd := sender(t, s, nil)
	tmpl, err := notify.LoadTemplates()
	require.NoError(t, err)
	stageWords := map[string]map[civicflow.Stage]string{
		"zh": {civicflow.StageAwaitingSupplements: "待补正材料", civicflow.StageRejected: "不予批准"},
		"en": {civicflow.StageAwaitingSupplements: "Waiting for missing papers", civicflow.StageRejected: "Not approved"},
	}
	// What each template must say beyond the reference, per language.
	must := map[civicflow.Template]map[string][]string{
		civicflow.TemplateApplicationReceived:  {"zh": {"已收到", "查询码"}, "en": {"received", "access code"}},
		civicflow.TemplateSupplementsRequested: {"zh": {"1. 户口簿复印件", "2. 残疾人证", "2026-03-16 前"}, "en": {"1. 户口簿复印件", "2. 残疾人证", "by 2026-03-16"}},
		civicflow.TemplateDecisionApproved:     {"zh": {"符合", "全失能"}, "en": {"qualifies", "fully dependent"}},
		civicflow.TemplateDecisionRejected:     {"zh": {"不予批准", "家庭人均收入高于当地低保标准", "2026-03-16 前送达", "行政复议"}, "en": {"not approved", "家庭人均收入高于当地低保标准", "delivered by 2026-03-16", "reconsideration"}},
		civicflow.TemplatePlacement:            {"zh": {"雁塔区社会福利院", "A-101"}, "en": {"雁塔区社会福利院", "A-101"}},
		civicflow.TemplateAdmissionConfirmed:   {"zh": {"雁塔区社会福利院", "2026-04-01"}, "en": {"雁塔区社会福利院", "2026-04-01"}},
		civicflow.TemplateWithdrawalConfirmed:  {"zh": {"撤回"}, "en": {"withdrawn"}},
		civicflow.TemplateCaseWaiting:          {"zh": {"等待您办理", "2026-03-16 前"}, "en": {"waits for you", "Due by 2026-03-16"}},
		civicflow.TemplateReturnedToTownship:   {"zh": {"退回", "家庭人均收入高于当地低保标准", "2026-03-16 前"}, "en": {"returned", "家庭人均收入高于当地低保标准", "by 2026-03-16"}},
		civicflow.TemplateEscalated:            {"zh": {"升级", "家庭人均收入高于当地低保标准"}, "en": {"escalated", "家庭人均收入高于当地低保标准"}},
	}
	require.Len(t, must, len(civicflow.Templates), "every template is checked")
	n := 0
	for _, name := range civicflow.Templates {
		for _, loc := range notify.Locales {
			d := sampleData()
			if name == civicflow.TemplateDecisionRejected {
				d.Stage = civicflow.StageRejected
			}
			r, err := tmpl.Render(name, loc, d)
			require.NoError(t, err, "%s/%s", name, loc)
			n++
			msgID := fmt.Sprintf("<civicflow-notification-%d@mz.xa.example>", n)
			reply, err := snd.Send(context.Background(), notify.Message{From: "西安市民政局 <noreply@mz.xa.example>",
				To: "applicant@example.org", Subject: r.Subject, Text: r.Text, HTML: r.HTML, MessageID: msgID,
				Date:    time.Date(2026, 3, 2, 9, 0, 0, 0, civicflow.ChinaZone()),
				Headers: map[string]string{"X-Civicflow-Case": d.Reference, "X-Civicflow-Template": string(name)}}, noCommit)
			require.NoError(t, err, "%s/%s", name, loc)
			require.NotEmpty(t, reply)

			mails := s.mails(t)
			require.Len(t, mails, n)
			got := mails[n-1]
			require.Equal(t, []string{"applicant@example.org"}, got.To)
			require.Equal(t, "noreply@mz.xa.example", got.From)
			require.Equal(t, sinkUser, got.AuthUser)
			require.Equal(t, msgID, got.MessageID)
			require.Equal(t, r.Subject, got.Subject, "the subject survives RFC 2047 encoding")
			require.Contains(t, got.Subject, d.Reference)

			raw := s.raw(t, got.ID)
			msg, err := mail.ReadMessage(strings.NewReader(string(raw)))
			require.NoError(t, err)
			require.Equal(t, "1.0", msg.Header.Get("MIME-Version"))
			require.Equal(t, "auto-generated", msg.Header.Get("Auto-Submitted"))
			require.Equal(t, string(name), msg.Header.Get("X-Civicflow-Template"))
			require.Equal(t, d.Reference, msg.Header.Get("X-Civicflow-Case"))
			date, err := msg.Header.Date()
			require.NoError(t, err)
			require.True(t, date.Equal(time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)))
			from, err := msg.Header.AddressList("From")
			require.NoError(t, err)
			require.Equal(t, "西安市民政局", from[0].Name)
			require.True(t, strings.HasPrefix(msg.Header.Get("Content-Type"), "multipart/alternative;"))

			text, html, err := notify.Parts(raw)
			require.NoError(t, err)
			require.Equal(t, r.Text, text)
			require.Equal(t, r.HTML, html)
			for _, part := range []string{text, html} {
				require.Contains(t, part, d.Reference)
				require.Contains(t, part, "王**", "the person is named masked")
				require.NotContains(t, part, "王秀英")
				for _, w := range must[name][loc] {
					require.Contains(t, part, w, "%s/%s", name, loc)
				}
			}
			if w, ok := stageWords[loc][d.Stage]; ok && name != civicflow.TemplateCaseWaiting {
				require.Contains(t, text, w, "%s/%s names the stage", name, loc)
			}
			require.Contains(t, html, `<html lang="`)
			if loc == "zh" {
				require.Contains(t, html, `lang="zh-CN"`)
			}
		}
	}
}

// TestHTMLIsEscaped: reasons typed by an official cannot inject markup.
func TestHTMLIsEscaped(t *testing.T) {
	tmpl, err := notify.LoadTemplates()
	require.NoError(t, err)
	d := sampleData()
	d.Reasons = `<script>alert(1)</script> & "x"`
	r, err := tmpl.Render(civicflow.TemplateDecisionRejected, "zh", d)
	require.NoError(t, err)
	require.NotContains(t, r.HTML, "<script>")
	require.Contains(t, r.HTML, "&lt;script&gt;")
	require.Contains(t, r.Text, "<script>", "the plain text is not HTML-escaped")
}

func TestLoginMechanismAndImplicitTLS(t *testing.T) {
	s := startSink(t, "127.0.0.1:0", t.TempDir())
	for _, tc := range []struct {
		name string
		mut  func(*notify.SMTPConfig)
	}{
		{"starttls-login", func(c *notify.SMTPConfig) { c.Auth = "login" }},
		{"starttls-plain", func(c *notify.SMTPConfig) { c.Auth = "plain" }},
		{"implicit-auto", func(c *notify.SMTPConfig) {
			host, port, _ := net.SplitHostPort(s.smtps)
			c.Host, c.TLS = host, notify.TLSImplicit
			fmt.Sscan(port, &c.Port)
		}},
	} {
		_, err := sender(t, s, tc.mut).Send(context.Background(), notify.Message{From: "noreply@mz.xa.example",
			To: tc.name + "@example.org", Subject: tc.name, Text: "x", HTML: "<p>x</p>", MessageID: "<" + tc.name + "@x>",
			Date: time.Now()}, noCommit)
		require.NoError(t, err, tc.name)
	}
	mails := s.mails(t)
	require.Len(t, mails, 3)
	for i, name := range []string{"starttls-login", "starttls-plain", "implicit-auto"} {
		require.Equal(t, name, mails[i].Subject)
	}
}

func send(t *testing.T, snd *notify.SMTPSender, to string, commit func(context.Context) error) error {
	t.Helper()
	_, err := snd.Send(context.Background(), notify.Message{From: "noreply@mz.xa.example", To: to, Subject: "s",
		Text: "x", HTML: "<p>x</p>", MessageID: "<m@x>", Date: time.Now()}, commit)
	return err
}

func requireKind(t *testing.T, err error, permanent bool, contains string) {
	t.Helper()
	var se *notify.Error
	require.ErrorAs(t, err, &se)
	require.Equal(t, permanent, se.Permanent, "%v", err)
	require.False(t, se.InDoubt)
	require.Contains(t, err.Error(), contains)
}

// TestFailuresAreClassified: wrong password (535) and a rejected recipient
// (550) are permanent, a server that is down is temporary, an untrusted
// certificate is permanent, and a failed commit abandons the message.
func TestFailuresAreClassified(t *testing.T) {
	s := startSink(t, "127.0.0.1:0", t.TempDir())
	requireKind(t, send(t, sender(t, s, func(c *notify.SMTPConfig) { c.Password = "wrong" }), "a@example.org", noCommit), true, "535")
	requireKind(t, send(t, sender(t, s, func(c *notify.SMTPConfig) { c.Auth = "login"; c.Password = "wrong" }), "a@example.org", noCommit), true, "535")
	requireKind(t, send(t, sender(t, s, nil), "nobody@rejected.invalid", noCommit), true, "550")
	requireKind(t, send(t, sender(t, s, func(c *notify.SMTPConfig) { c.CAFile = "" }), "a@example.org", noCommit), true, "certificate")
	// AUTH before TLS is refused by the sink.
	requireKind(t, send(t, sender(t, s, func(c *notify.SMTPConfig) { c.TLS = notify.TLSNone }), "a@example.org", noCommit), true, "auth")

	commitErr := fmt.Errorf("claim lost")
	err := send(t, sender(t, s, nil), "abandoned@example.org", func(context.Context) error { return commitErr })
	requireKind(t, err, false, "claim lost")
	require.Empty(t, s.mails(t), "nothing was accepted")

	addr := s.smtp
	s.kill()
	requireKind(t, send(t, sender(t, &sink{smtp: addr, cert: s.cert}, nil), "a@example.org", noCommit), false, "connect")
}

// TestSinkKeepsMailAcrossRestarts: with a directory, the sink shows mail
// received before it was restarted.
func TestSinkKeepsMailAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	s := startSink(t, "127.0.0.1:0", dir)
	require.NoError(t, send(t, sender(t, s, nil), "kept@example.org", noCommit))
	s.kill()
	s2 := startSink(t, "127.0.0.1:0", dir)
	mails := s2.mails(t)
	require.Len(t, mails, 1)
	require.Equal(t, []string{"kept@example.org"}, mails[0].To)
}
