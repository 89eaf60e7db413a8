package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/mail"
	"path/filepath"
	"time"

	"go.temporal.io/sdk/client"
	"golang.org/x/sync/errgroup"

	"civicflow"
	"civicflow/activities"
	"civicflow/notify"
	"civicflow/postgres"
	"civicflow/worker"
	"civicflow/workflows"
)

// The mail sink's password when none is configured; like the demo
// officials' password it is printed by dev.
const defaultMailSinkPassword = "civicflow-mail"

// validateSMTP checks the notification settings (the SMTP block of config).
func (c config) validateSMTP() []error {
	var errs []error
	if c.SMTPHost != "" {
		if _, err := mail.ParseAddress(c.SMTPFrom); err != nil {
			errs = append(errs, fmt.Errorf("CIVICFLOW_SMTP_FROM=%q: want an address such as \"西安市民政局 <noreply@example.gov.cn>\"", c.SMTPFrom))
		}
		if c.SMTPTLS == notify.TLSNone && !isLoopbackHost(c.SMTPHost) {
			errs = append(errs, fmt.Errorf("CIVICFLOW_SMTP_TLS=none: only allowed for a server on loopback, not %q (credentials would cross the network in clear)", c.SMTPHost))
		}
		if c.NotifyLease > 0 && c.NotifyLease < 3*time.Second {
			errs = append(errs, fmt.Errorf("CIVICFLOW_NOTIFY_LEASE=%s: want at least 3s (one attempt may take two thirds of it)", c.NotifyLease))
		}
		if (c.SMTPUsername == "") != (c.SMTPPassword == "") {
			errs = append(errs, errors.New("CIVICFLOW_SMTP_USERNAME and CIVICFLOW_SMTP_PASSWORD: set both, or neither for a server without AUTH"))
		}
	}
	return errs
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// smtpConfig is the sender's configuration.
func (c config) smtpConfig() notify.SMTPConfig {
	auth := c.SMTPAuth
	if auth == "auto" {
		auth = ""
	}
	return notify.SMTPConfig{Host: c.SMTPHost, Port: c.SMTPPort, Username: c.SMTPUsername, Password: c.SMTPPassword,
		From: c.SMTPFrom, TLS: c.SMTPTLS, Auth: auth, CAFile: c.SMTPCAFile, InsecureSkipVerify: c.SMTPInsecureSkipVerify}
}

// newNotifier builds the sending side of notifications, or nil when no
// SMTP server is configured (notifications then wait in the outbox).
func newNotifier(c config) (*activities.Notifier, error) {
	if c.SMTPHost == "" {
		return nil, nil
	}
	sender, err := notify.NewSMTPSender(c.smtpConfig())
	if err != nil {
		return nil, err
	}
	tmpl, err := notify.LoadTemplates()
	if err != nil {
		return nil, err
	}
	// CIVICFLOW_SMS_PROVIDER accepts only "none" until a provider exists;
	// an SMS sender would be added here under civicflow.ChannelSMS.
	return &activities.Notifier{Senders: map[civicflow.Channel]notify.Sender{civicflow.ChannelEmail: sender},
		Templates: tmpl, From: c.SMTPFrom, Lease: c.notifyLease()}, nil
}

// mailSink is a running sink with its addresses.
type mailSink struct {
	sink     *notify.Sink
	smtpAddr string
	httpURL  string
}

// startMailSink listens on the sink's addresses and serves it in g.
func startMailSink(ctx context.Context, g *errgroup.Group, c config, dir string) (*mailSink, error) {
	password := c.MailSinkPassword
	if password == "" {
		password = defaultMailSinkPassword
	}
	sink, err := notify.NewSink(notify.SinkConfig{Username: c.MailSinkUsername, Password: password, Dir: dir,
		RejectDomains: []string{"rejected.invalid"}})
	if err != nil {
		return nil, err
	}
	smtpLn, err := net.Listen("tcp", c.MailSinkSMTPAddr)
	if err != nil {
		return nil, fmt.Errorf("listen for the mail sink on %s (CIVICFLOW_MAILSINK_SMTP_ADDR): %w", c.MailSinkSMTPAddr, err)
	}
	httpLn, err := net.Listen("tcp", c.MailSinkHTTPAddr)
	if err != nil {
		smtpLn.Close()
		return nil, fmt.Errorf("listen for the mail sink page on %s (CIVICFLOW_MAILSINK_HTTP_ADDR): %w", c.MailSinkHTTPAddr, err)
	}
	var smtpsLn net.Listener
	if c.MailSinkSMTPSAddr != "" {
		if smtpsLn, err = net.Listen("tcp", c.MailSinkSMTPSAddr); err != nil {
			smtpLn.Close()
			httpLn.Close()
			return nil, fmt.Errorf("listen for the mail sink on %s (CIVICFLOW_MAILSINK_SMTPS_ADDR): %w", c.MailSinkSMTPSAddr, err)
		}
	}
	g.Go(func() error { return sink.ServeSMTP(smtpLn) })
	if smtpsLn != nil {
		g.Go(func() error { return sink.ServeSMTPS(smtpsLn) })
	}
	g.Go(func() error { return serveHTTP(ctx, httpLn, sink.Handler()) })
	g.Go(func() error {
		<-ctx.Done()
		return sink.Close()
	})
	return &mailSink{sink: sink, smtpAddr: smtpLn.Addr().String(), httpURL: "http://" + httpLn.Addr().String()}, nil
}

// useSink points the notifier settings at a local sink (dev).
func (c config) useSink(s *mailSink) config {
	host, port, _ := net.SplitHostPort(s.smtpAddr)
	c.SMTPHost, c.SMTPTLS, c.SMTPCAFile = host, notify.TLSStartTLS, s.sink.CertFile()
	fmt.Sscan(port, &c.SMTPPort) //nolint:errcheck // the listener's own port
	c.SMTPUsername, c.SMTPPassword = c.MailSinkUsername, c.MailSinkPassword
	if c.SMTPPassword == "" {
		c.SMTPPassword = defaultMailSinkPassword
	}
	return c
}

// runMailSink serves the sink by itself: `civicflow mailsink`.
func runMailSink(ctx context.Context, cfg config, log *slog.Logger, out io.Writer) error {
	g, gctx := errgroup.WithContext(ctx)
	s, err := startMailSink(gctx, g, cfg, filepath.Join(cfg.DataDir, "mailsink"))
	if err != nil {
		return err
	}
	password := cfg.MailSinkPassword
	if password == "" {
		password = defaultMailSinkPassword
	}
	fmt.Fprintf(out, "mail sink: smtp=%s http=%s user=%s password=%s cert=%s\n",
		s.smtpAddr, s.httpURL, cfg.MailSinkUsername, password, s.sink.CertFile())
	log.Info("mail sink listening", "smtp", s.smtpAddr, "http", s.httpURL)
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// startDispatcher runs the outbox dispatcher next to a worker until ctx
// ends. Without an SMTP server it only says that notifications wait.
func startDispatcher(ctx context.Context, cfg config, tc client.Client, db *postgres.DB, log *slog.Logger) (stop func(), err error) {
	if cfg.SMTPHost == "" {
		log.Warn("no SMTP server configured (CIVICFLOW_SMTP_HOST): notifications stay pending in the outbox")
		return func() {}, nil
	}
	if _, err := newNotifier(cfg); err != nil {
		return nil, fmt.Errorf("notifications: %w", err)
	}
	d := &worker.Dispatcher{Store: db, Client: tc, TaskQueue: cfg.TaskQueue, Interval: cfg.NotifyPollInterval,
		Retry: cfg.notifyRetry(), Log: log.With("component", "notifications")}
	dctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = d.Run(dctx)
	}()
	log.Info("notifications dispatching", "smtp", net.JoinHostPort(cfg.SMTPHost, fmt.Sprint(cfg.SMTPPort)), "tls", cfg.SMTPTLS)
	return func() { cancel(); <-done }, nil
}

// notifyLease is the lease of one sending attempt (default 3m).
func (c config) notifyLease() time.Duration {
	if c.NotifyLease <= 0 {
		return 3 * time.Minute
	}
	return c.NotifyLease
}

// notifyRetry tunes the Notify workflows: one attempt may last two thirds
// of the lease, so the lease outlives every attempt Temporal still waits for.
func (c config) notifyRetry() workflows.NotifyInput {
	return workflows.NotifyInput{AttemptTimeout: c.notifyLease() * 2 / 3}
}
