package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"civicflow"
	"civicflow/codec"
	"civicflow/demo"
	"civicflow/devenv"
	"civicflow/postgres"
	"civicflow/verification"
	"civicflow/workflows"
)

const password = "chaos-password"

// casesPerPhase cases are driven through the API during each fault.
var casesPerPhase = envInt("CIVICFLOW_CHAOS_CASES", 60)

// fault is one phase of the test: what breaks, and how.
type fault struct {
	name   string
	inject func(t *testing.T, ctx context.Context, s *System)
}

// TestChaos drives cases concurrently through the API while, in turn, the
// worker and the API are killed, Temporal and PostgreSQL are restarted and
// the verification platform fails; after each fault it checks that nothing
// was lost, duplicated or left inconsistent. Clients retry with the same
// Idempotency-Key when a request fails, as docs/api.md asks of them.
func TestChaos(t *testing.T) {
	if os.Getenv("CIVICFLOW_CHAOS") == "" {
		t.Skip("fault tests run with `make chaos` (CIVICFLOW_CHAOS=1)")
	}
	if _, err := devenv.FindTemporalBinary(); err != nil {
		t.Fatalf("the fault test needs the Temporal CLI: %v", err)
	}
	started := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bin := buildBinary(t, dir)

	// Fresh keys sealing personal data at rest, shared by api, worker and
	// the test's own connection.
	dataKey, lookupKey := postgres.NewKey(), postgres.NewKey()
	keys, err := postgres.ParseKeyring("k1:"+dataKey, "k1", lookupKey)
	require.NoError(t, err)
	s, err := Start(ctx, Options{Dir: dir, Binary: bin, Env: []string{
		"CIVICFLOW_DATA_KEYS=k1:" + dataKey, "CIVICFLOW_DATA_KEY_ID=k1", "CIVICFLOW_LOOKUP_KEY=" + lookupKey}})
	require.NoError(t, err)
	defer s.Stop()
	db, err := postgres.Open(ctx, s.DatabaseURL(), postgres.WithKeyring(keys))
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Migrate(ctx)
	require.NoError(t, err)
	_, err = demo.Seed(ctx, db, password)
	require.NoError(t, err)
	phases := faults()
	total := casesPerPhase * len(phases)
	semiBeds := prepareBeds(t, ctx, db, total)

	require.NoError(t, s.StartAPI(ctx))
	require.NoError(t, s.StartWorker(ctx))
	// The test reads the cases' state as the API does: through the payload codec.
	cdc, err := codec.New(keys)
	require.NoError(t, err)
	tc, err := client.Dial(client.Options{HostPort: s.TemporalAddress(), Namespace: s.Temporal.Namespace(),
		Logger: quietLogger{}, DataConverter: codec.DataConverter(cdc)})
	require.NoError(t, err)
	defer tc.Close()
	defer func() {
		if t.Failed() {
			t.Log(s.Logs())
		}
	}()

	api := &apiClient{base: s.APIURL(), http: &http.Client{Timeout: 45 * time.Second}}
	who := map[string]string{}
	for _, u := range []string{"ts.xiaozhai", "dr.yanta", "st.yanta"} {
		who[u] = api.login(t, ctx, u)
	}
	fmt.Printf("chaos: set-up %s (%d cases per fault, %d semi-dependent beds)\n", time.Since(started).Round(time.Millisecond), casesPerPhase, semiBeds)

	var all []*caseRun
	var rows []summaryRow
	for p, ph := range phases {
		phaseStart := time.Now()
		runs := make([]*caseRun, casesPerPhase)
		var wg sync.WaitGroup
		for i := range runs {
			n := p*casesPerPhase + i
			runs[i] = &caseRun{n: n, semi: n%5 == 0}
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Spread the starts so the fault finds cases in every stage.
				time.Sleep(time.Duration(rand.IntN(4000)) * time.Millisecond)
				runs[i].drive(ctx, api, who)
			}()
		}
		time.Sleep(3 * time.Second)
		ph.inject(t, ctx, s)
		wg.Wait()
		all = append(all, runs...)
		row := verify(t, ctx, db, tc, all, semiBeds)
		row.fault, row.phaseCases, row.took = ph.name, len(runs), time.Since(phaseStart)
		for _, r := range runs {
			row.retries += int(r.retries.Load())
			row.fiveHundreds += int(r.internal.Load())
		}
		rows = append(rows, row)
		fmt.Printf("chaos: after %-32s %s\n", ph.name, row.short())
	}
	printSummary(rows, len(all), time.Since(started))
	for _, r := range rows {
		require.Zero(t, r.lost, "%s: lost cases", r.fault)
		require.Zero(t, r.duplicated, "%s: duplicated cases, events, beds or actions", r.fault)
		require.Zero(t, r.mismatched, "%s: read model and workflow disagree", r.fault)
		require.Zero(t, r.wrongStage, "%s: cases not at their expected stage", r.fault)
		require.Zero(t, r.fiveHundreds, "%s: the API answered 500 (a fault must give 503)", r.fault)
	}
	for _, r := range all {
		require.Empty(t, r.failure, "case %d", r.n)
	}
}

func faults() []fault {
	return []fault{
		{"worker killed (SIGKILL), restarted", func(t *testing.T, ctx context.Context, s *System) {
			s.KillWorker()
			time.Sleep(2 * time.Second)
			require.NoError(t, s.StartWorker(ctx))
		}},
		{"api killed (SIGKILL), restarted", func(t *testing.T, ctx context.Context, s *System) {
			s.KillAPI()
			time.Sleep(2 * time.Second)
			require.NoError(t, s.StartAPI(ctx))
		}},
		{"temporal restarted (file store)", func(t *testing.T, ctx context.Context, s *System) {
			require.NoError(t, s.StopTemporal())
			time.Sleep(time.Second)
			require.NoError(t, s.StartTemporal(ctx))
		}},
		{"postgres restarted", func(t *testing.T, ctx context.Context, s *System) {
			require.NoError(t, s.StopPostgres())
			time.Sleep(2 * time.Second)
			require.NoError(t, s.StartPostgres(ctx))
		}},
		{"verifier errors 6s, then timeouts 6s", func(t *testing.T, ctx context.Context, s *System) {
			require.NoError(t, s.SetVerifierFault(verification.Fault{Mode: verification.FaultError, Seconds: 6}))
			time.Sleep(6 * time.Second)
			require.NoError(t, s.SetVerifierFault(verification.Fault{Mode: verification.FaultTimeout, Seconds: 6}))
			time.Sleep(6 * time.Second)
			require.Positive(t, s.Verifier.CurrentFault().Injected, "the fault hit some checks")
		}},
	}
}

// buildBinary builds cmd/civicflow, or uses CIVICFLOW_CHAOS_BIN.
func buildBinary(t *testing.T, dir string) string {
	if b := os.Getenv("CIVICFLOW_CHAOS_BIN"); b != "" {
		return b
	}
	bin := filepath.Join(dir, "civicflow")
	out, err := exec.Command("go", "build", "-o", bin, "civicflow/cmd/civicflow").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// prepareBeds makes 雁塔区社会福利院 the only designated institution (its
// staff login confirms admissions) with a bed of care level self_care for
// every case, and fewer semi-dependent beds than semi-dependent cases, so
// that the wait-list is exercised too. It returns the semi-dependent beds.
func prepareBeds(t *testing.T, ctx context.Context, db *postgres.DB, total int) int {
	semi := total / 10
	_, err := db.Pool().Exec(ctx, `UPDATE institutions SET designated = (name = '雁塔区社会福利院')`)
	require.NoError(t, err)
	_, err = db.Pool().Exec(ctx, `INSERT INTO beds (institution_id, label, care_level)
		SELECT i.id, 'chaos-' || lvl || '-' || g, lvl FROM institutions i,
			(VALUES ('self_care', $1::int), ('semi_dependent', $2::int)) AS want(lvl, n), generate_series(1, want.n) g
		WHERE i.name = '雁塔区社会福利院'`, total, semi)
	require.NoError(t, err)
	var n int
	require.NoError(t, db.Pool().QueryRow(ctx, `SELECT count(*) FROM beds b JOIN institutions i ON i.id = b.institution_id
		WHERE i.designated AND b.care_level = 'semi_dependent'`).Scan(&n))
	return n
}

// caseRun is one case driven through the API by a client that retries.
type caseRun struct {
	n    int
	semi bool

	ref, code string
	id        int64
	acked     []string // actions the API confirmed
	final     string   // last stage the client saw
	failure   string   // what went wrong for the client, if anything

	retries  atomic.Int64
	internal atomic.Int64 // 500 answers
}

func (r *caseRun) key(step string) string { return fmt.Sprintf("chaos-%d-%s", r.n, step) }

func (r *caseRun) careLevel() string {
	if r.semi {
		return "semi_dependent"
	}
	return "self_care"
}

// idNumber is a valid, unique ID number of a person aged over 60.
func idNumber(n int) string {
	birth := time.Date(1940, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n/900)
	first17 := fmt.Sprintf("610113%s%03d", birth.Format("20060102"), n%900+1)
	return first17 + string(civicflow.IDCheckChar(first17))
}

func (r *caseRun) drive(ctx context.Context, api *apiClient, who map[string]string) {
	if err := r.run(ctx, api, who); err != nil {
		r.failure = err.Error()
	}
}

func (r *caseRun) run(ctx context.Context, api *apiClient, who map[string]string) error {
	app := map[string]any{
		"person": map[string]any{"name": "王秀英", "id_number": idNumber(r.n), "phone": "13800001234",
			"hukou_township_code": "610113001", "address": "小寨东路12号", "self_care": r.careLevel()},
		"applicant": map[string]any{"relation": "relative", "name": "王明", "phone": "13912345678"},
		"statement": "独居，无劳动能力",
	}
	res, err := api.retry(ctx, r, http.MethodPost, "/api/v1/applications", nil, r.key("submit"), app)
	if err != nil {
		return err
	}
	if res.status != http.StatusCreated && res.status != http.StatusOK {
		return fmt.Errorf("submit: %d %s", res.status, res.raw)
	}
	r.ref, r.code = res.str("reference"), res.str("access_code")
	r.id = int64(res.body["case_id"].(float64))

	act := func(user, action string, body any) error {
		res, err := api.retry(ctx, r, http.MethodPost, "/api/v1/cases/"+r.ref+"/actions/"+action,
			map[string]string{"Authorization": "Bearer " + who[user]}, r.key(action), body)
		if err != nil {
			return err
		}
		if res.status != http.StatusOK {
			return fmt.Errorf("%s: %d %s", action, res.status, res.raw)
		}
		r.acked = append(r.acked, action)
		r.final = res.str("stage")
		return nil
	}
	// The township sees the case once its workflow has taken it in.
	if _, err := api.waitStage(ctx, r, who["ts.xiaozhai"], "intake"); err != nil {
		return err
	}
	if err := act("ts.xiaozhai", "accept", map[string]any{}); err != nil {
		return err
	}
	visit := map[string]any{"home_visit": map[string]any{"visited_on": "2026-01-15", "visitors": []string{"王芳"},
		"findings": "独居，无人照料", "care_level": r.careLevel(), "opinion": "eligible"}}
	if err := act("ts.xiaozhai", "record_investigation", visit); err != nil {
		return err
	}
	if _, err := api.waitStage(ctx, r, who["ts.xiaozhai"], "district_review"); err != nil {
		return err
	}
	if err := act("dr.yanta", "approve", map[string]any{}); err != nil {
		return err
	}
	stage, err := api.waitStage(ctx, r, who["dr.yanta"], "awaiting_admission", "waitlisted")
	if err != nil {
		return err
	}
	r.final = stage
	if stage == "waitlisted" {
		return nil
	}
	return act("st.yanta", "confirm_admission", map[string]any{})
}

// apiClient talks to the API over HTTP as a careful client would: a
// request that fails in transit or with a 5xx is sent again, unchanged,
// with the same Idempotency-Key.
type apiClient struct {
	base string
	http *http.Client
}

type result struct {
	status int
	body   map[string]any
	raw    []byte
}

func (r result) str(k string) string { s, _ := r.body[k].(string); return s }

func (c *apiClient) once(ctx context.Context, method, path string, headers map[string]string, key string, body any) (result, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return result{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return result{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return result{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return result{}, err
	}
	res := result{status: resp.StatusCode, raw: raw}
	_ = json.Unmarshal(raw, &res.body)
	return res, nil
}

// retry sends the request until it gets an answer that is not a fault:
// anything but a transport error or a 5xx.
func (c *apiClient) retry(ctx context.Context, r *caseRun, method, path string, headers map[string]string, key string, body any) (result, error) {
	deadline := time.Now().Add(5 * time.Minute)
	wait := 200 * time.Millisecond
	for {
		res, err := c.once(ctx, method, path, headers, key, body)
		if err == nil && res.status < 500 {
			return res, nil
		}
		if err == nil && res.status == http.StatusInternalServerError && r != nil {
			// A 500 is a bug, not a fault: count it, and stop retrying
			// soon so that the test fails instead of waiting.
			if r.internal.Add(1) > 3 {
				return res, fmt.Errorf("%s %s: 500 %s", method, path, res.raw)
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return res, fmt.Errorf("%s %s: no answer after retries: %w %d %s", method, path, err, res.status, res.raw)
		}
		if r != nil {
			r.retries.Add(1)
		}
		time.Sleep(wait + time.Duration(rand.IntN(200))*time.Millisecond)
		wait = min(wait*2, 2*time.Second)
	}
}

func (c *apiClient) login(t *testing.T, ctx context.Context, user string) string {
	res, err := c.retry(ctx, nil, http.MethodPost, "/api/v1/auth/login", nil, "", map[string]string{"username": user, "password": password})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.status, string(res.raw))
	return res.str("token")
}

// waitStage polls the case through the API until it shows one of stages.
func (c *apiClient) waitStage(ctx context.Context, r *caseRun, token string, stages ...string) (string, error) {
	deadline := time.Now().Add(4 * time.Minute)
	for {
		res, err := c.retry(ctx, r, http.MethodGet, "/api/v1/cases/"+r.ref, map[string]string{"Authorization": "Bearer " + token}, "", nil)
		if err != nil {
			return "", err
		}
		if res.status != http.StatusOK {
			return "", fmt.Errorf("read case: %d %s", res.status, res.raw)
		}
		stage := res.str("stage")
		for _, s := range stages {
			if stage == s {
				return stage, nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("case %s still in stage %s, want %v", r.ref, stage, stages)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// summaryRow is what verify found after one fault.
type summaryRow struct {
	fault        string
	phaseCases   int
	took         time.Duration
	retries      int
	fiveHundreds int
	lost         int // submitted but missing, or a client that never got through
	duplicated   int // a second case, event, bed or action where one belongs
	mismatched   int // read model differs from the workflow's own state
	wrongStage   int // not where the case should have ended
	problems     []string
}

func (r summaryRow) short() string {
	return fmt.Sprintf("cases %d, lost %d, duplicated %d, mismatched %d, wrong stage %d, retries %d, 500s %d, %s",
		r.phaseCases, r.lost, r.duplicated, r.mismatched, r.wrongStage, r.retries, r.fiveHundreds, r.took.Round(time.Second))
}

// expectedActions is the timeline of a placed and admitted case, each
// exactly once; a wait-listed case ends at waitlisted instead of the last two.
var expectedActions = []string{"submitted", "accept", "economic_check_completed", "record_investigation",
	"public_notice_started", "public_notice_ended", "approve", "bed_allocated", "confirm_admission"}

// stepKey is the event key of a workflow step (workflows.careCase.step).
var stepKey = regexp.MustCompile(`^step-[0-9]+$`)

// verify checks every case driven so far against the database and the
// workflows.
func verify(t *testing.T, ctx context.Context, db *postgres.DB, tc client.Client, runs []*caseRun, semiBeds int) summaryRow {
	var row summaryRow
	bad := func(counter *int, format string, args ...any) {
		*counter++
		if len(row.problems) < 40 {
			row.problems = append(row.problems, fmt.Sprintf(format, args...))
		}
	}
	defer func() {
		for _, p := range row.problems {
			t.Log(p)
		}
	}()
	q := db.Pool()
	// Every case in the database was submitted by a client, once.
	var inDB, persons int
	require.NoError(t, q.QueryRow(ctx, `SELECT count(*), count(DISTINCT person_id) FROM cases`).Scan(&inDB, &persons))
	if inDB != len(runs) {
		bad(&row.duplicated, "%d cases in the database for %d submissions", inDB, len(runs))
	}
	if persons != inDB {
		bad(&row.duplicated, "%d cases for %d persons", inDB, persons)
	}
	// No bed is allocated twice; no case holds two beds.
	var twice int
	require.NoError(t, q.QueryRow(ctx, `SELECT (SELECT count(*) FROM (SELECT bed_id FROM bed_allocations GROUP BY bed_id HAVING count(*) > 1) b)
		+ (SELECT count(*) FROM (SELECT case_id FROM bed_allocations GROUP BY case_id HAVING count(*) > 1) c)`).Scan(&twice))
	if twice > 0 {
		bad(&row.duplicated, "%d beds or cases with more than one allocation", twice)
	}
	semiDone, semiWaiting := 0, 0
	for _, r := range runs {
		if r.failure != "" || r.id == 0 {
			bad(&row.lost, "case %d: client failed: %s", r.n, r.failure)
			continue
		}
		var n int
		require.NoError(t, q.QueryRow(ctx, `SELECT count(*) FROM cases WHERE reference = $1`, r.ref).Scan(&n))
		if n != 1 {
			bad(&row.lost, "case %s: %d rows", r.ref, n)
			continue
		}
		cs, err := db.Case(ctx, r.id)
		require.NoError(t, err)
		want := civicflow.StageCompleted
		if r.semi && r.final == "waitlisted" {
			want = civicflow.StageWaitlisted
		}
		if cs.Stage != want || string(cs.Stage) != r.final {
			bad(&row.wrongStage, "case %s: stage %s, client saw %s, want %s", r.ref, cs.Stage, r.final, want)
		}
		if r.semi {
			if cs.Stage == civicflow.StageCompleted {
				semiDone++
			} else {
				semiWaiting++
			}
		}
		// The timeline: each step once, numbered 1..seq without gaps.
		evs, err := db.Events(ctx, r.id)
		require.NoError(t, err)
		// Only the workflow's steps (keys step-N) count: other writers
		// (deadlines, notifications) add events of their own.
		count := map[string]int{}
		steps := 0
		for _, e := range evs {
			if stepKey.MatchString(e.Key) {
				count[string(e.Action)]++
				steps++
			}
		}
		wantActions := expectedActions
		if want == civicflow.StageWaitlisted {
			wantActions = append(append([]string{}, expectedActions[:7]...), "waitlisted")
		}
		for _, a := range wantActions {
			if count[a] != 1 {
				counter := &row.duplicated
				if count[a] == 0 {
					counter = &row.lost
				}
				bad(counter, "case %s: %d %q events", r.ref, count[a], a)
			}
		}
		if steps != len(wantActions) || steps != cs.Seq {
			bad(&row.duplicated, "case %s: %d steps, %d expected, seq %d", r.ref, steps, len(wantActions), cs.Seq)
		}
		// Every acknowledged action is applied exactly once.
		for _, a := range r.acked {
			if count[a] != 1 {
				bad(&row.duplicated, "case %s: acknowledged %s applied %d times", r.ref, a, count[a])
			}
		}
		var checks int
		require.NoError(t, q.QueryRow(ctx, `SELECT count(*) FROM economic_checks WHERE case_id = $1`, r.id).Scan(&checks))
		if checks != 1 {
			bad(&row.duplicated, "case %s: %d household checks stored", r.ref, checks)
		}
		// The read model matches the workflow's own state.
		st, err := queryState(ctx, tc, cs.WorkflowID)
		if err != nil {
			bad(&row.mismatched, "case %s: query state: %v", r.ref, err)
			continue
		}
		if st.Stage != cs.Stage || st.Seq != cs.Seq || st.AllocationID != cs.AllocationID {
			bad(&row.mismatched, "case %s: workflow %s v%d alloc %d, read model %s v%d alloc %d",
				r.ref, st.Stage, st.Seq, st.AllocationID, cs.Stage, cs.Seq, cs.AllocationID)
		}
	}
	// Wait-listed only while the beds of that level are taken, strictly.
	if semiDone != min(semiBeds, semiDone+semiWaiting) {
		bad(&row.wrongStage, "%d semi-dependent cases placed, %d waiting, %d beds", semiDone, semiWaiting, semiBeds)
	}
	return row
}

func queryState(ctx context.Context, tc client.Client, workflowID string) (workflows.CaseState, error) {
	var st workflows.CaseState
	var err error
	for range 10 { // a query right after a restart may find no worker yet
		var v interface{ Get(any) error }
		qctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		v, err = tc.QueryWorkflow(qctx, workflowID, "", workflows.QueryState)
		cancel()
		if err == nil {
			err = v.Get(&st)
			if err == nil {
				return st, nil
			}
		}
		time.Sleep(time.Second)
	}
	return st, err
}

func printSummary(rows []summaryRow, cases int, took time.Duration) {
	var b strings.Builder
	fmt.Fprintf(&b, "\nchaos summary (%d cases, %d faults injected, %s)\n", cases, len(rows), took.Round(time.Second))
	fmt.Fprintf(&b, "%-38s %6s %6s %6s %10s %10s %11s %7s %5s %8s\n", "fault", "cases", "lost", "dupl.", "mismatched", "wrong stg", "retries", "500s", "", "took")
	// lost, duplicated, mismatched and wrong stage are found by checking
	// every case submitted so far after each fault; the last row holds
	// them for all cases. Retries and 500s are per fault.
	sum := rows[len(rows)-1]
	sum.phaseCases, sum.retries, sum.fiveHundreds = 0, 0, 0
	for _, r := range rows {
		fmt.Fprintf(&b, "%-38s %6d %6d %6d %10d %10d %11d %7d %5s %8s\n", r.fault, r.phaseCases, r.lost, r.duplicated, r.mismatched,
			r.wrongStage, r.retries, r.fiveHundreds, "", r.took.Round(time.Second))
		sum.phaseCases += r.phaseCases
		sum.retries += r.retries
		sum.fiveHundreds += r.fiveHundreds
	}
	fmt.Fprintf(&b, "%-38s %6d %6d %6d %10d %10d %11d %7d %5s %8s\n", "all cases, at the end", sum.phaseCases, sum.lost, sum.duplicated, sum.mismatched,
		sum.wrongStage, sum.retries, sum.fiveHundreds, "", took.Round(time.Second))
	fmt.Print(b.String())
}

func envInt(key string, def int) int {
	var n int
	if _, err := fmt.Sscanf(os.Getenv(key), "%d", &n); err != nil || n <= 0 {
		return def
	}
	return n
}

// quietLogger drops the SDK's logs; failures surface as errors.
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}
