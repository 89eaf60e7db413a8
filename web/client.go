package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"civicflow"
	"civicflow/wire"
)

// apiClient calls the JSON API in process: every console read and action
// goes through the same route, authentication, validation, authorisation,
// workflow update and audit entry as a call from any other client. The
// console adds pages, nothing else.
type apiClient struct {
	h http.Handler
}

// creds are the credentials a call carries: an official's bearer token or
// an applicant's access code.
type creds struct {
	token      string
	accessCode string
}

// call is one request to the API.
type call struct {
	method   string
	path     string
	query    url.Values
	body     any // JSON-encoded unless nil
	file     *upload
	idemKey  string
	creds    creds
	rawReply bool // keep the body (a paper download) instead of decoding JSON
}

type upload struct {
	name    string
	content []byte
}

// reply is the API's answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// recorder is the minimal http.ResponseWriter the in-process call needs.
type recorder struct {
	header http.Header
	status int
	buf    bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.buf.Write(b)
}
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

// do sends cl to the API on behalf of the browser request of c and decodes
// a JSON answer into out (may be nil). An error answer comes back as the
// *civicflow.Error it carries, so pages treat it like any domain error.
func (cl *apiClient) do(c echo.Context, in call, out any) (*reply, error) {
	var body io.Reader
	contentType := ""
	switch {
	case in.file != nil:
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		fw, err := mw.CreateFormFile("file", in.file.name)
		if err != nil {
			return nil, fmt.Errorf("build upload: %w", err)
		}
		if _, err := fw.Write(in.file.content); err != nil {
			return nil, fmt.Errorf("build upload: %w", err)
		}
		if err := mw.Close(); err != nil {
			return nil, fmt.Errorf("build upload: %w", err)
		}
		body, contentType = &buf, mw.FormDataContentType()
	case in.body != nil:
		b, err := json.Marshal(in.body)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", in.method, in.path, err)
		}
		body, contentType = bytes.NewReader(b), echo.MIMEApplicationJSON
	}
	target := in.path
	if len(in.query) > 0 {
		target += "?" + in.query.Encode()
	}
	outer := c.Request()
	req, err := http.NewRequestWithContext(outer.Context(), in.method, target, body)
	if err != nil {
		return nil, fmt.Errorf("build %s %s: %w", in.method, in.path, err)
	}
	// The API sees the browser's address (throttles, audit trail) exactly
	// as it would see it on a direct call; no Origin header: the console
	// checked the browser's origin and CSRF token itself.
	req.RemoteAddr = outer.RemoteAddr
	req.Host = outer.Host
	req.TLS = outer.TLS
	for _, h := range []string{echo.HeaderXForwardedFor, echo.HeaderXRealIP, echo.HeaderXForwardedProto, "User-Agent"} {
		if v := outer.Header.Values(h); len(v) > 0 {
			req.Header[h] = v
		}
	}
	if id := c.Response().Header().Get(echo.HeaderXRequestID); id != "" {
		req.Header.Set(echo.HeaderXRequestID, id)
	}
	if contentType != "" {
		req.Header.Set(echo.HeaderContentType, contentType)
	}
	if in.creds.token != "" {
		req.Header.Set(echo.HeaderAuthorization, "Bearer "+in.creds.token)
	}
	if in.creds.accessCode != "" {
		req.Header.Set("X-Access-Code", in.creds.accessCode)
	}
	if in.idemKey != "" {
		req.Header.Set("Idempotency-Key", in.idemKey)
	}
	rec := &recorder{header: http.Header{}}
	cl.h.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	rep := &reply{status: rec.status, header: rec.header, body: rec.buf.Bytes()}
	if rep.status >= 400 {
		return rep, decodeError(rep)
	}
	if out != nil && !in.rawReply && len(rep.body) > 0 {
		if err := json.Unmarshal(rep.body, out); err != nil {
			return rep, fmt.Errorf("decode %s %s: %w", in.method, in.path, err)
		}
	}
	return rep, nil
}

// answeredError is a domain error the API answered, with the HTTP status it
// answered it with: the console's page answers the same status, and the
// API stays the one place that maps codes to statuses.
type answeredError struct {
	status int
	err    *civicflow.Error
}

func (e *answeredError) Error() string { return e.err.Error() }
func (e *answeredError) Unwrap() error { return e.err }

// decodeError turns the API's error answer back into a domain error that
// remembers its status.
func decodeError(rep *reply) error {
	return &answeredError{status: rep.status, err: decodeErrorBody(rep)}
}

func decodeErrorBody(rep *reply) *civicflow.Error {
	var body wire.ErrorAnswer
	if err := json.Unmarshal(rep.body, &body); err != nil || body.Error.Code == "" {
		return &civicflow.Error{Code: civicflow.EINTERNAL, Message: fmt.Sprintf("the API answered %d", rep.status)}
	}
	return body.Domain()
}
