// Package notify holds civicflow's notifications: templates (Chinese and
// English, plain text plus HTML), the composition of MIME messages, the
// SMTP sender (STARTTLS or implicit TLS, SASL PLAIN or LOGIN) and the local
// mail sink that `civicflow dev` runs. The outbox itself lives in postgres
// and the sending activity in activities; see docs/notifications.md.
package notify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"mime"
	"net/mail"
	"slices"
	"strings"
	"time"
)

// Message is one e-mail, ready to send.
type Message struct {
	From      string // "Name <addr>" or "addr"
	To        string // one address
	Subject   string
	Text      string
	HTML      string
	MessageID string // "<...@...>", stable across retries
	Date      time.Time
	// Headers are extra header fields (X-Civicflow-*), written in key order.
	Headers map[string]string
}

// Sender delivers messages over one channel. SMTP is the only one; an SMS
// sender would implement the same contract (docs/notifications.md).
type Sender interface {
	// Send delivers msg. It calls commit exactly once, at the last moment at
	// which the message has certainly not been delivered (for SMTP: before
	// the final "." of DATA), and abandons the message undelivered when
	// commit fails. It returns the server's answer on success, or an *Error.
	Send(ctx context.Context, msg Message, commit func(context.Context) error) (string, error)
}

// Bytes renders m as an RFC 5322 message: multipart/alternative with a
// UTF-8 plain-text and an HTML part, both base64, and RFC 2047 encoded
// headers.
func (m Message) Bytes() ([]byte, error) {
	from, err := mail.ParseAddress(m.From)
	if err != nil {
		return nil, fmt.Errorf("from address %q: %w", m.From, err)
	}
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return nil, fmt.Errorf("to address %q: %w", m.To, err)
	}
	sum := sha256.Sum256([]byte(m.MessageID))
	boundary := "civicflow-" + hex.EncodeToString(sum[:12])
	var b bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	h("From", from.String())
	h("To", to.String())
	h("Subject", mime.BEncoding.Encode("UTF-8", m.Subject))
	h("Date", m.Date.Format(time.RFC1123Z))
	h("Message-ID", m.MessageID)
	h("MIME-Version", "1.0")
	h("Auto-Submitted", "auto-generated")
	keys := make([]string, 0, len(m.Headers))
	for k := range m.Headers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		h(k, mime.QEncoding.Encode("UTF-8", m.Headers[k]))
	}
	h("Content-Type", `multipart/alternative; boundary="`+boundary+`"`)
	b.WriteString("\r\n")
	for _, part := range []struct{ ctype, body string }{
		{"text/plain; charset=UTF-8", m.Text},
		{"text/html; charset=UTF-8", m.HTML},
	} {
		fmt.Fprintf(&b, "--%s\r\nContent-Type: %s\r\nContent-Transfer-Encoding: base64\r\n\r\n", boundary, part.ctype)
		enc := base64.StdEncoding.EncodeToString([]byte(part.body))
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
	}
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return b.Bytes(), nil
}

// AddressOf returns the bare address of "Name <addr>" or "addr".
func AddressOf(s string) (string, error) {
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", err
	}
	return a.Address, nil
}

// DomainOf returns the domain of an address, for Message-IDs.
func DomainOf(s string) string {
	addr, err := AddressOf(s)
	if err != nil {
		return "civicflow.invalid"
	}
	_, d, _ := strings.Cut(addr, "@")
	if d == "" {
		return "civicflow.invalid"
	}
	return d
}
