package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"civicflow"
	"civicflow/postgres"
)

// auditEntries returns the audit entries about a target, newest last.
func (e *e2eSystem) auditEntries(t *testing.T, targetType, targetID string) []postgres.AuditEntry {
	t.Helper()
	es, err := e.db.AuditEntries(context.Background(), targetType, targetID, 1000)
	require.NoError(t, err)
	return es
}

func findAudit(es []postgres.AuditEntry, action, outcome string) *postgres.AuditEntry {
	for i := len(es) - 1; i >= 0; i-- {
		if es[i].Action == action && es[i].Outcome == outcome {
			return &es[i]
		}
	}
	return nil
}

// fromIP makes the request appear to come from ip (the e2e API trusts
// X-Forwarded-For from loopback, as it would from a configured proxy).
func fromIP(ip string, h map[string]string) map[string]string { return with(h, "X-Forwarded-For", ip) }

func TestE2EAuditTrail(t *testing.T) {
	e := setup(t)
	ts, other := e.login(t, "ts.xiaozhai"), e.login(t, "ts.dayanta")
	c := e.submit(t, application(newIDNumber(t), "610113001", "self_care"), "")
	require.Equal(t, http.StatusForbidden, e.act(t, other, c.Ref, "accept", map[string]any{}).Status)
	e.mustAct(t, ts, c.Ref, "accept", map[string]any{}, "investigation")
	r := e.postJSON(t, "/api/v1/cases/"+c.Ref+"/reveal", fromIP("198.51.100.7", ts),
		map[string]any{"fields": []string{"id_number"}, "reason": "电话核实身份"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))

	es := e.auditEntries(t, "case", c.Ref)
	sub := findAudit(es, "application.submit", postgres.OutcomeSuccess)
	require.NotNil(t, sub, "the submission is recorded")
	denied := findAudit(es, "case.accept", postgres.OutcomeDenied)
	require.NotNil(t, denied, "the refused action is recorded")
	require.Equal(t, "ts.dayanta", denied.Actor.Username)
	acc := findAudit(es, "case.accept", postgres.OutcomeSuccess)
	require.NotNil(t, acc)
	require.Equal(t, "ts.xiaozhai", acc.Actor.Username)
	require.Equal(t, civicflow.RoleTownshipOfficial, acc.Actor.Role)
	require.Equal(t, "610113001", acc.Actor.Jurisdiction)
	require.NotEmpty(t, acc.RemoteAddr)
	require.NotEmpty(t, acc.RequestID)
	rev := findAudit(es, "case.reveal", postgres.OutcomeSuccess)
	require.NotNil(t, rev, "the unmasked read is recorded")
	require.Equal(t, "198.51.100.7", rev.RemoteAddr)
	require.Contains(t, string(rev.Details.(json.RawMessage)), "电话核实身份")
	require.Contains(t, string(rev.Details.(json.RawMessage)), "id_number")
	for _, en := range es {
		require.NotContains(t, string(mustJSON(t, en)), r.str("id_number"), "the audit trail holds no plain ID number")
	}

	// Logins, failed and successful.
	require.Equal(t, http.StatusUnauthorized, e.postJSON(t, "/api/v1/auth/login", fromIP("198.51.100.8", nil),
		map[string]string{"username": "sv.yanta", "password": "wrong"}).Status)
	e.login(t, "sv.yanta")
	logins := e.auditEntries(t, "user", "sv.yanta")
	require.NotNil(t, findAudit(logins, "auth.login", postgres.OutcomeDenied))
	var svID int64
	require.NoError(t, e.db.Pool().QueryRow(context.Background(), `SELECT id FROM users WHERE username = 'sv.yanta'`).Scan(&svID))
	require.NotNil(t, findAudit(e.auditEntries(t, "user", fmt.Sprint(svID)), "auth.login", postgres.OutcomeSuccess))

	// `civicflow audit verify` passes, catches an edit (exit non-zero), and
	// passes again once the entry is restored.
	t.Setenv("CIVICFLOW_DATABASE_URL", e.cfg.DatabaseURL)
	verify := func() (string, error) {
		var out, errOut bytes.Buffer
		err := run([]string{"audit", "verify"}, &out, &errOut)
		return out.String() + errOut.String(), err
	}
	out, err := verify()
	require.NoError(t, err, out)
	require.Contains(t, out, "audit chain intact")
	tamper := func(sql string, args ...any) {
		require.NoError(t, pgx.BeginFunc(context.Background(), e.db.Pool(), func(tx pgx.Tx) error {
			if _, err := tx.Exec(context.Background(), `SET LOCAL session_replication_role = replica`); err != nil {
				return err
			}
			_, err := tx.Exec(context.Background(), sql, args...)
			return err
		}))
	}
	tamper(`UPDATE audit_log SET outcome = 'success' WHERE id = $1`, denied.ID)
	out, err = verify()
	require.Error(t, err)
	require.Contains(t, out, fmt.Sprintf("entry %d was edited", denied.ID))
	tamper(`UPDATE audit_log SET outcome = 'denied' WHERE id = $1`, denied.ID)
	out, err = verify()
	require.NoError(t, err, out)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func TestE2EMaskingAndReveal(t *testing.T) {
	e := setup(t)
	ts, dr, sv := e.login(t, "ts.xiaozhai"), e.login(t, "dr.yanta"), e.login(t, "sv.yanta")
	id := newIDNumber(t)
	app := application(id, "610113001", "self_care")
	app["person"].(map[string]any)["disability"] = map[string]any{"kind": "mental", "grade": 2}
	app["applicant"].(map[string]any)["email"] = "family@example.cn"
	c := e.submit(t, app, "")
	e.mustAct(t, ts, c.Ref, "accept", map[string]any{}, "investigation")
	for _, who := range []map[string]string{ts, dr, sv} {
		detail := e.do(t, http.MethodGet, "/api/v1/cases/"+c.Ref, who, nil)
		require.Equal(t, http.StatusOK, detail.Status)
		for _, secret := range []string{id, "13800001234", "13912345678", "family@example.cn", "mental"} {
			require.NotContains(t, string(detail.Raw), secret, "the case view is masked")
		}
		require.Equal(t, civicflow.MaskIDNumber(id), detail.str("id_number_masked"))
		require.Equal(t, "138****1234", detail.str("phone_masked"))
		require.Equal(t, true, detail.Body["disability_recorded"])
		list := e.do(t, http.MethodGet, "/api/v1/cases?limit=500", who, nil)
		require.NotContains(t, string(list.Raw), id)
	}
	r := e.postJSON(t, "/api/v1/cases/"+c.Ref+"/reveal", dr, map[string]any{"fields": []string{"id_number", "phone",
		"applicant_phone", "applicant_email", "disability"}, "reason": "审核确认前核对"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, id, r.str("id_number"))
	require.Equal(t, "13800001234", r.str("phone"))
	require.Equal(t, "13912345678", r.str("applicant_phone"))
	require.Equal(t, "family@example.cn", r.str("applicant_email"))
	require.Equal(t, map[string]any{"kind": "mental", "grade": float64(2)}, r.Body["disability"])
	only := e.postJSON(t, "/api/v1/cases/"+c.Ref+"/reveal", ts, map[string]any{"fields": []string{"phone"}, "reason": "联系申请人"})
	require.Equal(t, http.StatusOK, only.Status)
	require.Empty(t, only.str("id_number"), "only the fields asked for")
	for _, body := range []map[string]any{
		{"fields": []string{"id_number"}},                         // no reason
		{"fields": []string{"id_number"}, "reason": "  "},         // blank reason
		{"fields": []string{"password"}, "reason": "x"},           // unknown field
		{"fields": []string{}, "reason": "x"},                     // nothing asked
		{"fields": []string{"id_number"}, "reason": bigText(501)}, // too long
	} {
		r := e.postJSON(t, "/api/v1/cases/"+c.Ref+"/reveal", ts, body)
		require.Equal(t, http.StatusUnprocessableEntity, r.Status, "%v: %s", body, r.Raw)
	}
	require.Equal(t, http.StatusForbidden, e.postJSON(t, "/api/v1/cases/"+c.Ref+"/reveal", sv,
		map[string]any{"fields": []string{"id_number"}, "reason": "督查"}).Status, "supervisors see masked data only")
	reveals := 0
	for _, en := range e.auditEntries(t, "case", c.Ref) {
		if en.Action == "case.reveal" && en.Outcome == postgres.OutcomeSuccess {
			reveals++
		}
	}
	require.Equal(t, 2, reveals)
}

func TestE2EDuplicateApplication(t *testing.T) {
	e := setup(t)
	id := newIDNumber(t)
	first := e.submit(t, application(id, "610113001", "self_care"), "")
	app := application(id, "610113001", "dependent")
	app["statement"] = "second attempt"
	masked := first.Ref[:len(first.Ref)-6] + "****" + first.Ref[len(first.Ref)-2:]
	for _, tc := range []struct {
		name string
		h    map[string]string
		want string
	}{
		{"anonymous", nil, masked},
		{"township official of the case", e.login(t, "ts.xiaozhai"), first.Ref},
		{"district reviewer of the case", e.login(t, "dr.yanta"), first.Ref},
		{"official elsewhere", e.login(t, "ts.xiyilu"), masked},
		{"bad token", map[string]string{"Authorization": "Bearer nope"}, masked},
	} {
		r := e.postJSON(t, "/api/v1/applications", fromIP("203.0.113.50", tc.h), app)
		require.Equal(t, http.StatusConflict, r.Status, "%s: %s", tc.name, r.Raw)
		require.Equal(t, tc.want, r.Body["error"].(map[string]any)["reference"], tc.name)
		require.Contains(t, r.Body["error"].(map[string]any)["message"], tc.want, tc.name)
	}
	require.Equal(t, 1, e.caseCount(t, id), "no second case")
	// Probing ID numbers this way is throttled per address.
	var last response
	for range api429Budget() {
		last = e.postJSON(t, "/api/v1/applications", fromIP("203.0.113.51", nil), app)
		if last.Status == http.StatusTooManyRequests {
			break
		}
		require.Equal(t, http.StatusConflict, last.Status, string(last.Raw))
	}
	require.Equal(t, http.StatusTooManyRequests, last.Status)
}

// api429Budget is comfortably more attempts than any default limit allows.
func api429Budget() int { return 60 }

func TestE2ELoginLockout(t *testing.T) {
	e := setup(t)
	e.ensureOfficial(t, "mx.lockme", civicflow.RoleTownshipOfficial, "610113001")
	login := func(ip, user, pw string) response {
		return e.postJSON(t, "/api/v1/auth/login", fromIP(ip, nil), map[string]string{"username": user, "password": pw})
	}
	for i := 1; i <= 5; i++ {
		r := login(fmt.Sprintf("192.0.2.%d", i), "mx.lockme", "wrong password")
		require.Equal(t, http.StatusUnauthorized, r.Status, "attempt %d: %s", i, r.Raw)
	}
	// Locked: even the right password, from any address, until the lock ends.
	r := login("192.0.2.99", "mx.lockme", testPassword)
	require.Equal(t, http.StatusTooManyRequests, r.Status, string(r.Raw))
	require.Equal(t, civicflow.ETOOMANY, r.errCode())
	require.NotEmpty(t, r.Raw)
	require.NotNil(t, findAudit(e.auditEntries(t, "user", "mx.lockme"), "auth.login", postgres.OutcomeDenied))
	// Other accounts are not affected.
	e.login(t, "ts.dayanta")
	require.NoError(t, e.db.ClearFailures(context.Background(), "user:mx.lockme"))
	require.Equal(t, http.StatusOK, login("192.0.2.99", "mx.lockme", testPassword).Status)

	// One address trying many accounts is throttled too.
	var last response
	for i := range api429Budget() {
		last = login("192.0.2.200", fmt.Sprintf("nobody%d", i), "guess")
		if last.Status == http.StatusTooManyRequests {
			break
		}
		require.Equal(t, http.StatusUnauthorized, last.Status)
	}
	require.Equal(t, http.StatusTooManyRequests, last.Status)
	require.NotEmpty(t, last.Raw)
}

func TestE2EAccessCodeGuessingThrottled(t *testing.T) {
	e := setup(t)
	c := e.submit(t, application(newIDNumber(t), "610113001", "self_care"), "")
	view := func(ip, ref, code string) response {
		return e.do(t, http.MethodGet, "/api/v1/applications/"+ref, fromIP(ip, map[string]string{"X-Access-Code": code}), nil)
	}
	require.GreaterOrEqual(t, len(c.Code), 10)
	require.Equal(t, http.StatusOK, view("198.18.0.1", c.Ref, c.Code).Status)
	// Guessing one reference's code from many addresses locks the reference.
	var last response
	for i := range api429Budget() {
		last = view(fmt.Sprintf("198.18.1.%d", i), c.Ref, fmt.Sprintf("GUESS%05d", i))
		if last.Status == http.StatusTooManyRequests {
			break
		}
		require.Equal(t, http.StatusUnauthorized, last.Status)
	}
	require.Equal(t, http.StatusTooManyRequests, last.Status)
	require.Equal(t, http.StatusTooManyRequests, view("198.18.0.1", c.Ref, c.Code).Status, "locked for a while, whoever asks")
	require.NotNil(t, findAudit(e.auditEntries(t, "case", c.Ref), "applicant.access", postgres.OutcomeDenied))
	require.NoError(t, e.db.ClearFailures(context.Background(), "ref:"+c.Ref))
	require.Equal(t, http.StatusOK, view("198.18.0.1", c.Ref, c.Code).Status)

	// Enumerating references from one address is throttled.
	for i := range api429Budget() {
		last = view("198.18.2.1", fmt.Sprintf("TK-610113-%06d", 900000+i), "ABCDEFGHJK")
		if last.Status == http.StatusTooManyRequests {
			break
		}
		require.Equal(t, http.StatusUnauthorized, last.Status)
	}
	require.Equal(t, http.StatusTooManyRequests, last.Status)
	require.Equal(t, http.StatusTooManyRequests, view("198.18.2.1", c.Ref, c.Code).Status, "the address is locked")
	require.Equal(t, http.StatusOK, view("198.18.0.2", c.Ref, c.Code).Status, "other addresses are not")
}

func TestE2ESecurityHeadersCORSAndErrors(t *testing.T) {
	e := setup(t)
	r, err := http.Get(e.api.URL + "/api/v1/jurisdictions")
	require.NoError(t, err)
	r.Body.Close()
	for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
		"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"} {
		require.Equal(t, v, r.Header.Get(k), k)
	}
	require.Contains(t, r.Header.Get("Content-Security-Policy"), "default-src 'none'")

	// No cross-origin browser access by default.
	req, _ := http.NewRequest(http.MethodOptions, e.api.URL+"/api/v1/cases", nil)
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Access-Control-Request-Method", "GET")
	pre, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	pre.Body.Close()
	require.Empty(t, pre.Header.Get("Access-Control-Allow-Origin"))
	cross := e.do(t, http.MethodGet, "/api/v1/jurisdictions", map[string]string{"Origin": "https://evil.example"}, nil)
	require.Equal(t, http.StatusForbidden, cross.Status)
	same := e.do(t, http.MethodGet, "/api/v1/jurisdictions", map[string]string{"Origin": e.api.URL}, nil)
	require.Equal(t, http.StatusOK, same.Status, "the API's own origin is fine")

	// An allow-listed origin gets CORS answers.
	cfg := e.cfg
	cfg.CORSOrigins = "https://ui.civicflow.example"
	allowed := httptest.NewServer(newAPI(cfg, e.tc, e.db, slog.New(slog.NewTextHandler(io.Discard, nil))).Handler())
	defer allowed.Close()
	req, _ = http.NewRequest(http.MethodOptions, allowed.URL+"/api/v1/cases", nil)
	req.Header.Set("Origin", "https://ui.civicflow.example")
	req.Header.Set("Access-Control-Request-Method", "GET")
	pre, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	pre.Body.Close()
	require.Equal(t, "https://ui.civicflow.example", pre.Header.Get("Access-Control-Allow-Origin"))

	// Errors show no SQL, constraint names or stack traces.
	ts := e.login(t, "ts.xiaozhai")
	app := application(newIDNumber(t), "610113001", "self_care")
	app["person"].(map[string]any)["community_code"] = "610113001999" // not a community
	bad := e.postJSON(t, "/api/v1/applications", nil, app)
	require.Equal(t, http.StatusUnprocessableEntity, bad.Status, string(bad.Raw))
	for _, resp := range []response{bad, e.do(t, http.MethodGet, "/readyz", nil, nil),
		e.do(t, http.MethodGet, "/api/v1/cases/TK-610113-999999", ts, nil)} {
		for _, leak := range []string{"SQLSTATE", "constraint", "pgx", "goroutine", ".go:", "postgres://"} {
			require.NotContains(t, string(resp.Raw), leak)
		}
	}
}

func bigText(n int) string { return strings.Repeat("长", n) }

// TestE2EInjectionAndLongStrings sends SQL metacharacters, markup and
// over-long strings in every text field: each is stored and returned
// verbatim, or refused with 422; never a 500.
func TestE2EInjectionAndLongStrings(t *testing.T) {
	e := setup(t)
	ts, dr := e.login(t, "ts.xiaozhai"), e.login(t, "dr.yanta")
	const evil = `Robert'); DROP TABLE cases;-- "q" \b %_ $1 <script>alert(1)</script> 中文𠀀 ' OR '1'='1`
	never500 := func(r response, what string) {
		t.Helper()
		require.Less(t, r.Status, 500, "%s: %s", what, r.Raw)
	}

	// Application fields: free text is stored verbatim, validated fields 422.
	app := application(newIDNumber(t), "610113001", "self_care")
	app["person"].(map[string]any)["address"] = evil
	app["statement"] = evil
	c := e.submit(t, app, "")
	detail := e.do(t, http.MethodGet, "/api/v1/cases/"+c.Ref, ts, nil)
	require.Equal(t, evil, detail.str("address"))
	require.Equal(t, evil, detail.str("statement"))
	for _, f := range []struct{ path []string }{{[]string{"person", "name"}}, {[]string{"person", "id_number"}},
		{[]string{"person", "phone"}}, {[]string{"person", "hukou_township_code"}}, {[]string{"person", "community_code"}},
		{[]string{"person", "self_care"}}, {[]string{"applicant", "relation"}}, {[]string{"applicant", "name"}},
		{[]string{"applicant", "phone"}}, {[]string{"applicant", "email"}}} {
		for _, v := range []string{evil, bigText(5000)} {
			a := application(newIDNumber(t), "610113001", "self_care")
			a[f.path[0]].(map[string]any)[f.path[1]] = v
			r := e.postJSON(t, "/api/v1/applications", nil, a)
			require.Equal(t, http.StatusUnprocessableEntity, r.Status, "%v: %s", f.path, r.Raw)
		}
	}
	for _, f := range []struct {
		field string
		max   int
	}{{"address", 200}, {"statement", 2000}} {
		a := application(newIDNumber(t), "610113001", "self_care")
		set := func(v string) {
			if f.field == "address" {
				a["person"].(map[string]any)["address"] = v
			} else {
				a["statement"] = v
			}
		}
		set(bigText(f.max + 1))
		require.Equal(t, http.StatusUnprocessableEntity, e.postJSON(t, "/api/v1/applications", nil, a).Status, f.field)
		set(bigText(f.max))
		ok := e.submit(t, a, "")
		got := e.do(t, http.MethodGet, "/api/v1/cases/"+ok.Ref, ts, nil)
		if f.field == "address" {
			require.Equal(t, bigText(f.max), got.str("address"))
		} else {
			require.Equal(t, bigText(f.max), got.str("statement"))
		}
	}
	nul := application(newIDNumber(t), "610113001", "self_care")
	nul["statement"] = "a\u0000b"
	require.Equal(t, http.StatusUnprocessableEntity, e.postJSON(t, "/api/v1/applications", nil, nul).Status)
	r := e.postJSON(t, "/api/v1/applications", map[string]string{"Idempotency-Key": bigText(300)}, application(newIDNumber(t), "610113001", "self_care"))
	require.Equal(t, http.StatusUnprocessableEntity, r.Status)
	r = e.postJSON(t, "/api/v1/applications", map[string]string{"Idempotency-Key": evil}, application(newIDNumber(t), "610113001", "self_care"))
	require.Equal(t, http.StatusCreated, r.Status, string(r.Raw))

	// Action text: request supplements (items), then reasons/notes/findings.
	r = e.act(t, ts, c.Ref, "request_supplements", map[string]any{"items": []string{evil, "收入证明"}, "note": evil})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, []any{evil, "收入证明"}, r.Body["waiting_for"])
	for _, body := range []map[string]any{{"items": []string{bigText(201)}}, {"items": []string{"x"}, "note": bigText(4001)},
		{"reasons": bigText(4001)}, {"objector": bigText(101)}, {"reasons": "a\u0000"}} {
		r := e.act(t, ts, c.Ref, "reject", body)
		require.Equal(t, http.StatusUnprocessableEntity, r.Status, "%v: %s", body, r.Raw)
	}
	code := map[string]string{"X-Access-Code": c.Code}
	r = e.postJSON(t, "/api/v1/applications/"+c.Ref+"/supplements", code, map[string]any{"note": evil})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	e.mustAct(t, ts, c.Ref, "accept", map[string]any{}, "investigation")
	visit := visitBody("eligible")
	visit["home_visit"].(map[string]any)["findings"] = evil
	visit["home_visit"].(map[string]any)["visitors"] = []string{evil[:40]}
	e.visited(t, ts, c.Ref, visit)
	long := visitBody("eligible")
	long["home_visit"].(map[string]any)["findings"] = bigText(4001)
	require.Equal(t, http.StatusUnprocessableEntity, e.act(t, ts, c.Ref, "record_investigation", long).Status)
	e.waitStage(t, c.ID, civicflow.StageDistrictReview, 30*time.Second)
	r = e.act(t, dr, c.Ref, "reject", map[string]any{"reasons": evil})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	timeline, _ := json.Marshal(r.Body["timeline"])
	require.Contains(t, string(timeline), mustJSONString(t, evil), "reasons kept verbatim")

	// Login, reveal reason, headers, path and query parameters.
	for _, body := range []map[string]string{{"username": evil, "password": evil}, {"username": "admin' --", "password": "x"}} {
		r := e.postJSON(t, "/api/v1/auth/login", fromIP("100.64.0.9", nil), body)
		require.Contains(t, []int{http.StatusUnauthorized, http.StatusUnprocessableEntity}, r.Status, string(r.Raw))
	}
	require.Equal(t, http.StatusUnprocessableEntity, e.postJSON(t, "/api/v1/auth/login", nil,
		map[string]string{"username": bigText(65), "password": "x"}).Status)
	r = e.postJSON(t, "/api/v1/cases/"+c.Ref+"/reveal", ts, map[string]any{"fields": []string{"phone"}, "reason": evil})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	rev := findAudit(e.auditEntries(t, "case", c.Ref), "case.reveal", postgres.OutcomeSuccess)
	require.NotNil(t, rev)
	var details map[string]any
	require.NoError(t, json.Unmarshal(rev.Details.(json.RawMessage), &details))
	require.Equal(t, evil, details["reason"], "stored verbatim in the audit trail")

	for _, p := range []string{
		"/api/v1/cases/" + url.PathEscape("TK-610113-000001' OR '1'='1"),
		"/api/v1/cases/" + url.PathEscape(evil),
		"/api/v1/cases/" + c.Ref + "/papers/" + url.PathEscape("1; DROP TABLE documents"),
		"/api/v1/cases?stage=" + url.QueryEscape("intake' OR '1'='1"),
		"/api/v1/cases?after=" + url.QueryEscape("1 OR 1=1"),
		"/api/v1/cases?township=" + url.QueryEscape("610113001' --"),
		"/api/v1/institutions?district=" + url.QueryEscape("'; DROP TABLE beds;--"),
		"/api/v1/cases/" + strings.Repeat("A", 5000),
	} {
		never500(e.do(t, http.MethodGet, p, ts, nil), p)
	}
	for _, codeValue := range []string{evil, bigText(3000), "' OR '1'='1"} {
		r := e.do(t, http.MethodGet, "/api/v1/applications/"+c.Ref, fromIP("100.64.1.1", map[string]string{"X-Access-Code": codeValue}), nil)
		require.Equal(t, http.StatusUnauthorized, r.Status, string(r.Raw))
	}
	r = e.do(t, http.MethodPost, "/api/v1/allocations/"+url.PathEscape("1 OR 1=1")+"/departure", with(e.login(t, "st.yanta"), "Content-Type", "application/json"),
		strings.NewReader(`{"reasons":"x"}`))
	require.Equal(t, http.StatusNotFound, r.Status)

	// An upload whose name is an attack keeps a cleaned, harmless name.
	c2 := e.submit(t, application(newIDNumber(t), "610113001", "self_care"), "")
	up := e.upload(t, "/api/v1/applications/"+c2.Ref+"/papers", map[string]string{"X-Access-Code": c2.Code},
		"../../etc/passwd'; DROP TABLE documents;--.png", pngBytes())
	require.Equal(t, http.StatusCreated, up.Status, string(up.Raw))
	require.Equal(t, "passwd'; DROP TABLE documents;--.png", up.str("filename"))

	var tables int
	require.NoError(t, e.db.Pool().QueryRow(context.Background(), `SELECT count(*) FROM pg_tables WHERE tablename IN ('cases', 'documents', 'beds')`).Scan(&tables))
	require.Equal(t, 3, tables, "nothing was dropped")
}

func mustJSONString(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	require.NoError(t, err)
	return strings.Trim(string(b), `"`)
}

func TestE2EAdministratorManagesUsers(t *testing.T) {
	e := setup(t)
	admin := e.login(t, "admin")
	r := e.postJSON(t, "/api/v1/admin/users", admin, map[string]any{"username": "mx.newhire", "display_name": "新同事",
		"password": "a long enough password", "role": "township_official", "jurisdiction": "610113002"})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Raw))
	id := int64(r.Body["id"].(float64))
	h, _ := e.loginWith(t, "mx.newhire", "a long enough password")
	require.Equal(t, http.StatusOK, e.do(t, http.MethodGet, "/api/v1/me", h, nil).Status)

	for _, body := range []map[string]any{
		{"username": "mx.bad", "display_name": "x", "password": "short", "role": "township_official", "jurisdiction": "610113002"},
		{"username": "Bad Name", "display_name": "x", "password": "a long enough password", "role": "township_official", "jurisdiction": "610113002"},
		{"username": "mx.bad", "display_name": "x", "password": "a long enough password", "role": "township_official", "jurisdiction": "610113"},
		{"username": "mx.bad", "display_name": "x", "password": "a long enough password", "role": "institution_staff", "jurisdiction": "610113"},
		{"username": "mx.bad", "display_name": "x", "password": "a long enough password", "role": "god", "jurisdiction": "610113"},
	} {
		r := e.postJSON(t, "/api/v1/admin/users", admin, body)
		require.Equal(t, http.StatusUnprocessableEntity, r.Status, "%v: %s", body, r.Raw)
	}
	require.Equal(t, http.StatusConflict, e.postJSON(t, "/api/v1/admin/users", admin, map[string]any{"username": "mx.newhire",
		"display_name": "x", "password": "a long enough password", "role": "township_official", "jurisdiction": "610113002"}).Status)

	// Disabling revokes the token at once.
	r = e.postJSON(t, fmt.Sprintf("/api/v1/admin/users/%d/disable", id), admin, map[string]any{})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, true, r.Body["disabled"])
	require.Equal(t, http.StatusUnauthorized, e.do(t, http.MethodGet, "/api/v1/me", h, nil).Status)
	require.Equal(t, http.StatusUnauthorized, e.postJSON(t, "/api/v1/auth/login", nil,
		map[string]string{"username": "mx.newhire", "password": "a long enough password"}).Status)
	require.Equal(t, http.StatusOK, e.postJSON(t, fmt.Sprintf("/api/v1/admin/users/%d/enable", id), admin, map[string]any{}).Status)
	h, _ = e.loginWith(t, "mx.newhire", "a long enough password")
	// A password reset and a new role end sessions too.
	require.Equal(t, http.StatusNoContent, e.postJSON(t, fmt.Sprintf("/api/v1/admin/users/%d/password", id), admin,
		map[string]any{"password": "the second long password"}).Status)
	require.Equal(t, http.StatusUnauthorized, e.do(t, http.MethodGet, "/api/v1/me", h, nil).Status)
	h, _ = e.loginWith(t, "mx.newhire", "the second long password")
	r = e.postJSON(t, fmt.Sprintf("/api/v1/admin/users/%d/role", id), admin, map[string]any{"role": "district_reviewer", "jurisdiction": "610113"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, "district_reviewer", r.str("role"))
	require.Equal(t, http.StatusUnauthorized, e.do(t, http.MethodGet, "/api/v1/me", h, nil).Status)
	// An administrator does not lock themself out.
	var adminID int64
	require.NoError(t, e.db.Pool().QueryRow(context.Background(), `SELECT id FROM users WHERE username = 'admin'`).Scan(&adminID))
	require.Equal(t, http.StatusConflict, e.postJSON(t, fmt.Sprintf("/api/v1/admin/users/%d/disable", adminID), admin, map[string]any{}).Status)

	// Every change is in the audit trail, with no password.
	es := e.auditEntries(t, "user", fmt.Sprint(id))
	for _, a := range []string{"user.create", "user.disable", "user.enable", "user.reset_password", "user.assign_role"} {
		en := findAudit(es, a, postgres.OutcomeSuccess)
		require.NotNil(t, en, a)
		require.Equal(t, "admin", en.Actor.Username)
	}
	for _, en := range es {
		require.NotContains(t, string(mustJSON(t, en)), "long enough password")
		require.NotContains(t, string(mustJSON(t, en)), "second long password")
	}
}
