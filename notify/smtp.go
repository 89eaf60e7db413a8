package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// TLS modes of the SMTP connection.
const (
	TLSStartTLS = "starttls" // plain connection upgraded with STARTTLS (submission, port 587)
	TLSImplicit = "implicit" // TLS from the first byte (submissions, port 465)
	TLSNone     = "none"     // no TLS: only for a sink on loopback
)

// SMTPConfig configures the SMTP sender.
type SMTPConfig struct {
	Host     string
	Port     int
	Username string
	Password string
	From     string // "西安市民政局 <noreply@example.gov.cn>"
	TLS      string // TLSStartTLS (default), TLSImplicit or TLSNone
	// Auth is the SASL mechanism: "plain", "login", or "" to take PLAIN
	// when the server offers it and LOGIN otherwise.
	Auth string
	// CAFile holds PEM certificates trusted in addition to the system's
	// (a test or in-house CA).
	CAFile string
	// InsecureSkipVerify accepts any server certificate. Development only.
	InsecureSkipVerify bool
	// Timeout bounds each command and the answer to the message (default 30s).
	Timeout time.Duration
	// HelloName is the name sent in EHLO (default "localhost").
	HelloName string
}

// SMTPSender sends messages through an SMTP submission server.
type SMTPSender struct {
	cfg SMTPConfig
	tls *tls.Config
}

// NewSMTPSender checks cfg and loads the CA file.
func NewSMTPSender(cfg SMTPConfig) (*SMTPSender, error) {
	if cfg.Host == "" || cfg.Port <= 0 {
		return nil, errors.New("smtp: host and port are required")
	}
	if _, err := AddressOf(cfg.From); err != nil {
		return nil, fmt.Errorf("smtp: sender %q: %w", cfg.From, err)
	}
	switch cfg.TLS {
	case "":
		cfg.TLS = TLSStartTLS
	case TLSStartTLS, TLSImplicit, TLSNone:
	default:
		return nil, fmt.Errorf("smtp: tls mode %q: want starttls, implicit or none", cfg.TLS)
	}
	switch strings.ToLower(cfg.Auth) {
	case "", "plain", "login":
		cfg.Auth = strings.ToLower(cfg.Auth)
	default:
		return nil, fmt.Errorf("smtp: auth mechanism %q: want plain or login", cfg.Auth)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.HelloName == "" {
		cfg.HelloName = "localhost"
	}
	tc := &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify} //nolint:gosec // only by explicit configuration
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("smtp: read CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("smtp: CA file %s holds no PEM certificate", cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	return &SMTPSender{cfg: cfg, tls: tc}, nil
}

// Error is a failed send, classified for the outbox.
type Error struct {
	// Permanent: retrying cannot help (bad credentials, rejected recipient,
	// refused message, untrusted certificate).
	Permanent bool
	// InDoubt: the message was handed over but no answer came back; it may
	// have been delivered.
	InDoubt bool
	Err     error
}

func (e *Error) Error() string {
	kind := "temporary"
	switch {
	case e.InDoubt:
		kind = "in doubt"
	case e.Permanent:
		kind = "permanent"
	}
	return fmt.Sprintf("smtp (%s): %v", kind, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// classify maps an error before the hand-over: 5xx answers and
// certificate problems are permanent, everything else (4xx, refused or
// broken connections, timeouts) temporary.
func classify(stage string, err error) *Error {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return &Error{Permanent: se.Code >= 500, Err: fmt.Errorf("%s: %d %s", stage, se.Code, se.Message)}
	}
	var ce *tls.CertificateVerificationError
	var ue x509.UnknownAuthorityError
	var he x509.HostnameError
	if errors.As(err, &ce) || errors.As(err, &ue) || errors.As(err, &he) {
		return &Error{Permanent: true, Err: fmt.Errorf("%s: %w", stage, err)}
	}
	return &Error{Err: fmt.Errorf("%s: %w", stage, err)}
}

// Send delivers msg (see Sender). The connection honours ctx: it is closed
// when ctx ends, which aborts any command in flight.
func (s *SMTPSender) Send(ctx context.Context, msg Message, commit func(context.Context) error) (string, error) {
	raw, err := msg.Bytes()
	if err != nil {
		return "", &Error{Permanent: true, Err: err}
	}
	from, err := AddressOf(msg.From)
	if err != nil {
		return "", &Error{Permanent: true, Err: err}
	}
	to, err := AddressOf(msg.To)
	if err != nil {
		return "", &Error{Permanent: true, Err: fmt.Errorf("recipient: %w", err)}
	}
	addr := net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port))
	d := net.Dialer{Timeout: s.cfg.Timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", classify("connect to "+addr, err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	var c *smtp.Client
	switch s.cfg.TLS {
	case TLSImplicit:
		tconn := tls.Client(conn, s.tls)
		if err := tconn.HandshakeContext(ctx); err != nil {
			conn.Close()
			return "", classify("tls handshake", err)
		}
		c = smtp.NewClient(tconn)
	case TLSStartTLS:
		if c, err = smtp.NewClientStartTLS(conn, s.tls); err != nil {
			conn.Close()
			e := classify("starttls", err)
			e.Permanent = e.Permanent || strings.Contains(err.Error(), "support STARTTLS")
			return "", e
		}
	default:
		c = smtp.NewClient(conn)
	}
	defer c.Close()
	c.CommandTimeout, c.SubmissionTimeout = s.cfg.Timeout, s.cfg.Timeout
	if err := c.Hello(s.cfg.HelloName); err != nil {
		return "", classify("ehlo", err)
	}
	if s.cfg.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return "", &Error{Permanent: true, Err: errors.New("auth: the server offers no AUTH")}
		}
		if err := c.Auth(s.saslClient(c)); err != nil {
			return "", classify("auth", err)
		}
	}
	if err := c.Mail(from, nil); err != nil {
		return "", classify("mail from", err)
	}
	if err := c.Rcpt(to, nil); err != nil {
		return "", classify("rcpt to "+to, err)
	}
	w, err := c.Data()
	if err != nil {
		return "", classify("data", err)
	}
	if _, err := w.Write(raw); err != nil {
		return "", classify("write message", err)
	}
	// The point of no return: until the final "." the server discards the
	// message when the connection drops.
	if err := commit(ctx); err != nil {
		return "", &Error{Err: fmt.Errorf("commit before hand-over: %w", err)}
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) { // a definite answer: not accepted
			return "", &Error{Permanent: se.Code >= 500, Err: fmt.Errorf("end of data: %d %s", se.Code, se.Message)}
		}
		return "", &Error{InDoubt: true, Err: fmt.Errorf("end of data: %w", err)}
	}
	_ = c.Quit() // the message is accepted; a failed QUIT changes nothing
	return resp.StatusText, nil
}

func (s *SMTPSender) saslClient(c *smtp.Client) sasl.Client {
	mech := s.cfg.Auth
	if mech == "" {
		mech = "login"
		if c.SupportsAuth(sasl.Plain) {
			mech = "plain"
		}
	}
	if mech == "login" {
		return sasl.NewLoginClient(s.cfg.Username, s.cfg.Password)
	}
	return sasl.NewPlainClient("", s.cfg.Username, s.cfg.Password)
}
