package notify

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
)

// Parts returns the plain-text and HTML parts of a received message.
func Parts(raw []byte) (text, html string, err error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return "", "", err
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return "", "", err
	}
	if !strings.HasPrefix(mt, "multipart/") {
		b, err := decodePart(msg.Body, msg.Header.Get("Content-Transfer-Encoding"))
		return string(b), "", err
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return text, html, nil
		}
		if err != nil {
			return text, html, err
		}
		b, err := decodePart(p, p.Header.Get("Content-Transfer-Encoding"))
		if err != nil {
			return text, html, err
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		switch ct {
		case "text/plain":
			text = string(b)
		case "text/html":
			html = string(b)
		}
	}
}

func decodePart(r io.Reader, cte string) ([]byte, error) {
	switch strings.ToLower(cte) {
	case "base64":
		return io.ReadAll(base64.NewDecoder(base64.StdEncoding, r))
	case "quoted-printable":
		return io.ReadAll(quotedprintable.NewReader(r))
	}
	return io.ReadAll(r)
}
