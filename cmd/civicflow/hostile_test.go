package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"civicflow"
)

// hostile is one request an attacker or a broken client might send.
type hostile struct {
	name        string
	contentType string
	body        string
	query       string
	// says is a part of the answer a JSON route must contain ("" = any
	// reason).
	says string
}

// hostileBodies are sent to every route that takes a body.
func hostileBodies() []hostile {
	return []hostile{
		{name: "wrong content type", contentType: "text/plain", body: `{"reasons":"x"}`},
		{name: "form instead of JSON", contentType: "application/x-www-form-urlencoded", body: `reasons=x`},
		{name: "truncated JSON", contentType: "application/json", body: `{"reasons":"ab`, says: "malformed JSON"},
		{name: "deeply nested JSON", contentType: "application/json", body: `{"reasons":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`, says: "nested"},
		{name: "huge string", contentType: "application/json", body: `{"reasons":"` + strings.Repeat("长", 700_000) + `"}`, says: "too large"},
		{name: "long string within the body limit", contentType: "application/json", body: `{"reasons":"` + strings.Repeat("长", 100_000) + `"}`},
		{name: "invalid UTF-8", contentType: "application/json", body: "{\"reasons\":\"\xff\xfe\"}", says: "UTF-8"},
		{name: "numbers out of range", contentType: "application/json", body: `{"document_ids":[1e999,99999999999999999999],"grade":-99999999999999999999}`},
		{name: "unknown field", contentType: "application/json", body: `{"is_admin":true}`},
		{name: "duplicated key", contentType: "application/json", body: `{"reasons":"a","reasons":"b"}`, says: `duplicate key \"reasons\"`},
		{name: "not an object", contentType: "application/json", body: `[1,2,3]`},
		{name: "empty body", contentType: "application/json", body: ``},
		{name: "NUL bytes", contentType: "application/json", body: "{\"reasons\":\"a\x00b\"}"},
	}
}

// TestE2EHostileRequests sends a table of hostile requests to every route
// of the API (taken from its route table): each answers 4xx with a reason,
// none answers 5xx, and none changes anything.
func TestE2EHostileRequests(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	ts := e.login(t, "ts.xiaozhai")
	c := e.submit(t, application(newIDNumber(t), "610113001", "self_care"), "")
	code := map[string]string{"X-Access-Code": c.Code}
	up := e.upload(t, "/api/v1/applications/"+c.Ref+"/papers", code, "户口簿.png", pngBytes())
	require.Equal(t, http.StatusCreated, up.Status, string(up.Raw))
	docID := fmt.Sprint(int64(up.Body["id"].(float64)))
	// Both credentials on every request, so that hostile input gets past
	// authentication to the code that parses it.
	creds := map[string]string{"Authorization": ts["Authorization"], "X-Access-Code": c.Code}

	before := e.hostileSnapshot(t, c.ID)
	routes := newAPI(e.cfg, e.tc, e.db, slog.New(slog.NewTextHandler(io.Discard, nil))).Echo().Routes()
	require.NotEmpty(t, routes)
	param := regexp.MustCompile(`:([a-z_]+)`)
	fill := func(path string, value func(name string) string) string {
		return param.ReplaceAllStringFunc(path, func(m string) string { return value(m[1:]) })
	}
	good := func(name string) string {
		switch name {
		case "ref":
			return c.Ref
		case "action":
			return "accept"
		case "id":
			return docID
		}
		return "1"
	}
	sent := 0
	check := func(method, path string, h hostile, headers map[string]string, wantClientError bool) {
		t.Helper()
		hs := map[string]string{}
		for k, v := range headers {
			hs[k] = v
		}
		if h.contentType != "" {
			hs["Content-Type"] = h.contentType
		}
		r := e.do(t, method, path+h.query, hs, strings.NewReader(h.body))
		sent++
		require.Less(t, r.Status, 500, "%s %s (%s): %s", method, path, h.name, r.Raw)
		if !wantClientError {
			return
		}
		require.GreaterOrEqual(t, r.Status, 400, "%s %s (%s): %s", method, path, h.name, r.Raw)
		if method == http.MethodHead {
			return
		}
		require.NotEmpty(t, r.errCode(), "%s %s (%s): the answer names an error code: %s", method, path, h.name, r.Raw)
		e := r.Body["error"].(map[string]any)
		require.NotEmpty(t, e["message"], "%s %s (%s): the answer says why", method, path, h.name)
		if h.says != "" && r.Status != http.StatusUnauthorized && r.Status != http.StatusForbidden && r.Status != http.StatusNotFound &&
			r.Status != http.StatusUnsupportedMediaType && r.Status != http.StatusUnprocessableEntity {
			require.Contains(t, string(r.Raw), h.says, "%s %s (%s)", method, path, h.name)
		}
	}

	for _, rt := range routes {
		if rt.Path == "/api/v1/auth/logout" {
			continue // takes no body: any request ends the session, as it should
		}
		if strings.HasSuffix(rt.Path, "/*") || rt.Method == "echo_route_not_found" {
			continue
		}
		path := fill(rt.Path, good)
		switch rt.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch:
			for _, h := range hostileBodies() {
				check(rt.Method, path, h, creds, true)
			}
			// A duplicated key is refused as malformed, naming the key, on
			// every JSON route that gets as far as reading the body.
			r := e.do(t, rt.Method, path, map[string]string{"Content-Type": "application/json",
				"Authorization": creds["Authorization"], "X-Access-Code": c.Code}, strings.NewReader(`{"reasons":"a","reasons":"b"}`))
			if r.Status == http.StatusBadRequest {
				require.Contains(t, string(r.Raw), `duplicate key \"reasons\"`, "%s %s", rt.Method, rt.Path)
			}
		case http.MethodGet:
			for _, q := range []string{"?limit=99999999999999999999", "?after=-5", "?stage=%ff%fe", "?district=" + strings.Repeat("6", 5000), "?limit=1e999&limit=2"} {
				check(rt.Method, path, hostile{name: "query " + q[:min(len(q), 30)], query: q}, creds, false)
			}
		}
		// Hostile path parameters: 4xx, never 5xx.
		if strings.Contains(rt.Path, ":") {
			for _, v := range []string{"%ff%fe", strings.Repeat("9", 4000), "-1", "0", "1e999", "99999999999999999999", "..%2F..%2Fetc%2Fpasswd", "TK-610113-%00"} {
				hostilePath := fill(rt.Path, func(name string) string {
					if name == "action" && rt.Method == http.MethodPost {
						return v
					}
					if name == "action" {
						return "accept"
					}
					return v
				})
				check(rt.Method, hostilePath, hostile{name: "path " + v[:min(len(v), 20)], contentType: "application/json", body: `{}`}, creds, true)
			}
		}
		// Hostile credentials.
		for _, bad := range []map[string]string{
			{"Authorization": "Bearer " + strings.Repeat("x", 8000)},
			{"Authorization": "Basic dXNlcjpwYXNz"},
			{"Authorization": "Bearer ' OR 1=1 --"},
			{"X-Access-Code": strings.Repeat("A", 5000)},
		} {
			r := e.do(t, rt.Method, path, bad, nil)
			sent++
			require.Less(t, r.Status, 500, "%s %s with %v: %s", rt.Method, rt.Path, bad, r.Raw)
		}
	}
	// Specific answers on the routes that read query parameters.
	for _, q := range []string{"?limit=99999999999999999999", "?after=-5", "?stage=%ff%fe", "?district=" + strings.Repeat("6", 5000), "?limit=501"} {
		r := e.do(t, http.MethodGet, "/api/v1/cases"+q, ts, nil)
		require.Equal(t, http.StatusUnprocessableEntity, r.Status, "%s: %s", q[:min(len(q), 30)], r.Raw)
	}
	require.Equal(t, http.StatusUnprocessableEntity, e.do(t, http.MethodGet, "/api/v1/institutions?district=%ff", ts, nil).Status)

	after := e.hostileSnapshot(t, c.ID)
	require.Equal(t, before, after, "hostile requests changed nothing")
	cs, err := e.db.Case(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, civicflow.StageIntake, cs.Stage)
	t.Logf("%d hostile requests to %d routes: all refused with 4xx, none 5xx, nothing changed", sent, len(routes))
}

// hostileSnapshot counts what a request could have created or changed.
func (e *e2eSystem) hostileSnapshot(t *testing.T, caseID int64) map[string]int {
	t.Helper()
	out := map[string]int{}
	for name, q := range map[string]string{
		"cases":            `SELECT count(*) FROM cases`,
		"persons":          `SELECT count(*) FROM persons`,
		"documents":        `SELECT count(*) FROM documents`,
		"sessions":         `SELECT count(*) FROM sessions`,
		"idempotency_keys": `SELECT count(*) FROM idempotency_keys`,
		"bed_allocations":  `SELECT count(*) FROM bed_allocations`,
		"users":            `SELECT count(*) FROM users`,
		"case_events":      fmt.Sprintf(`SELECT count(*) FROM case_events WHERE case_id = %d`, caseID),
		"case_seq":         fmt.Sprintf(`SELECT seq FROM cases WHERE id = %d`, caseID),
	} {
		var n int
		require.NoError(t, e.db.Pool().QueryRow(context.Background(), q).Scan(&n), name)
		out[name] = n
	}
	out["history"] = e.historyLength(t, caseID)
	return out
}
