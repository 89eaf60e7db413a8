package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// Cookies of the console. All are HttpOnly (the console needs no script),
// SameSite=Lax, limited to /console and Secure when the request came over
// TLS (directly or through a trusted proxy).
const (
	cookieCSRF    = "cf_csrf"    // random; the base every form token is derived from
	cookieSession = "cf_session" // an official's API session token (postgres sessions, api/auth.go)
	cookieCase    = "cf_case"    // an applicant's reference and access code
	cookieLang    = "cf_lang"    // zh-CN or en
	consolePath   = "/console"
	csrfField     = "csrf"
)

// session is what the browser's cookies say about the visitor.
type session struct {
	csrfBase string
	token    string
	caseRef  string
	caseCode string
	lang     string
}

type caseCookie struct {
	Ref  string `json:"r"`
	Code string `json:"c"`
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

func cookieValue(c echo.Context, name string) string {
	ck, err := c.Cookie(name)
	if err != nil {
		return ""
	}
	return ck.Value
}

// setCookie sets (or, with maxAge < 0, deletes) a console cookie.
func setCookie(c echo.Context, name, value string, maxAge int) {
	c.SetCookie(&http.Cookie{Name: name, Value: value, Path: consolePath, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: c.Scheme() == "https"})
}

// sessionOf reads the visitor's cookies, issuing the CSRF base on the
// first visit.
func sessionOf(c echo.Context) *session {
	if s, ok := c.Get("civicflow.console.session").(*session); ok {
		return s
	}
	s := &session{csrfBase: cookieValue(c, cookieCSRF), token: cookieValue(c, cookieSession), lang: langOf(cookieValue(c, cookieLang))}
	if s.csrfBase == "" || len(s.csrfBase) > 64 {
		s.csrfBase = randomToken()
		setCookie(c, cookieCSRF, s.csrfBase, int((30 * 24 * time.Hour).Seconds()))
	}
	if raw := cookieValue(c, cookieCase); raw != "" {
		var cc caseCookie
		if b, err := base64.RawURLEncoding.DecodeString(raw); err == nil && json.Unmarshal(b, &cc) == nil {
			s.caseRef, s.caseCode = cc.Ref, cc.Code
		}
	}
	c.Set("civicflow.console.session", s)
	return s
}

// csrfToken is the synchronizer token of every form: an HMAC of the
// visitor's cookies, so it is bound to this browser and to this login (a
// new login or a new case changes it) and a page of another site cannot
// know it.
func (s *session) csrfToken() string {
	m := hmac.New(sha256.New, []byte(s.csrfBase))
	m.Write([]byte("civicflow console form\x00" + s.token + "\x00" + s.caseRef + "\x00" + s.caseCode))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF reports whether a POST carries this session's token.
func (s *session) checkCSRF(c echo.Context) bool {
	if cookieValue(c, cookieCSRF) == "" {
		return false // the token must be bound to a cookie the browser sent
	}
	got := c.FormValue(csrfField)
	return got != "" && hmac.Equal([]byte(got), []byte(s.csrfToken()))
}

func (s *session) setOfficial(c echo.Context, token string, expires time.Time) {
	s.token = token
	setCookie(c, cookieSession, token, int(time.Until(expires).Seconds()))
}

func (s *session) clearOfficial(c echo.Context) {
	s.token = ""
	setCookie(c, cookieSession, "", -1)
}

func (s *session) setCase(c echo.Context, ref, code string) {
	s.caseRef, s.caseCode = ref, code
	b, _ := json.Marshal(caseCookie{Ref: ref, Code: code})
	// A session cookie: gone when the browser closes, as on a shared
	// computer in a community office it should be.
	setCookie(c, cookieCase, base64.RawURLEncoding.EncodeToString(b), 0)
}

func (s *session) clearCase(c echo.Context) {
	s.caseRef, s.caseCode = "", ""
	setCookie(c, cookieCase, "", -1)
}
