package main

// End-to-end tests: a private PostgreSQL cluster and a Temporal dev server
// (both real, started here), the verification stand-in, worker and API in
// this process, driven over HTTP as applicants and officials would.

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"civicflow"
	"civicflow/demo"
	"civicflow/devenv"
	"civicflow/postgres"
	"civicflow/verification"
	"civicflow/workflows"
)

const testPassword = "e2e-password"

// e2eSystem is the running system shared by the end-to-end tests.
type e2eSystem struct {
	cfg         config
	db          *postgres.DB
	tc          client.Client
	api         *httptest.Server
	verifierURL string

	mu      sync.Mutex
	worker  sdkworker.Worker
	cluster *cluster // set by make cluster-test: workers are processes
}

var sys *e2eSystem

// idSeq makes distinct, valid ID numbers for the tests' applicants.
var idSeq atomic.Int64

func TestMain(m *testing.M) {
	if cmd := os.Getenv(execEnv); cmd != "" {
		os.Exit(execMain(cmd)) // this test binary stands in for bin/civicflow
	}
	flag.Parse()
	if os.Getenv("CIVICFLOW_CLUSTER_TEST") != "" {
		os.Exit(runCluster(m)) // make cluster-test: see cluster_test.go
	}
	os.Exit(runE2E(m))
}

func runE2E(m *testing.M) int {
	if _, err := devenv.FindTemporalBinary(); err != nil {
		if os.Getenv("CIVICFLOW_REQUIRE_SERVICES") != "" {
			fmt.Fprintln(os.Stderr, "e2e: temporal binary required:", err)
			return 1
		}
		fmt.Fprintln(os.Stderr, "e2e: skipping end-to-end tests:", err)
		return m.Run() // tests skip themselves when sys is nil
	}
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "civicflow-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	pg, err := devenv.StartPostgres(ctx, devenv.PostgresOptions{DataDir: filepath.Join(dir, "pg")})
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: start postgres:", err)
		return 1
	}
	defer pg.Stop()
	tmp, err := devenv.StartTemporal(ctx, devenv.TemporalOptions{Headless: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: start temporal:", err)
		return 1
	}
	defer tmp.Stop()

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	cfg := config{DatabaseURL: pg.URL(), TemporalAddress: tmp.Address(), TemporalNamespace: tmp.Namespace(),
		TaskQueue: "civicflow-e2e", NoticePeriod: 2 * time.Second,
		DataKeys: "k1:" + e2eDataKey, LookupKey: e2eLookupKey, TrustedProxies: "127.0.0.1", // tests set X-Forwarded-For
		StuckScanInterval: time.Second, StuckPollerSilence: 3 * time.Second} // stuck-case scan: every second, all open cases
	db, err := postgres.Open(ctx, cfg.DatabaseURL, cfg.withKeys())
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: open db:", err)
		return 1
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: migrate:", err)
		return 1
	}
	if _, err := demo.Seed(ctx, db, testPassword); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: seed:", err)
		return 1
	}
	if _, err := temporalSetup(ctx, cfg, log); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: temporal setup:", err)
		return 1
	}
	tc, err := dialTemporal(ctx, cfg, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: dial temporal:", err)
		return 1
	}
	defer tc.Close()
	vs, err := verification.NewDevServer()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	verifier := httptest.NewServer(vs)
	defer verifier.Close()
	apiSrv := httptest.NewServer(newAPI(cfg, tc, db, log).Handler())
	defer apiSrv.Close()
	defer startStuckScan(ctx, cfg, tc, db, log)()
	sys = &e2eSystem{cfg: cfg, db: db, tc: tc, api: apiSrv, verifierURL: verifier.URL}
	if err := sys.startWorker(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: start worker:", err)
		return 1
	}
	defer sys.stopWorker()
	return m.Run()
}

func (e *e2eSystem) startWorker() error {
	if e.cluster != nil {
		return e.cluster.startWorkers()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.worker = newWorker(e.cfg, e.tc, e.db, e.verifierURL)
	return e.worker.Start()
}

func (e *e2eSystem) stopWorker() {
	if e.cluster != nil {
		e.cluster.stopWorkers()
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.worker != nil {
		e.worker.Stop()
		e.worker = nil
	}
}

func setup(t *testing.T) *e2eSystem {
	t.Helper()
	if sys == nil {
		t.Skip("end-to-end services are not available (build bin/temporal: make deps)")
	}
	return sys
}

// newIDNumber returns a valid ID number of a person born in 1940 + n, in
// Yanta district, unknown to the verification stand-in unless seeded.
func newIDNumber(t *testing.T) string {
	n := idSeq.Add(1)
	first17 := fmt.Sprintf("610113%04d0101%03d", 1930+n%20, n%1000)
	return first17 + string(civicflow.IDCheckChar(first17))
}

// response is a decoded JSON answer.
type response struct {
	Status int
	Body   map[string]any
	Raw    []byte
}

func (r response) str(key string) string { s, _ := r.Body[key].(string); return s }

func (r response) errCode() string {
	e, _ := r.Body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

// testClientIP derives a stable documentation-range address (RFC 5737)
// from the top-level test's name.
func testClientIP(t *testing.T) string {
	name, _, _ := strings.Cut(t.Name(), "/")
	h := fnv.New32a()
	h.Write([]byte(name))
	sum := h.Sum32()
	return fmt.Sprintf("198.51.%d.%d", sum>>8%256, sum%254+1)
}

func (e *e2eSystem) do(t *testing.T, method, path string, headers map[string]string, body io.Reader) response {
	t.Helper()
	return doAt(t, e.api.URL, method, path, headers, body)
}

// doAt sends a request to the API at base (the suite's, or one a test
// starts with other settings).
func doAt(t *testing.T, base, method, path string, headers map[string]string, body io.Reader) response {
	t.Helper()
	var sent []byte
	if body != nil {
		var err error
		sent, err = io.ReadAll(body)
		require.NoError(t, err)
		body = bytes.NewReader(sent)
	}
	req, err := http.NewRequest(method, base+path, body)
	require.NoError(t, err)
	// Each test speaks from its own client address (the API trusts
	// X-Forwarded-For from loopback here), so per-address throttles that
	// one test fills up never refuse another test's requests.
	req.Header.Set("X-Forwarded-For", testClientIP(t))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	checkContract(t, req, sent, resp, raw)
	r := response{Status: resp.StatusCode, Raw: raw}
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		require.NoError(t, json.Unmarshal(raw, &r.Body), "body: %s", raw)
	}
	return r
}

func (e *e2eSystem) postJSON(t *testing.T, path string, headers map[string]string, v any) response {
	t.Helper()
	return postJSONAt(t, e.api.URL, path, headers, v)
}

// postJSONAt posts v as JSON to the API at base.
func postJSONAt(t *testing.T, base, path string, headers map[string]string, v any) response {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	h := map[string]string{"Content-Type": "application/json"}
	for k, v := range headers {
		h[k] = v
	}
	return doAt(t, base, http.MethodPost, path, h, bytes.NewReader(b))
}

func (e *e2eSystem) login(t *testing.T, username string) map[string]string {
	t.Helper()
	r := e.postJSON(t, "/api/v1/auth/login", nil, map[string]string{"username": username, "password": testPassword})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	return map[string]string{"Authorization": "Bearer " + r.str("token")}
}

func application(idNumber, township, selfCare string) map[string]any {
	return map[string]any{
		"person": map[string]any{"name": "买买提·艾力", "id_number": idNumber, "phone": "13800001234",
			"hukou_township_code": township, "address": "小寨东路12号", "self_care": selfCare},
		"applicant": map[string]any{"relation": "relative", "name": "𠀀明", "phone": "13912345678"},
		"statement": "独居，无劳动能力",
	}
}

type submitted struct {
	Ref, Code string
	ID        int64
}

func (e *e2eSystem) submit(t *testing.T, app map[string]any, key string) submitted {
	t.Helper()
	h := map[string]string{}
	if key != "" {
		h["Idempotency-Key"] = key
	}
	r := e.postJSON(t, "/api/v1/applications", h, app)
	require.Contains(t, []int{http.StatusCreated, http.StatusOK}, r.Status, string(r.Raw))
	c := submitted{Ref: r.str("reference"), Code: r.str("access_code"), ID: int64(r.Body["case_id"].(float64))}
	// The API answers once the case is stored and its workflow started,
	// with stage "submitted" (docs/api.md); the workflow records intake
	// moments later, or later when workers are busy or restarting (the
	// cluster test restarts one every few seconds). A replayed request may
	// answer a later stage.
	require.Contains(t, []string{"intake", "submitted"}, r.str("stage"))
	if r.str("stage") == "submitted" {
		e.waitStage(t, c.ID, civicflow.StageIntake, 60*time.Second)
	}
	return c
}

func (e *e2eSystem) act(t *testing.T, who map[string]string, ref, action string, body any) response {
	t.Helper()
	return e.postJSON(t, "/api/v1/cases/"+ref+"/actions/"+action, who, body)
}

func (e *e2eSystem) mustAct(t *testing.T, who map[string]string, ref, action string, body any, wantStage string, orLater ...string) response {
	t.Helper()
	r := e.act(t, who, ref, action, body)
	require.Equal(t, http.StatusOK, r.Status, "%s: %s", action, r.Raw)
	require.Contains(t, append([]string{wantStage}, orLater...), r.str("stage"), "%s", action)
	return r
}

// visited records the home visit. The answer shows investigation, or
// public_notice when the household check had already answered and the
// workflow opened the notice before the read model was read back.
func (e *e2eSystem) visited(t *testing.T, who map[string]string, ref string, body any) {
	t.Helper()
	e.mustAct(t, who, ref, "record_investigation", body, "investigation", "public_notice", "district_review")
}

// waitStage polls the read model until the case reaches stage.
func (e *e2eSystem) waitStage(t *testing.T, caseID int64, stage civicflow.Stage, within time.Duration) *civicflow.Case {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		cs, err := e.db.Case(context.Background(), caseID)
		require.NoError(t, err)
		if cs.Stage == stage {
			return cs
		}
		if time.Now().After(deadline) {
			t.Fatalf("case %d: stage %s after %s, want %s", caseID, cs.Stage, within, stage)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// historyLength counts the events of a case's workflow history once the
// workflow is at rest: no activity and no workflow task pending. A case
// that just entered a stage is still running its stage clock and starting
// timers; counting then would make "nothing changed" checks flaky.
func (e *e2eSystem) historyLength(t *testing.T, caseID int64) int {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		desc, err := e.tc.DescribeWorkflow(context.Background(), civicflow.CaseWorkflowID(caseID), "")
		require.NoError(t, err)
		d := desc.RawResponse
		if len(d.GetPendingActivities()) == 0 && d.GetPendingWorkflowTask() == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("case %d: workflow still busy after 15s (%d pending activities)", caseID, len(d.GetPendingActivities()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	it := e.tc.GetWorkflowHistory(context.Background(), civicflow.CaseWorkflowID(caseID), "", false, 0)
	n := 0
	for it.HasNext() {
		_, err := it.Next()
		require.NoError(t, err)
		n++
	}
	return n
}

func (e *e2eSystem) eventCount(t *testing.T, caseID int64) int {
	t.Helper()
	evs, err := e.db.Events(context.Background(), caseID)
	require.NoError(t, err)
	return len(evs)
}

func visitBody(opinion string) map[string]any {
	return map[string]any{"home_visit": map[string]any{"visited_on": "2026-01-15", "visitors": []string{"王芳"},
		"findings": "独居卧床，无人照料", "care_level": "dependent", "opinion": opinion}}
}

// toReview drives a fresh case from submission to district review.
func (e *e2eSystem) toReview(t *testing.T, ts map[string]string, selfCare string) submitted {
	t.Helper()
	c := e.submit(t, application(newIDNumber(t), "610113001", selfCare), "")
	e.mustAct(t, ts, c.Ref, "accept", map[string]any{}, "investigation")
	body := visitBody("eligible")
	body["home_visit"].(map[string]any)["care_level"] = selfCare
	e.visited(t, ts, c.Ref, body)
	e.waitStage(t, c.ID, civicflow.StageDistrictReview, 30*time.Second)
	return c
}

func pngBytes() []byte {
	// An 8-byte PNG signature and an IHDR chunk are enough for detection.
	return append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), bytes.Repeat([]byte{0}, 64)...)
}

func (e *e2eSystem) upload(t *testing.T, path string, headers map[string]string, name string, content []byte) response {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("file", name)
	require.NoError(t, err)
	_, err = fw.Write(content)
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	h := map[string]string{"Content-Type": mw.FormDataContentType()}
	for k, v := range headers {
		h[k] = v
	}
	return e.do(t, http.MethodPost, path, h, &buf)
}

func TestE2ECaseFromApplicationToAdmission(t *testing.T) {
	e := setup(t)
	ts, other, dr, st, stOther := e.login(t, "ts.xiaozhai"), e.login(t, "ts.dayanta"), e.login(t, "dr.yanta"), e.login(t, "st.yanta"), e.login(t, "st.xincheng")
	app := application("610113194503121015", "610113001", "dependent")

	c := e.submit(t, app, "e2e-full-1")
	again := e.submit(t, app, "e2e-full-1")
	require.Equal(t, c, again, "the same Idempotency-Key returns the same case")
	require.Equal(t, 1, e.caseCount(t, "610113194503121015"))
	changed := app
	changed["statement"] = "different"
	r := e.postJSON(t, "/api/v1/applications", map[string]string{"Idempotency-Key": "e2e-full-1"}, changed)
	require.Equal(t, http.StatusConflict, r.Status)

	// Wrong township, wrong role, wrong stage: 403/403/409 and nothing written.
	events, hist := e.eventCount(t, c.ID), e.historyLength(t, c.ID)
	require.Equal(t, http.StatusForbidden, e.act(t, other, c.Ref, "accept", map[string]any{}).Status)
	require.Equal(t, http.StatusForbidden, e.act(t, dr, c.Ref, "accept", map[string]any{}).Status)
	r = e.act(t, dr, c.Ref, "approve", map[string]any{})
	require.Equal(t, http.StatusConflict, r.Status)
	require.Contains(t, string(r.Raw), "intake")
	r = e.act(t, ts, c.Ref, "request_supplements", map[string]any{"items": []string{}})
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Raw))
	require.Contains(t, string(r.Raw), `"field":"items"`)
	// The workflow's own validator refuses a forged actor without history.
	h, err := e.tc.UpdateWorkflow(context.Background(), client.UpdateWorkflowOptions{
		WorkflowID: civicflow.CaseWorkflowID(c.ID), UpdateName: "accept", WaitForStage: client.WorkflowUpdateStageCompleted,
		Args: []any{workflows.ActionRequest{Actor: civicflow.Actor{Role: civicflow.RoleTownshipOfficial, Jurisdiction: "610102001"}}},
	})
	if err == nil {
		err = h.Get(context.Background(), nil)
	}
	require.ErrorContains(t, err, "outside your jurisdiction")
	require.Equal(t, events, e.eventCount(t, c.ID))
	require.Equal(t, hist, e.historyLength(t, c.ID), "rejected updates leave no history")

	// Supplements: the whole list at once; the applicant uploads and hands in.
	e.mustAct(t, ts, c.Ref, "request_supplements", map[string]any{"items": []string{"户口簿复印件", "收入证明"}}, "awaiting_supplements")
	code := map[string]string{"X-Access-Code": strings.ToLower(c.Code)}
	view := e.do(t, http.MethodGet, "/api/v1/applications/"+c.Ref, code, nil)
	require.Equal(t, http.StatusOK, view.Status)
	require.Equal(t, []any{"户口簿复印件", "收入证明"}, view.Body["waiting_for"])
	require.Equal(t, "6101**********1015", view.str("id_number_masked"))
	require.Equal(t, http.StatusUnauthorized, e.do(t, http.MethodGet, "/api/v1/applications/"+c.Ref, map[string]string{"X-Access-Code": "WRONG"}, nil).Status)
	up := e.upload(t, "/api/v1/applications/"+c.Ref+"/papers", code, "户口簿.png", pngBytes())
	require.Equal(t, http.StatusCreated, up.Status, string(up.Raw))
	require.Equal(t, "image/png", up.str("content_type"))
	bad := e.upload(t, "/api/v1/applications/"+c.Ref+"/papers", code, "evil.pdf", []byte("MZ\x90\x00 this is not a pdf"))
	require.Equal(t, http.StatusUnprocessableEntity, bad.Status, string(bad.Raw))
	huge := e.upload(t, "/api/v1/applications/"+c.Ref+"/papers", code, "big.pdf", append([]byte("%PDF-1.4\n"), make([]byte, civicflow.MaxDocumentSize)...))
	require.Equal(t, http.StatusRequestEntityTooLarge, huge.Status, string(huge.Raw))
	docID := up.Body["id"].(float64)
	r = e.postJSON(t, "/api/v1/applications/"+c.Ref+"/supplements", code, map[string]any{"document_ids": []float64{docID + 1000}})
	require.Equal(t, http.StatusUnprocessableEntity, r.Status)
	r = e.postJSON(t, "/api/v1/applications/"+c.Ref+"/supplements", code, map[string]any{"document_ids": []float64{docID}})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, "intake", r.str("stage"))
	// 一次性告知: the papers are handed in; the township may not ask again.
	r = e.act(t, ts, c.Ref, "request_supplements", map[string]any{"items": []string{"结婚证"}})
	require.Equal(t, http.StatusConflict, r.Status, string(r.Raw))
	require.Contains(t, string(r.Raw), "一次性告知")
	asked := e.do(t, http.MethodGet, "/api/v1/cases/"+c.Ref, ts, nil)
	require.NotContains(t, asked.Body["allowed_actions"], "request_supplements", "not offered again")
	require.Contains(t, asked.Body["allowed_actions"], "accept")

	e.mustAct(t, ts, c.Ref, "accept", map[string]any{}, "investigation")
	e.visited(t, ts, c.Ref, visitBody("eligible"))
	e.waitStage(t, c.ID, civicflow.StagePublicNotice, 30*time.Second)
	e.waitStage(t, c.ID, civicflow.StageDistrictReview, 30*time.Second)
	checks, err := e.db.CheckResults(context.Background(), c.ID)
	require.NoError(t, err)
	require.Len(t, checks, 1)
	require.True(t, checks[0].Found && checks[0].Eligible, "the seeded household is eligible")

	require.Equal(t, http.StatusUnprocessableEntity, e.act(t, dr, c.Ref, "reject", map[string]any{"reasons": " "}).Status)
	// The answer reads the read model: a fast worker may already have
	// allocated the bed (seen in the cluster test).
	e.mustAct(t, dr, c.Ref, "approve", map[string]any{}, "placement", "awaiting_admission")
	cs := e.waitStage(t, c.ID, civicflow.StageAwaitingAdmission, 30*time.Second)
	require.NotZero(t, cs.AllocationID)
	require.Equal(t, http.StatusForbidden, e.act(t, stOther, c.Ref, "confirm_admission", map[string]any{}).Status)
	done := e.mustAct(t, st, c.Ref, "confirm_admission", map[string]any{}, "completed")
	require.NotNil(t, done.Body["support_start"])
	require.Equal(t, http.StatusConflict, e.postJSON(t, "/api/v1/applications/"+c.Ref+"/withdraw", code, map[string]any{}).Status)

	// The timeline holds every step once, in order.
	detail := e.do(t, http.MethodGet, "/api/v1/cases/"+c.Ref, ts, nil)
	require.Equal(t, http.StatusOK, detail.Status)
	var actions []string
	for _, ev := range detail.Body["timeline"].([]any) {
		if a := ev.(map[string]any)["action"].(string); a != string(civicflow.StepNoticeNotSent) { // notices: notifications_test.go
			actions = append(actions, a)
		}
	}
	// The household check and the home visit run side by side: either may come first.
	if len(actions) > 5 && actions[4] == "record_investigation" {
		actions[4], actions[5] = actions[5], actions[4]
	}
	require.Equal(t, []string{"submitted", "request_supplements", "provide_supplements", "accept", "economic_check_completed",
		"record_investigation", "public_notice_started", "public_notice_ended", "approve", "bed_allocated", "confirm_admission"}, actions)

	// Search attributes make the case findable in Temporal by case type and
	// district; its stage is the read model's (stage attributes are off by
	// default: TestE2EStageSearchAttributes).
	require.Eventually(t, func() bool {
		resp, err := e.tc.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("CivicflowCaseType = 'centralised_care' AND CivicflowDistrict = '610113' AND WorkflowId = '%s'", civicflow.CaseWorkflowID(c.ID))})
		return err == nil && len(resp.GetExecutions()) == 1
	}, 20*time.Second, 200*time.Millisecond)
	d, err := e.tc.DescribeWorkflow(context.Background(), civicflow.CaseWorkflowID(c.ID), "")
	require.NoError(t, err)
	require.NotContains(t, d.RawResponse.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields(), workflows.AttrStage.GetName())
	saveHistory(t, e, civicflow.CaseWorkflowID(c.ID), "centralised_care_admitted")
}

func TestE2EOfficialsSeeOnlyTheirJurisdiction(t *testing.T) {
	e := setup(t)
	ts, other, xincheng, sv, svCity := e.login(t, "ts.xiaozhai"), e.login(t, "ts.dayanta"), e.login(t, "dr.xincheng"), e.login(t, "sv.yanta"), e.login(t, "sv.city")
	c := e.submit(t, application(newIDNumber(t), "610113001", "self_care"), "")
	list := func(who map[string]string, q string) []string {
		r := e.do(t, http.MethodGet, "/api/v1/cases?limit=500"+q, who, nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
		var refs []string
		for _, it := range r.Body["cases"].([]any) {
			refs = append(refs, it.(map[string]any)["reference"].(string))
		}
		return refs
	}
	require.Contains(t, list(ts, ""), c.Ref)
	require.Contains(t, list(ts, "&stage=intake"), c.Ref)
	require.NotContains(t, list(ts, "&stage=rejected"), c.Ref)
	require.NotContains(t, list(other, ""), c.Ref)
	require.NotContains(t, list(xincheng, ""), c.Ref)
	require.Contains(t, list(sv, "&township=610113001"), c.Ref)
	require.Contains(t, list(svCity, "&district=610113"), c.Ref)
	require.Equal(t, http.StatusForbidden, e.do(t, http.MethodGet, "/api/v1/cases?district=610102", ts, nil).Status)
	require.Equal(t, http.StatusForbidden, e.do(t, http.MethodGet, "/api/v1/cases/"+c.Ref, other, nil).Status)
	require.Equal(t, http.StatusForbidden, e.do(t, http.MethodGet, "/api/v1/cases/"+c.Ref, xincheng, nil).Status)
	require.Equal(t, http.StatusOK, e.do(t, http.MethodGet, "/api/v1/cases/"+c.Ref, sv, nil).Status)
	require.Equal(t, http.StatusNotFound, e.do(t, http.MethodGet, "/api/v1/cases/TK-610113-999999", ts, nil).Status)
	require.Equal(t, http.StatusUnauthorized, e.do(t, http.MethodGet, "/api/v1/cases", map[string]string{"Authorization": "Bearer nope"}, nil).Status)
	// A supervisor reads but decides nothing.
	require.Equal(t, http.StatusForbidden, e.act(t, sv, c.Ref, "accept", map[string]any{}).Status)
}

func TestE2ERejectionsAndWithdrawal(t *testing.T) {
	e := setup(t)
	ts, dr := e.login(t, "ts.xiaozhai"), e.login(t, "dr.yanta")

	a := e.submit(t, application(newIDNumber(t), "610113001", "self_care"), "")
	r := e.act(t, ts, a.Ref, "reject", map[string]any{})
	require.Equal(t, http.StatusUnprocessableEntity, r.Status)
	e.mustAct(t, ts, a.Ref, "reject", map[string]any{"reasons": "户籍不在本街道"}, "rejected")
	require.Equal(t, http.StatusConflict, e.act(t, ts, a.Ref, "accept", map[string]any{}).Status)

	b := e.submit(t, application(newIDNumber(t), "610113001", "self_care"), "")
	e.mustAct(t, ts, b.Ref, "accept", map[string]any{}, "investigation")
	r = e.postJSON(t, "/api/v1/applications/"+b.Ref+"/withdraw", map[string]string{"X-Access-Code": b.Code}, map[string]any{"reasons": "已由女儿照料"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, "withdrawn", r.str("stage"))
	require.Equal(t, http.StatusConflict, e.act(t, ts, b.Ref, "record_investigation", visitBody("eligible")).Status)
	// The same withdrawal sent again is refused and records nothing.
	events := e.eventCount(t, b.ID)
	r = e.postJSON(t, "/api/v1/applications/"+b.Ref+"/withdraw", map[string]string{"X-Access-Code": b.Code}, map[string]any{"reasons": "已由女儿照料"})
	require.Equal(t, http.StatusConflict, r.Status, string(r.Raw))
	require.Equal(t, events, e.eventCount(t, b.ID))

	// Objection during notice, then return by the district, then refusal.
	c := e.toReview(t, ts, "self_care")
	e.mustAct(t, dr, c.Ref, "return", map[string]any{"reasons": "缺少收入证明"}, "investigation")
	e.visited(t, ts, c.Ref, visitBody("eligible"))
	e.waitStage(t, c.ID, civicflow.StagePublicNotice, 30*time.Second)
	r = e.act(t, ts, c.Ref, "lodge_objection", map[string]any{"reasons": "邻居反映其子有赡养能力", "objector": "村民"})
	if r.Status == http.StatusOK {
		require.Equal(t, "investigation", r.str("stage"))
		e.visited(t, ts, c.Ref, visitBody("eligible"))
	} else {
		// The 2-second notice may end before the objection arrives.
		require.Equal(t, http.StatusConflict, r.Status, string(r.Raw))
	}
	e.waitStage(t, c.ID, civicflow.StageDistrictReview, 30*time.Second)
	e.mustAct(t, dr, c.Ref, "reject", map[string]any{"reasons": "有法定赡养人且具备赡养能力"}, "rejected")
	// A new application for the same person is possible after a refusal.
	cs, err := e.db.Case(context.Background(), c.ID)
	require.NoError(t, err)
	require.Equal(t, civicflow.StageRejected, cs.Stage)
	saveHistory(t, e, civicflow.CaseWorkflowID(c.ID), "centralised_care_returned_rejected")
	saveHistory(t, e, civicflow.CaseWorkflowID(b.ID), "centralised_care_withdrawn")
}

func TestE2EWaitlistAndDeparture(t *testing.T) {
	e := setup(t)
	ts, dr, st := e.login(t, "ts.xiaozhai"), e.login(t, "dr.yanta"), e.login(t, "st.yanta")
	ctx := context.Background()
	is, err := e.db.Institutions(ctx, "")
	require.NoError(t, err)
	free := 0
	for _, in := range is {
		free += in.FreeBeds[civicflow.CareSemiDependent]
	}
	require.Positive(t, free)
	// One case more than there are free semi-dependent beds, approved at once.
	cases := make([]submitted, free+1)
	var wg sync.WaitGroup
	for i := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cases[i] = e.toReview(t, ts, "semi_dependent")
		}()
	}
	wg.Wait()
	for i := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.mustAct(t, dr, cases[i].Ref, "approve", map[string]any{}, "placement", "waitlisted", "awaiting_admission")
		}()
	}
	wg.Wait()
	var waiting []submitted
	var placed []*civicflow.Case
	require.Eventually(t, func() bool {
		waiting, placed = nil, nil
		for _, c := range cases {
			cs, err := e.db.Case(ctx, c.ID)
			require.NoError(t, err)
			switch cs.Stage {
			case civicflow.StageWaitlisted:
				waiting = append(waiting, c)
			case civicflow.StageAwaitingAdmission:
				placed = append(placed, cs)
			}
		}
		return len(waiting)+len(placed) == len(cases)
	}, 30*time.Second, 100*time.Millisecond)
	require.Len(t, waiting, 1)
	var dup int
	require.NoError(t, e.db.Pool().QueryRow(ctx, `SELECT count(*) FROM (SELECT bed_id FROM bed_allocations
		WHERE released_at IS NULL GROUP BY bed_id HAVING count(*) > 1) d`).Scan(&dup))
	require.Zero(t, dup, "no bed is allocated twice")

	// A resident of 雁塔区社会福利院 is admitted, then leaves: the bed goes to the waiting case.
	var mine *civicflow.Case
	for _, cs := range placed {
		al, err := e.db.Allocation(ctx, cs.AllocationID)
		require.NoError(t, err)
		if al.Institution == "雁塔区社会福利院" {
			mine = cs
			break
		}
	}
	require.NotNil(t, mine, "the district's own institution is preferred")
	r := e.postJSON(t, fmt.Sprintf("/api/v1/allocations/%d/departure", mine.AllocationID), st, map[string]any{"reasons": "转往子女所在城市"})
	require.Equal(t, http.StatusConflict, r.Status, "not admitted yet: %s", r.Raw)
	e.mustAct(t, st, mine.Reference, "confirm_admission", map[string]any{}, "completed")
	r = e.postJSON(t, fmt.Sprintf("/api/v1/allocations/%d/departure", mine.AllocationID), e.login(t, "st.xincheng"), map[string]any{"reasons": "x"})
	require.Equal(t, http.StatusForbidden, r.Status)
	r = e.postJSON(t, fmt.Sprintf("/api/v1/allocations/%d/departure", mine.AllocationID), st, map[string]any{"reasons": "转往子女所在城市"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, waiting[0].Ref, r.str("bed_offered_to"))
	e.waitStage(t, mine.ID, civicflow.StageDeparted, 10*time.Second)
	next := e.waitStage(t, waiting[0].ID, civicflow.StageAwaitingAdmission, 30*time.Second)
	al, err := e.db.Allocation(ctx, next.AllocationID)
	require.NoError(t, err)
	old, err := e.db.Allocation(ctx, mine.AllocationID)
	require.NoError(t, err)
	require.Equal(t, old.BedID, al.BedID, "the freed bed went to the first waiting case")
	r = e.postJSON(t, fmt.Sprintf("/api/v1/allocations/%d/departure", mine.AllocationID), st, map[string]any{"reasons": "again"})
	require.Equal(t, http.StatusConflict, r.Status)
	saveHistory(t, e, civicflow.CaseWorkflowID(waiting[0].ID), "centralised_care_waitlisted_placed")
	saveHistory(t, e, civicflow.DepartureWorkflowID(mine.AllocationID), "departure_bed_offered")
}

func TestE2EWorkerRestartLosesNothing(t *testing.T) {
	e := setup(t)
	ts, dr := e.login(t, "ts.xiaozhai"), e.login(t, "dr.yanta")
	c := e.submit(t, application(newIDNumber(t), "610113001", "dependent"), "")
	e.mustAct(t, ts, c.Ref, "accept", map[string]any{}, "investigation")
	e.visited(t, ts, c.Ref, visitBody("eligible"))
	e.waitStage(t, c.ID, civicflow.StagePublicNotice, 30*time.Second)
	// The worker goes away while the notice timer runs; the timer fires in
	// the server, and the case moves on once a worker is back.
	e.stopWorker()
	time.Sleep(3 * time.Second)
	cs, err := e.db.Case(context.Background(), c.ID)
	require.NoError(t, err)
	require.Equal(t, civicflow.StagePublicNotice, cs.Stage, "nothing moves without a worker")
	require.NoError(t, e.startWorker())
	e.waitStage(t, c.ID, civicflow.StageDistrictReview, 30*time.Second)
	e.mustAct(t, dr, c.Ref, "approve", map[string]any{}, "placement", "awaiting_admission")
	e.waitStage(t, c.ID, civicflow.StageAwaitingAdmission, 30*time.Second)
	evs, err := e.db.Events(context.Background(), c.ID)
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, ev := range evs {
		key := ev.Key
		require.False(t, seen[key], "event %s recorded twice", key)
		seen[key] = true
	}
}

func TestE2EBadInput(t *testing.T) {
	e := setup(t)
	ts := e.login(t, "ts.xiaozhai")
	valid := application(newIDNumber(t), "610113001", "self_care")
	cases := []struct {
		name   string
		ctype  string
		body   string
		status int
		field  string
	}{
		{"wrong content type", "text/plain", `{}`, http.StatusUnsupportedMediaType, ""},
		{"malformed", "application/json", `{"person":`, http.StatusBadRequest, ""},
		{"not an object", "application/json", `[1,2]`, http.StatusBadRequest, ""},
		{"trailing data", "application/json", `{} {}`, http.StatusBadRequest, ""},
		{"invalid utf-8", "application/json", "{\"statement\":\"\xff\xfe\"}", http.StatusBadRequest, ""},
		{"unknown field", "application/json", `{"person":{},"applicant":{},"admin":true}`, http.StatusUnprocessableEntity, "admin"},
		{"wrong type", "application/json", `{"person":{"name":12}}`, http.StatusUnprocessableEntity, "person.name"},
		{"empty", "application/json", ``, http.StatusBadRequest, ""},
	}
	for _, tc := range cases {
		r := e.do(t, http.MethodPost, "/api/v1/applications", map[string]string{"Content-Type": tc.ctype}, strings.NewReader(tc.body))
		require.Equal(t, tc.status, r.Status, "%s: %s", tc.name, r.Raw)
		require.NotEmpty(t, r.errCode(), tc.name)
		if tc.field != "" {
			require.Contains(t, string(r.Raw), `"field":"`+tc.field+`"`, tc.name)
		}
	}
	huge := `{"statement":"` + strings.Repeat("长", 1<<20) + `"}`
	require.Equal(t, http.StatusRequestEntityTooLarge, e.do(t, http.MethodPost, "/api/v1/applications",
		map[string]string{"Content-Type": "application/json"}, strings.NewReader(huge)).Status)

	fieldErr := func(mutate func(p, a map[string]any), field, reasonPart string) {
		t.Helper()
		app := map[string]any{}
		b, _ := json.Marshal(valid)
		require.NoError(t, json.Unmarshal(b, &app))
		mutate(app["person"].(map[string]any), app["applicant"].(map[string]any))
		r := e.postJSON(t, "/api/v1/applications", nil, app)
		require.Equal(t, http.StatusUnprocessableEntity, r.Status, "%s: %s", field, r.Raw)
		require.Contains(t, string(r.Raw), `"field":"`+field+`"`)
		require.Contains(t, string(r.Raw), reasonPart)
	}
	fieldErr(func(p, a map[string]any) { p["id_number"] = "610113194503121016" }, "person.id_number", "check character")
	fieldErr(func(p, a map[string]any) { p["id_number"] = "610113450312101" }, "person.id_number", "15-digit")
	fieldErr(func(p, a map[string]any) { p["id_number"] = "61011319450230101X" }, "person.id_number", "not a real date")
	fieldErr(func(p, a map[string]any) { p["phone"] = "1380000123" }, "person.phone", "11-digit")
	fieldErr(func(p, a map[string]any) { p["name"] = "张3" }, "person.name", "letters")
	fieldErr(func(p, a map[string]any) { p["hukou_township_code"] = "110105001" }, "person.hukou_township_code", "Xi'an")
	fieldErr(func(p, a map[string]any) { p["self_care"] = "fine" }, "person.self_care", "one of")
	fieldErr(func(p, a map[string]any) { a["relation"] = "friend" }, "applicant.relation", "one of")
	fieldErr(func(p, a map[string]any) {
		p["id_number"] = "61011319900101123" + string(civicflow.IDCheckChar("61011319900101123")) // 36, no disability
	}, "person.disability", "aged 60")
	fieldErr(func(p, a map[string]any) { p["disability"] = map[string]any{"kind": "physical", "grade": 99} }, "person.disability.grade", "at most 4")

	// Nothing above created a case.
	require.Zero(t, e.caseCount(t, valid["person"].(map[string]any)["id_number"].(string)))

	// A lower-case x is accepted and stored upper-case.
	first17 := "61011319460606100"
	check := civicflow.IDCheckChar(first17)
	if check == 'X' {
		app := application(strings.ToLower(first17+"X"), "610113001", "self_care")
		c := e.submit(t, app, "")
		id, err := e.db.PersonIDNumber(context.Background(), c.ID)
		require.NoError(t, err)
		require.Equal(t, first17+"X", id)
	}
	// Actions with bad bodies.
	c := e.submit(t, application(newIDNumber(t), "610113001", "self_care"), "")
	require.Equal(t, http.StatusNotFound, e.act(t, ts, c.Ref, "launch", map[string]any{}).Status)
	r := e.act(t, ts, c.Ref, "accept", map[string]any{"reasons": 5})
	require.Equal(t, http.StatusUnprocessableEntity, r.Status)
	e.mustAct(t, ts, c.Ref, "accept", map[string]any{}, "investigation")
	r = e.act(t, ts, c.Ref, "record_investigation", map[string]any{"home_visit": map[string]any{"visited_on": "2099-01-01",
		"visitors": []string{"王芳"}, "findings": "x", "care_level": "dependent", "opinion": "eligible"}})
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Raw))
	require.Contains(t, string(r.Raw), "home_visit.visited_on")
	r = e.act(t, ts, c.Ref, "record_investigation", map[string]any{"home_visit": map[string]any{"visited_on": "2026-01-01",
		"visitors": []string{"王芳"}, "findings": "x", "care_level": "dependent", "opinion": "ineligible"}})
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Raw))
	require.Contains(t, string(r.Raw), `"field":"reasons"`)
}

func TestE2EHealthAndOpenAPI(t *testing.T) {
	e := setup(t)
	require.Equal(t, http.StatusOK, e.do(t, http.MethodGet, "/healthz", nil, nil).Status)
	r := e.do(t, http.MethodGet, "/readyz", nil, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, true, r.Body["ready"])
	r = e.do(t, http.MethodGet, "/api/v1/openapi.json", nil, nil)
	require.Equal(t, http.StatusOK, r.Status)
	require.Equal(t, "3.0.3", r.str("openapi"))
	r = e.do(t, http.MethodGet, "/api/v1/jurisdictions", nil, nil)
	require.Equal(t, http.StatusOK, r.Status)
	districts := 0
	for _, j := range r.Body["jurisdictions"].([]any) {
		if j.(map[string]any)["level"] == "district" {
			districts++
		}
	}
	require.Equal(t, 13, districts)
	require.Equal(t, http.StatusNotFound, e.do(t, http.MethodGet, "/api/v1/nothing", nil, nil).Status)
}
