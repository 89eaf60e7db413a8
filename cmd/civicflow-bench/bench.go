package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/proto"

	"civicflow"
	"civicflow/devenv"
	"civicflow/postgres"
	"civicflow/verification"
)

// Report is everything one run measured; it is written as bench.json and
// rendered as bench.md.
type Report struct {
	StartedAt time.Time     `json:"started_at"`
	Seconds   float64       `json:"seconds"`
	Command   string        `json:"command"`
	Machine   Machine       `json:"machine"`
	Options   options       `json:"options"`
	Stores    []StoreReport `json:"stores"`
	ReadSide  *ReadReport   `json:"read_side,omitempty"`
}

// Machine describes where the figures come from.
type Machine struct {
	CPUs        int    `json:"cpus"`
	CPUModel    string `json:"cpu_model"`
	MemoryMiB   int    `json:"memory_mib"`
	Kernel      string `json:"kernel"`
	GoVersion   string `json:"go_version"`
	Postgres    string `json:"postgres"`
	TemporalCLI string `json:"temporal_cli"`
}

// StoreReport is the run against one Temporal dev server.
type StoreReport struct {
	Store  string       `json:"temporal_store"`
	Engine EngineReport `json:"engine_overhead"`
	// Pinned is the engine comparison with the Temporal server on CPUs of
	// its own (-pinned-pairs); nil when skipped or impossible.
	Pinned    *PinnedReport      `json:"engine_overhead_temporal_pinned,omitempty"`
	Actions   map[string]Latency `json:"official_actions"`
	Submit    SubmitReport       `json:"submit_latency"`
	Resources Resources          `json:"resources"`
	Profiles  map[string]string  `json:"profiles,omitempty"` // name -> file under the results directory
	Top       map[string]string  `json:"profile_top,omitempty"`
}

// EngineReport compares civicflow with the bare workflow.
type EngineReport struct {
	InFlight int           `json:"in_flight"`
	Rounds   []RoundResult `json:"rounds"`
	// ConfirmRetries counts confirm_admission requests refused with 403
	// although the read model showed the case awaiting admission, and sent
	// again (see docs/performance.md).
	ConfirmRetries int64 `json:"confirm_admission_403_retries"`
	// ReadsPerCase is how many case pages the officials loaded per case
	// while waiting for the system to move it on (-poll).
	ReadsPerCase float64      `json:"page_reads_per_case"`
	Civicflow    SystemResult `json:"civicflow"`
	Bare         SystemResult `json:"bare"`
	Ratio        float64      `json:"ratio"` // civicflow cases/s ÷ bare cases/s
	PairRatios   []float64    `json:"pair_ratios"`
	Target       float64      `json:"target"`
	// CPUPerCase is, per system, the CPU milliseconds one case cost in each
	// part over the measured rounds (cpu.go), plus the rest of the machine.
	CPUPerCase map[string]map[string]float64 `json:"cpu_ms_per_case"`
	// Statements: what PostgreSQL executed per civicflow case.
	Statements *StatementsReport `json:"pg_statements,omitempty"`
}

// RoundResult is one closed-loop round of one system.
type RoundResult struct {
	Pair        int      `json:"pair"`
	System      string   `json:"system"`
	Cases       int      `json:"cases"`
	Errors      int      `json:"errors"`
	Seconds     float64  `json:"seconds"`
	CasesPerSec float64  `json:"cases_per_s"`
	ErrorSample []string `json:"error_sample,omitempty"`
	// CPUPerCase is this round's own CPU per case in each part: rounds of
	// the same system differ by more than their cases explain, which this
	// shows.
	CPUPerCase map[string]float64 `json:"cpu_ms_per_case"`
}

// SystemResult sums a system's rounds.
type SystemResult struct {
	Cases       int     `json:"cases"`
	Errors      int     `json:"errors"`
	Seconds     float64 `json:"seconds"`
	CasesPerSec float64 `json:"cases_per_s"`
	CaseLatency Latency `json:"case_latency"` // one case, application to admission
}

// SubmitReport is the open-loop submit test.
type SubmitReport struct {
	Rates               []RateResult `json:"rates"`
	MaxSustainedPerSec  float64      `json:"max_sustained_per_s"`
	P99BoundMS          float64      `json:"p99_bound_ms"`
	FirstNotSustainedAt float64      `json:"first_not_sustained_per_s,omitempty"`
}

// Resources is what the run used.
type Resources struct {
	PeakRSSMiB     map[string]float64 `json:"peak_rss_mib"` // api, worker, bare-worker: VmHWM
	CompletedCases int                `json:"completed_cases"`
	Tables         []TableSize        `json:"tables"`
	RowsPerCase    float64            `json:"rows_per_case"`
	BytesPerCase   float64            `json:"bytes_per_case"`
	Histories      map[string]History `json:"histories"` // civicflow, bare
	HistoryErrors  []string           `json:"history_errors,omitempty"`
}

// TableSize is one table of the read model.
type TableSize struct {
	Table string `json:"table"`
	Rows  int64  `json:"rows"`
	Bytes int64  `json:"bytes"` // pg_total_relation_size: heap, indexes and TOAST
}

// History summarises the Temporal histories of a sample of finished cases.
type History struct {
	Sampled        int     `json:"sampled"`
	EventsPerCase  float64 `json:"events_per_case"`
	BytesPerCase   float64 `json:"bytes_per_case"`
	Activities     float64 `json:"activities_per_case"`
	Updates        float64 `json:"updates_per_case"`
	Timers         float64 `json:"timers_per_case"`
	WorkflowTasks  float64 `json:"workflow_tasks_per_case"`
	SearchAttrSets float64 `json:"search_attribute_upserts_per_case"`
}

const (
	benchPassword  = "bench-password-1"
	benchTaskQueue = "civicflow-bench"
	maxOutstanding = 2000
)

// runBench runs every section and returns the report.
func runBench(ctx context.Context, o options, out io.Writer, command string) (*Report, error) {
	rep := &Report{StartedAt: time.Now().UTC(), Command: command, Options: o}
	begin := time.Now()
	dir, err := os.MkdirTemp("", "civicflow-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	logs := filepath.Join(o.OutDir, "logs")
	if err := os.MkdirAll(filepath.Join(o.OutDir, "profiles"), 0o755); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return nil, err
	}
	pgLog, err := os.Create(filepath.Join(logs, "postgres.log"))
	if err != nil {
		return nil, err
	}
	defer pgLog.Close()
	fmt.Fprintln(out, "starting postgres")
	pg, err := devenv.StartPostgres(ctx, devenv.PostgresOptions{DataDir: filepath.Join(dir, "pg"), Log: pgLog,
		Settings: []string{pgStatSetting}})
	if err != nil {
		return nil, err
	}
	defer pg.Stop()
	rep.Machine = machineInfo(ctx, pg.URL())
	vs, err := verification.NewDevServer()
	if err != nil {
		return nil, err
	}
	verifier := httptest.NewServer(vs)
	defer verifier.Close()

	for i, store := range o.Stores {
		// The read side grows the read model of the last store's run.
		readSide := o.ReadRows > 0 && i == len(o.Stores)-1
		sr, rr, err := runStore(ctx, o, store, pg.URL(), pg.Pid(), verifier.URL, dir, readSide, out)
		if err != nil {
			return nil, fmt.Errorf("temporal %s store: %w", store, err)
		}
		rep.Stores = append(rep.Stores, *sr)
		if rr != nil {
			rep.ReadSide = rr
		}
		// Keep what is measured so far should a later section fail.
		rep.Seconds = round2(time.Since(begin).Seconds())
		if err := writeReport(o.OutDir, rep, io.Discard); err != nil {
			return nil, err
		}
	}
	rep.Seconds = round2(time.Since(begin).Seconds())
	return rep, nil
}

// stack is the system under test for one Temporal store.
type stack struct {
	store    string
	db       *postgres.DB
	instID   int64
	tc       client.Client
	api      *proc
	worker   *proc
	bare     *proc
	cl       *apiClient
	bareSeq  int
	bareMu   sync.Mutex
	bareDone []string
	// bareExtra is how many activities a civicflow case has beyond the 11
	// of the bare workflow's core, and bareTimers how many timers beyond
	// the notice, read from warm-up cases' histories.
	bareExtra, bareTimers int
	// cpuParts are the processes whose CPU time each round counts.
	cpuParts []cpuPart
}

func (s *stack) close() {
	s.api.stop()
	s.worker.stop()
	s.bare.stop()
	if s.tc != nil {
		s.tc.Close()
	}
	if s.db != nil {
		s.db.Close()
	}
}

func (s *stack) nextBareID() string {
	s.bareMu.Lock()
	defer s.bareMu.Unlock()
	s.bareSeq++
	return fmt.Sprintf("bench-bare-%s-%d", s.store, s.bareSeq)
}

func (s *stack) driveBare(ctx context.Context, notice time.Duration) error {
	id := s.nextBareID()
	if err := driveBare(ctx, s.tc, id, BareInput{NoticePeriod: notice, ExtraActivities: s.bareExtra, ExtraTimers: s.bareTimers}); err != nil {
		return err
	}
	s.bareMu.Lock()
	s.bareDone = append(s.bareDone, id)
	s.bareMu.Unlock()
	return nil
}

func runStore(ctx context.Context, o options, store, pgURL string, pgPid int, verifierURL, dir string, readSide bool, out io.Writer) (*StoreReport, *ReadReport, error) {
	fmt.Fprintf(out, "== temporal %s store\n", store)
	logs := filepath.Join(o.OutDir, "logs")
	s := &stack{store: store}
	defer s.close()
	dbURL, err := createDatabase(ctx, pgURL, "bench_"+store)
	if err != nil {
		return nil, nil, err
	}
	if s.db, err = postgres.Open(ctx, dbURL); err != nil {
		return nil, nil, err
	}
	if _, err := s.db.Migrate(ctx); err != nil {
		return nil, nil, err
	}
	stat, err := newPGStat(ctx, dbURL)
	if err != nil {
		return nil, nil, err
	}
	defer stat.close()
	if s.instID, err = seedOfficials(ctx, s.db); err != nil {
		return nil, nil, err
	}
	if err := addBeds(ctx, s.db, s.instID, o.Warmup+o.Cases+o.InFlight); err != nil {
		return nil, nil, err
	}

	tlog, err := os.Create(filepath.Join(logs, "temporal-"+store+".log"))
	if err != nil {
		return nil, nil, err
	}
	defer tlog.Close()
	topts := devenv.TemporalOptions{Headless: true, Log: tlog}
	if store == "file" {
		topts.DBFile = filepath.Join(dir, "temporal-"+store+".db")
	}
	tmp, err := devenv.StartTemporal(ctx, topts)
	if err != nil {
		return nil, nil, err
	}
	defer tmp.Stop()

	apiAddr, err := freeAddr()
	if err != nil {
		return nil, nil, err
	}
	apiPprof, err := freeAddr()
	if err != nil {
		return nil, nil, err
	}
	workerPprof, err := freeAddr()
	if err != nil {
		return nil, nil, err
	}
	env := []string{"CIVICFLOW_DATABASE_URL=" + dbURL, "CIVICFLOW_TEMPORAL_ADDRESS=" + tmp.Address(),
		"CIVICFLOW_TEMPORAL_NAMESPACE=default", "CIVICFLOW_TASK_QUEUE=" + benchTaskQueue,
		"CIVICFLOW_HTTP_ADDR=" + apiAddr, "CIVICFLOW_VERIFICATION_URL=" + verifierURL,
		"CIVICFLOW_NOTICE_PERIOD=" + o.Notice.String(), "CIVICFLOW_LOG_LEVEL=info",
		"CIVICFLOW_TEMPORAL_GRPC_COMPRESSION=" + o.Compression,
		// The stuck scan would report every loaded clone (they have no
		// workflow); the read side loads realistic findings instead.
		"CIVICFLOW_STUCK_SCAN_INTERVAL=off",
		// Keys that seal personal data at rest, fresh for each run.
		"CIVICFLOW_DATA_KEYS=bench:" + newKey(), "CIVICFLOW_LOOKUP_KEY=" + newKey()}
	// `civicflow temporal setup`: what an operator runs once per namespace.
	if out, err := runCivicflow(ctx, o.CivicflowBin, env, "temporal", "setup"); err != nil {
		return nil, nil, fmt.Errorf("civicflow temporal setup: %w: %s", err, out)
	}
	workerMetrics, err := freeAddr()
	if err != nil {
		return nil, nil, err
	}
	if s.worker, err = startProc("worker", o.CivicflowBin, []string{"worker"},
		append(env, "CIVICFLOW_PPROF_ADDR="+workerPprof, "CIVICFLOW_WORKER_METRICS_ADDR="+workerMetrics),
		filepath.Join(logs, "worker-"+store+".log")); err != nil {
		return nil, nil, err
	}
	s.worker.pprofAddr = workerPprof
	if s.api, err = startProc("api", o.CivicflowBin, []string{"api"}, append(env, "CIVICFLOW_PPROF_ADDR="+apiPprof, "CIVICFLOW_METRICS_ADDR=127.0.0.1:0"),
		filepath.Join(logs, "api-"+store+".log")); err != nil {
		return nil, nil, err
	}
	s.api.pprofAddr = apiPprof
	self, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	if s.bare, err = startProc("bare-worker", self, nil, []string{envRole + "=" + roleBareWorker, envBareAddress + "=" + tmp.Address(), envBareCompression + "=" + o.Compression},
		filepath.Join(logs, "bare-worker-"+store+".log")); err != nil {
		return nil, nil, err
	}
	if err := s.api.waitHTTP(ctx, "http://"+apiAddr+"/healthz", time.Minute); err != nil {
		return nil, nil, err
	}
	if err := s.worker.waitHTTP(ctx, "http://"+workerPprof+"/debug/pprof/", time.Minute); err != nil {
		return nil, nil, err
	}
	if s.tc, err = dialTemporal(ctx, tmp.Address(), o.Compression); err != nil {
		return nil, nil, err
	}
	s.cpuParts = []cpuPart{{name: "temporal server", pid: tmp.Pid()}, {name: "postgres", pid: pgPid, tree: true},
		{name: "api", pid: s.api.pid()}, {name: "worker", pid: s.worker.pid()}, {name: "bare worker", pid: s.bare.pid()},
		{name: "bench (driver, verifier)", pid: os.Getpid()}}
	s.cl = &apiClient{base: "http://" + apiAddr, poll: o.Poll}
	for _, t := range []struct {
		user string
		tok  *string
	}{{"bench.ts", &s.cl.township}, {"bench.dr", &s.cl.district}, {"bench.st", &s.cl.staff}} {
		if *t.tok, err = s.cl.login(ctx, t.user, benchPassword); err != nil {
			return nil, nil, err
		}
	}

	sr := &StoreReport{Store: store}
	civ := func(rec *actionSamples) func(ctx context.Context, i int64) error {
		return func(ctx context.Context, i int64) error { return s.cl.driveCivicflow(ctx, i, rec) }
	}
	bare := func(ctx context.Context, _ int64) error { return s.driveBare(ctx, o.Notice) }

	// Warm-up: connections, caches, JIT-free but not cold.
	if o.Warmup > 0 {
		warm := min(o.Warmup, o.InFlight)
		fmt.Fprintf(out, "warm-up: %d cases per system\n", o.Warmup)
		if r := closedLoop(ctx, o.Warmup, warm, time.Time{}, civ(nil)); r.Errors > 0 {
			return nil, nil, fmt.Errorf("warm-up civicflow: %d errors: %v", r.Errors, r.errs)
		}
		if err := s.matchBareShape(ctx); err != nil {
			return nil, nil, err
		}
		if r := closedLoop(ctx, o.Warmup, warm, time.Time{}, bare); r.Errors > 0 {
			return nil, nil, fmt.Errorf("warm-up bare: %d errors: %v", r.Errors, r.errs)
		}
	}

	// 1 + 3: engine overhead, side by side, and official actions.
	rec := &actionSamples{}
	if sr.Engine, err = s.engineRounds(ctx, o.Pairs, o.Cases, o.InFlight, civ(rec), bare, stat, out); err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(out, "engine overhead ratio (civicflow/bare throughput): %.3f\n", sr.Engine.Ratio)
	// 1b: the same with the Temporal server on CPUs of its own.
	if o.PinnedPairs > 0 {
		sr.Pinned, err = s.pinnedRounds(ctx, o, civ(nil), bare, out)
		if err != nil {
			return nil, nil, err
		}
	}
	sr.Actions = rec.summary()
	sr.Engine.ConfirmRetries = s.cl.confirmRetries.Load()

	// 5 (part): read-model and history size per case, while the database
	// holds only finished cases.
	if sr.Resources, err = measureStorage(ctx, s, o.HistorySample); err != nil {
		return nil, nil, err
	}

	// Profiles of API and worker under the same load.
	if o.ProfileFor > 0 {
		expected := int(sr.Engine.Civicflow.CasesPerSec*o.ProfileFor.Seconds()*2) + o.InFlight
		if err := addBeds(ctx, s.db, s.instID, expected); err != nil {
			return nil, nil, err
		}
		if sr.Profiles, sr.Top, err = profile(ctx, o, s, expected, civ(nil), out); err != nil {
			return nil, nil, err
		}
	}

	// 2: submit latency under open-loop load.
	sr.Submit = SubmitReport{P99BoundMS: ms(o.P99Bound)}
	var n int64
	var nmu sync.Mutex
	for _, rate := range o.Rates {
		r := openLoop(ctx, rate, o.RateFor, maxOutstanding, func(ctx context.Context) error {
			nmu.Lock()
			n++
			i := n
			nmu.Unlock()
			_, err := s.cl.submit(ctx, i)
			return err
		})
		r.Sustained = r.Latency.Errors == 0 && r.AchievedPerSec >= 0.95*rate && r.Latency.P99MS <= ms(o.P99Bound)
		fmt.Fprintf(out, "submit %5.1f/s offered: %6.2f/s achieved, p50 %7.1fms p95 %7.1fms p99 %7.1fms, %d errors, sustained=%v\n",
			rate, r.AchievedPerSec, r.Latency.P50MS, r.Latency.P95MS, r.Latency.P99MS, r.Latency.Errors, r.Sustained)
		sr.Submit.Rates = append(sr.Submit.Rates, r)
		if !r.Sustained {
			sr.Submit.FirstNotSustainedAt = rate
			break
		}
		sr.Submit.MaxSustainedPerSec = rate
		time.Sleep(2 * time.Second) // let the system settle between rates
	}

	// 5 (rest): peak memory of each process over the whole run.
	sr.Resources.PeakRSSMiB = map[string]float64{}
	for _, p := range []*proc{s.api, s.worker, s.bare} {
		if v, err := peakRSS(p.pid()); err == nil {
			sr.Resources.PeakRSSMiB[p.name] = v
		}
	}
	if !readSide {
		return sr, nil, nil
	}
	rr, err := runReadSide(ctx, o, s, out)
	if err != nil {
		return nil, nil, fmt.Errorf("read side: %w", err)
	}
	return sr, rr, nil
}

// mergeLatency combines the per-round latency summaries by weighting
// them; exact percentiles would need the raw samples, so the merged
// percentiles are the worst round's (conservative) and the mean is weighted.
func mergeLatency(ls []Latency) Latency {
	var out Latency
	var sum float64
	for _, l := range ls {
		out.Count += l.Count
		out.Errors += l.Errors
		sum += l.MeanMS * float64(l.Count)
		out.P50MS = max(out.P50MS, l.P50MS)
		out.P95MS = max(out.P95MS, l.P95MS)
		out.P99MS = max(out.P99MS, l.P99MS)
		out.MaxMS = max(out.MaxMS, l.MaxMS)
	}
	if out.Count > 0 {
		out.MeanMS = round2(sum / float64(out.Count))
	}
	return out
}

// seedOfficials creates the bench's institution (beds are added by addBeds)
// and its officials, all in Yanta district.
func seedOfficials(ctx context.Context, db *postgres.DB) (int64, error) {
	inst, err := db.EnsureInstitution(ctx, postgres.NewInstitution{Name: "雁塔区基准测试供养服务中心", DistrictCode: "610113"})
	if err != nil {
		return 0, err
	}
	for _, u := range []postgres.NewUser{
		{Username: "bench.ts", DisplayName: "王芳", Role: civicflow.RoleTownshipOfficial, Jurisdiction: benchTownship},
		{Username: "bench.dr", DisplayName: "陈静", Role: civicflow.RoleDistrictReviewer, Jurisdiction: "610113"},
		{Username: "bench.st", DisplayName: "张伟", Role: civicflow.RoleInstitutionStaff, Jurisdiction: "610113", InstitutionID: inst},
		{Username: "bench.sv", DisplayName: "孙红", Role: civicflow.RoleSupervisor, Jurisdiction: civicflow.CityCode},
	} {
		u.Password = benchPassword
		if _, err := db.EnsureUser(ctx, u); err != nil {
			return 0, err
		}
	}
	return inst, nil
}

// addBeds adds perLevel beds of every care level to the institution, so the
// bench never runs into the wait-list.
func addBeds(ctx context.Context, db *postgres.DB, inst int64, perLevel int) error {
	_, err := db.Pool().Exec(ctx, `INSERT INTO beds (institution_id, label, care_level)
		SELECT $1, lvl || '-' || (coalesce((SELECT count(*) FROM beds WHERE institution_id = $1), 0) + g), lvl
		FROM generate_series(1, $2::int) g, unnest(ARRAY['self_care', 'semi_dependent', 'dependent']) lvl`, inst, perLevel)
	if err != nil {
		return fmt.Errorf("add beds: %w", err)
	}
	return nil
}

// measureStorage reads the size of the read model and of a sample of
// Temporal histories.
func measureStorage(ctx context.Context, s *stack, sample int) (Resources, error) {
	var r Resources
	pool := s.db.Pool()
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM cases WHERE stage = 'completed'`).Scan(&r.CompletedCases); err != nil {
		return r, err
	}
	var total int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM cases`).Scan(&total); err != nil {
		return r, err
	}
	rows, err := pool.Query(ctx, `SELECT relname, pg_total_relation_size(relid) FROM pg_stat_user_tables ORDER BY relname`)
	if err != nil {
		return r, err
	}
	for rows.Next() {
		var t TableSize
		if err := rows.Scan(&t.Table, &t.Bytes); err != nil {
			rows.Close()
			return r, err
		}
		r.Tables = append(r.Tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return r, err
	}
	var sumRows, sumBytes int64
	for i := range r.Tables {
		t := &r.Tables[i]
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+quoteIdent(t.Table)).Scan(&t.Rows); err != nil {
			return r, err
		}
		// Per-case figures count the tables that grow with cases, not the
		// fixed ones (jurisdictions, users, beds, migrations).
		if perCaseTable(t.Table) {
			sumRows += t.Rows
			sumBytes += t.Bytes
		}
	}
	if total > 0 {
		r.RowsPerCase = round2(float64(sumRows) / float64(total))
		r.BytesPerCase = round2(float64(sumBytes) / float64(total))
	}

	r.Histories = map[string]History{}
	ids, err := pool.Query(ctx, `SELECT id FROM cases WHERE stage = 'completed' ORDER BY id DESC LIMIT $1`, sample)
	if err != nil {
		return r, err
	}
	var wfIDs []string
	for ids.Next() {
		var id int64
		if err := ids.Scan(&id); err != nil {
			ids.Close()
			return r, err
		}
		wfIDs = append(wfIDs, civicflow.CaseWorkflowID(id))
	}
	ids.Close()
	// A history that cannot be read (an overloaded server) is reported,
	// not fatal: the other figures of the run still stand.
	if r.Histories["civicflow"], err = histories(ctx, s.tc, wfIDs); err != nil {
		r.HistoryErrors = append(r.HistoryErrors, err.Error())
	}
	s.bareMu.Lock()
	bare := s.bareDone[max(0, len(s.bareDone)-sample):]
	s.bareMu.Unlock()
	if r.Histories["bare"], err = histories(ctx, s.tc, bare); err != nil {
		r.HistoryErrors = append(r.HistoryErrors, err.Error())
	}
	return r, nil
}

func perCaseTable(t string) bool {
	switch t {
	case "persons", "cases", "case_events", "economic_checks", "bed_allocations", "waitlist", "documents", "idempotency_keys":
		return true
	}
	return false
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// histories reads the workflow histories of ids and averages them.
func histories(ctx context.Context, tc client.Client, ids []string) (History, error) {
	var h History
	for _, id := range ids {
		hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		it := tc.GetWorkflowHistory(hctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				cancel()
				return h, fmt.Errorf("history of %s: %w", id, err)
			}
			h.EventsPerCase++
			h.BytesPerCase += float64(proto.Size(ev))
			switch ev.GetEventType() {
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
				h.Activities++
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
				h.Updates++
			case enumspb.EVENT_TYPE_TIMER_STARTED:
				h.Timers++
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
				h.WorkflowTasks++
			case enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
				h.SearchAttrSets++
			}
		}
		cancel()
		h.Sampled++
	}
	if h.Sampled > 0 {
		n := float64(h.Sampled)
		h.EventsPerCase, h.BytesPerCase = round2(h.EventsPerCase/n), round2(h.BytesPerCase/n)
		h.Activities, h.Updates, h.Timers = round2(h.Activities/n), round2(h.Updates/n), round2(h.Timers/n)
		h.WorkflowTasks, h.SearchAttrSets = round2(h.WorkflowTasks/n), round2(h.SearchAttrSets/n)
	}
	return h, nil
}

// profile records CPU profiles of API and worker over o.ProfileFor while
// civicflow cases run as in the engine test, then heap profiles, and saves
// them under the results directory.
func profile(ctx context.Context, o options, s *stack, maxCases int, run func(context.Context, int64) error, out io.Writer) (map[string]string, map[string]string, error) {
	fmt.Fprintf(out, "profiling api and worker for %s\n", o.ProfileFor)
	files, tops := map[string]string{}, map[string]string{}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	procs := []*proc{s.api, s.worker}
	for i, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("%s-cpu-%s.pb.gz", p.name, s.store)
			u := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", p.pprofAddr, int(o.ProfileFor.Seconds()))
			errs[i] = fetch(ctx, u, filepath.Join(o.OutDir, "profiles", name))
			files[p.name+"_cpu"] = filepath.Join("profiles", name)
		}()
	}
	time.Sleep(200 * time.Millisecond) // the profiles are running
	r := closedLoop(ctx, maxCases, o.InFlight, time.Now().Add(o.ProfileFor), run)
	fmt.Fprintf(out, "profiled load: %d cases, %d errors\n", r.Cases, r.Errors)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, nil, err
		}
	}
	for _, p := range procs {
		name := fmt.Sprintf("%s-heap-%s.pb.gz", p.name, s.store)
		if err := fetch(ctx, fmt.Sprintf("http://%s/debug/pprof/heap", p.pprofAddr), filepath.Join(o.OutDir, "profiles", name)); err != nil {
			return nil, nil, err
		}
		files[p.name+"_heap"] = filepath.Join("profiles", name)
	}
	// A text summary, when the go tool is at hand.
	if goBin, err := exec.LookPath("go"); err == nil {
		for _, key := range []string{"api_cpu", "worker_cpu"} {
			cmd := exec.CommandContext(ctx, goBin, "tool", "pprof", "-top", "-nodecount=15", filepath.Join(o.OutDir, files[key]))
			if b, err := cmd.Output(); err == nil {
				tops[key] = trimPprofTop(string(b))
			}
		}
	}
	return files, tops, nil
}

// trimPprofTop keeps the header and table of `pprof -top`.
func trimPprofTop(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "Duration:") || strings.HasPrefix(l, "Showing") {
			return strings.Join(lines[i:], "\n")
		}
	}
	return strings.Join(lines, "\n")
}

func fetch(ctx context.Context, u, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("fetch %s: %d %s", u, resp.StatusCode, b)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func machineInfo(ctx context.Context, pgURL string) Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				m.CPUModel = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int
		for _, l := range strings.Split(string(b), "\n") {
			if _, err := fmt.Sscanf(l, "MemTotal: %d kB", &kb); err == nil {
				m.MemoryMiB = kb / 1024
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if db, err := postgres.Open(ctx, pgURL); err == nil {
		_ = db.Pool().QueryRow(ctx, `SHOW server_version`).Scan(&m.Postgres)
		db.Close()
	}
	if bin, err := devenv.FindTemporalBinary(); err == nil {
		if b, err := exec.CommandContext(ctx, bin, "--version").Output(); err == nil {
			m.TemporalCLI = strings.TrimSpace(string(b))
		}
	}
	return m
}

// newKey returns 32 random bytes, base64-encoded.
func newKey() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.StdEncoding.EncodeToString(b)
}

// matchBareShape reads the histories of finished civicflow cases (the
// warm-up's) and sets the bare workflow's extra activities and timers so
// that both run as many.
func (s *stack) matchBareShape(ctx context.Context) error {
	rows, err := s.db.Pool().Query(ctx, `SELECT id FROM cases WHERE stage = 'completed' ORDER BY id DESC LIMIT 8`)
	if err != nil {
		return fmt.Errorf("find finished cases: %w", err)
	}
	ids, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var id int64
		err := r.Scan(&id)
		return civicflow.CaseWorkflowID(id), err
	})
	if err != nil {
		return fmt.Errorf("find finished cases: %w", err)
	}
	if len(ids) == 0 {
		return fmt.Errorf("no finished civicflow case to match the bare workflow to")
	}
	h, err := histories(ctx, s.tc, ids)
	if err != nil {
		return err
	}
	s.bareExtra = max(0, int(math.Round(h.Activities))-bareCoreActivities)
	s.bareTimers = max(0, int(math.Round(h.Timers))-1)
	return nil
}

// engineRounds runs pairs round pairs of cases cases in all, civicflow and
// bare alternating which goes first, and sums them up. stat, when not nil,
// counts PostgreSQL's statements over the civicflow rounds.
func (s *stack) engineRounds(ctx context.Context, pairs, cases, inFlight int, civ, bare func(context.Context, int64) error,
	stat *pgStat, out io.Writer) (EngineReport, error) {
	e := EngineReport{InFlight: inFlight, Target: 0.9}
	cpu := map[string]cpuSnapshot{"civicflow": {}, "bare": {}}
	var pageReads int64
	var civLat, bareLat []Latency
	perRound := cases / pairs
	for p := 0; p < pairs; p++ {
		n := perRound
		if p == pairs-1 {
			n = cases - perRound*(pairs-1)
		}
		order := []string{"civicflow", "bare"}
		if p%2 == 1 {
			order = []string{"bare", "civicflow"}
		}
		var pc, pb float64
		for _, sys := range order {
			run := bare
			if sys == "civicflow" {
				run = civ
				if err := stat.reset(ctx); err != nil {
					return e, fmt.Errorf("pg_stat_statements reset: %w", err)
				}
			}
			before, reads := takeCPU(s.cpuParts), s.cl.reads.Load()
			r := closedLoop(ctx, n, inFlight, time.Time{}, run)
			after, round := takeCPU(s.cpuParts), cpuSnapshot{}
			cpu[sys].add(before, after)
			round.add(before, after)
			if sys == "civicflow" {
				pageReads += s.cl.reads.Load() - reads
				if err := stat.collect(ctx, r.Cases); err != nil {
					return e, fmt.Errorf("pg_stat_statements: %w", err)
				}
			}
			rr := RoundResult{Pair: p + 1, System: sys, Cases: r.Cases, Errors: r.Errors, Seconds: round3(r.Elapsed.Seconds()),
				CasesPerSec: round3(float64(r.Cases) / r.Elapsed.Seconds()), ErrorSample: r.errs, CPUPerCase: round.perCase(r.Cases)}
			fmt.Fprintf(out, "pair %d %-9s %4d cases in %6.2fs = %6.2f cases/s (%d errors), CPU %.0f ms per case (temporal server %.0f)\n", p+1, sys,
				r.Cases, r.Elapsed.Seconds(), rr.CasesPerSec, r.Errors, rr.CPUPerCase["total"], rr.CPUPerCase["temporal server"])
			e.Rounds = append(e.Rounds, rr)
			sum := &e.Civicflow
			if sys == "civicflow" {
				civLat, pc = append(civLat, r.Latency), rr.CasesPerSec
			} else {
				sum = &e.Bare
				bareLat, pb = append(bareLat, r.Latency), rr.CasesPerSec
			}
			sum.Cases += r.Cases
			sum.Errors += r.Errors
			sum.Seconds += r.Elapsed.Seconds()
		}
		if pb > 0 {
			e.PairRatios = append(e.PairRatios, round3(pc/pb))
		}
	}
	for _, sum := range []*SystemResult{&e.Civicflow, &e.Bare} {
		if sum.Seconds > 0 {
			sum.CasesPerSec = round3(float64(sum.Cases) / sum.Seconds)
		}
		sum.Seconds = round3(sum.Seconds)
	}
	if e.Civicflow.Cases > 0 {
		e.ReadsPerCase = round2(float64(pageReads) / float64(e.Civicflow.Cases))
	}
	e.CPUPerCase = map[string]map[string]float64{
		"civicflow": cpu["civicflow"].perCase(e.Civicflow.Cases),
		"bare":      cpu["bare"].perCase(e.Bare.Cases),
	}
	e.Statements = stat.report(100)
	e.Civicflow.CaseLatency = mergeLatency(civLat)
	e.Bare.CaseLatency = mergeLatency(bareLat)
	if e.Bare.CasesPerSec > 0 {
		e.Ratio = round3(e.Civicflow.CasesPerSec / e.Bare.CasesPerSec)
	}
	return e, nil
}

// runCivicflow runs a civicflow subcommand to its end with env and returns
// its combined output.
func runCivicflow(ctx context.Context, bin string, env []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	return cmd.CombinedOutput()
}
