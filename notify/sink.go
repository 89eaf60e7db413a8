package notify

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"html/template"
	"io"
	"math/big"
	"mime"
	"net"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// SinkConfig configures the local mail sink.
type SinkConfig struct {
	Username, Password string // AUTH is required; PLAIN and LOGIN are offered
	// Dir keeps received messages as NNNNNN.eml and the sink's certificate
	// (cert.pem, which is also the CA to trust); "" keeps mail in memory and
	// the certificate in a temporary directory.
	Dir string
	// RejectDomains: recipients at these domains are refused with 550, to
	// show what a rejected recipient looks like.
	RejectDomains []string
	// AllowInsecureAuth lets clients authenticate without TLS.
	AllowInsecureAuth bool
}

// SinkMail is one received message.
type SinkMail struct {
	ID         int       `json:"id"`
	ReceivedAt time.Time `json:"received_at"`
	AuthUser   string    `json:"auth_user"`
	From       string    `json:"from"`
	To         []string  `json:"to"`
	Subject    string    `json:"subject"`
	MessageID  string    `json:"message_id"`
	Size       int       `json:"size"`
	raw        []byte
}

// Sink is a real SMTP server for development and tests: it requires AUTH,
// offers STARTTLS (and implicit TLS on a second listener) with a
// self-signed certificate, keeps every message it accepts and shows them
// over HTTP. It delivers nothing anywhere.
type Sink struct {
	cfg      SinkConfig
	certFile string
	tls      *tls.Config
	mu       sync.Mutex
	mails    []*SinkMail
	servers  []*smtp.Server
}

// NewSink prepares a sink, loading the messages kept in cfg.Dir.
func NewSink(cfg SinkConfig) (*Sink, error) {
	if cfg.Username == "" || cfg.Password == "" {
		return nil, errors.New("mail sink: a username and a password are required")
	}
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "civicflow-mailsink-")
		if err != nil {
			return nil, err
		}
		dir = d
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("mail sink: %w", err)
	}
	s := &Sink{cfg: cfg, certFile: filepath.Join(dir, "cert.pem")}
	cert, err := loadOrCreateCert(dir)
	if err != nil {
		return nil, fmt.Errorf("mail sink certificate: %w", err)
	}
	s.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if cfg.Dir != "" {
		if err := s.load(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// CertFile is the sink's certificate (PEM); trust it as a CA to verify the
// sink (CIVICFLOW_SMTP_CA_FILE).
func (s *Sink) CertFile() string { return s.certFile }

func (s *Sink) newServer() *smtp.Server {
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &sinkSession{sink: s}, nil
	}))
	srv.Domain = "civicflow-mailsink.localhost"
	srv.TLSConfig = s.tls
	srv.AllowInsecureAuth = s.cfg.AllowInsecureAuth
	srv.MaxMessageBytes = 10 << 20
	srv.MaxRecipients = 50
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	srv.ErrorLog = discardLogger{}
	s.mu.Lock()
	s.servers = append(s.servers, srv)
	s.mu.Unlock()
	return srv
}

// ServeSMTP serves SMTP with STARTTLS on ln until Close.
func (s *Sink) ServeSMTP(ln net.Listener) error { return ignoreClosed(s.newServer().Serve(ln)) }

// ServeSMTPS serves SMTP over implicit TLS on ln until Close.
func (s *Sink) ServeSMTPS(ln net.Listener) error {
	return ignoreClosed(s.newServer().Serve(tls.NewListener(ln, s.tls)))
}

// Close stops the SMTP servers.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, srv := range s.servers {
		errs = append(errs, srv.Close())
	}
	return errors.Join(errs...)
}

func ignoreClosed(err error) error {
	if errors.Is(err, smtp.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
func (discardLogger) Println(...any)        {}

type sinkSession struct {
	sink *Sink
	user string
	from string
	to   []string
}

func (ss *sinkSession) AuthMechanisms() []string { return []string{sasl.Plain, sasl.Login} }

func (ss *sinkSession) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if user != ss.sink.cfg.Username || pass != ss.sink.cfg.Password {
			return smtp.ErrAuthFailed
		}
		ss.user = user
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, user, pass string) error {
			if identity != "" && identity != user {
				return smtp.ErrAuthFailed
			}
			return check(user, pass)
		}), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (ss *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	if ss.user == "" {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if ss.user == "" {
		return smtp.ErrAuthRequired
	}
	_, domain, _ := strings.Cut(to, "@")
	for _, d := range ss.sink.cfg.RejectDomains {
		if strings.EqualFold(domain, d) {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "mailbox unavailable: " + to}
		}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	if ss.user == "" {
		return smtp.ErrAuthRequired
	}
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	return ss.sink.store(ss.user, ss.from, ss.to, raw)
}

func (ss *sinkSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *sinkSession) Logout() error { return nil }

// loginServer is the server side of SASL LOGIN (go-sasl has the client only).
type loginServer struct {
	check func(user, pass string) error
	user  string
	step  int
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step = 1
		if resp != nil { // initial response carries the username
			l.user, l.step = string(resp), 2
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.user, l.step = string(resp), 2
		return []byte("Password:"), false, nil
	case 2:
		l.step = 3
		return nil, true, l.check(l.user, string(resp))
	}
	return nil, true, errors.New("unexpected LOGIN response")
}

func (s *Sink) store(user, from string, to []string, raw []byte) error {
	m := &SinkMail{ReceivedAt: time.Now(), AuthUser: user, From: from, To: append([]string(nil), to...), Size: len(raw), raw: raw}
	if msg, err := mail.ReadMessage(bytes.NewReader(raw)); err == nil {
		dec := new(mime.WordDecoder)
		if subj, err := dec.DecodeHeader(msg.Header.Get("Subject")); err == nil {
			m.Subject = subj
		}
		m.MessageID = msg.Header.Get("Message-ID")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m.ID = len(s.mails) + 1
	if s.cfg.Dir != "" {
		meta, err := json.Marshal(m)
		if err != nil {
			return err
		}
		base := filepath.Join(s.cfg.Dir, fmt.Sprintf("%06d", m.ID))
		if err := os.WriteFile(base+".json", meta, 0o600); err != nil {
			return err
		}
		if err := os.WriteFile(base+".eml", raw, 0o600); err != nil {
			return err
		}
	}
	s.mails = append(s.mails, m)
	return nil
}

func (s *Sink) load() error {
	metas, err := filepath.Glob(filepath.Join(s.cfg.Dir, "*.json"))
	if err != nil {
		return err
	}
	sort.Strings(metas)
	for _, p := range metas {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var m SinkMail
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("mail sink: %s: %w", p, err)
		}
		if m.raw, err = os.ReadFile(strings.TrimSuffix(p, ".json") + ".eml"); err != nil {
			return err
		}
		s.mails = append(s.mails, &m)
	}
	return nil
}

// Mails returns the received messages, oldest first.
func (s *Sink) Mails() []SinkMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SinkMail, len(s.mails))
	for i, m := range s.mails {
		out[i] = *m
	}
	return out
}

// Handler shows the mail over HTTP: GET / (a page), GET /mail (JSON list),
// GET /mail/{id} (JSON with the text part), GET /mail/{id}/raw (the message
// as received), GET /mail/{id}/html (the HTML part).
func (s *Sink) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = sinkPage.Execute(w, s.Mails())
	})
	mux.HandleFunc("GET /mail", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"mail": s.Mails()})
	})
	find := func(w http.ResponseWriter, r *http.Request) *SinkMail {
		id, err := strconv.Atoi(r.PathValue("id"))
		s.mu.Lock()
		defer s.mu.Unlock()
		if err != nil || id < 1 || id > len(s.mails) {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such mail"})
			return nil
		}
		return s.mails[id-1]
	}
	mux.HandleFunc("GET /mail/{id}", func(w http.ResponseWriter, r *http.Request) {
		if m := find(w, r); m != nil {
			text, html, _ := Parts(m.raw)
			writeJSON(w, http.StatusOK, map[string]any{"mail": m, "text": text, "html": html})
		}
	})
	mux.HandleFunc("GET /mail/{id}/raw", func(w http.ResponseWriter, r *http.Request) {
		if m := find(w, r); m != nil {
			w.Header().Set("Content-Type", "message/rfc822")
			_, _ = w.Write(m.raw)
		}
	})
	mux.HandleFunc("GET /mail/{id}/html", func(w http.ResponseWriter, r *http.Request) {
		if m := find(w, r); m != nil {
			_, html, _ := Parts(m.raw)
			// The HTML was escaped by civicflow's templates; a CSP keeps any
			// script in a foreign message from running on this origin.
			w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = io.WriteString(w, html)
		}
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

var sinkPage = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>civicflow mail sink</title></head>
<body style="font-family: sans-serif">
<h1>civicflow mail sink</h1>
<p>Every message civicflow sent. Nothing leaves this machine. JSON: <a href="/mail">/mail</a>.</p>
<table border="1" cellpadding="4" style="border-collapse: collapse">
<tr><th>#</th><th>received</th><th>to</th><th>subject</th><th>Message-ID</th><th></th></tr>
{{range .}}<tr><td>{{.ID}}</td><td>{{.ReceivedAt.Format "2006-01-02 15:04:05"}}</td><td>{{range .To}}{{.}} {{end}}</td>
<td>{{.Subject}}</td><td><code>{{.MessageID}}</code></td>
<td><a href="/mail/{{.ID}}/html">html</a> <a href="/mail/{{.ID}}">text</a> <a href="/mail/{{.ID}}/raw">raw</a></td></tr>
{{else}}<tr><td colspan="6">no mail yet</td></tr>{{end}}
</table></body></html>
`))

func loadOrCreateCert(dir string) (tls.Certificate, error) {
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if c, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil {
		if leaf, err := x509.ParseCertificate(c.Certificate[0]); err == nil && time.Now().Before(leaf.NotAfter.Add(-24*time.Hour)) {
			return c, nil
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "civicflow mail sink"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(1, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, err
	}
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}
