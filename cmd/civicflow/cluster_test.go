package main

// `make cluster-test`: the end-to-end tests of e2e_test.go against the
// production topology on this machine, with no Docker: a PostgreSQL server
// (devenv), the real Temporal server (go.temporal.io/server, built from Go
// modules by the Makefile) on that PostgreSQL with its schemas set up by
// temporal-sql-tool and configured by deploy/temporal/config.yaml, two
// `civicflow api` and two `civicflow worker` processes, and a round-robin
// load balancer in front of the APIs. While the tests run, one API instance
// and one worker are stopped with SIGTERM and started again, over and over.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"

	"civicflow/demo"
	"civicflow/devenv"
	"civicflow/postgres"
	"civicflow/verification"
)

// cluster is the running topology.
type cluster struct {
	apiEnv, workerEnv [2][]string
	apiURL, opsURL    [2]string
	apiMetricsURL     [2]string // each API's CIVICFLOW_METRICS_ADDR

	chaosMu        sync.Mutex // held during each restart, and to pause them
	mu             sync.Mutex // guards the slices below and workersStopped
	apis, workers  [2]*devenv.Process
	workersStopped bool // a test stopped every worker on purpose
	chaosPaused    bool

	restarts       atomic.Int64
	maxStopSeconds atomic.Int64 // longest SIGTERM-to-exit, in ms
	// draining is the API instance the load balancer sends no new
	// requests to (-1: none), as a load balancer drains an instance
	// before it is stopped.
	draining atomic.Int64
}

func clusterf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "cluster-test: "+format+"\n", args...)
}

// timed runs f and prints how long it took.
func timed(what string, f func() error) error {
	start := time.Now()
	err := f()
	clusterf("%-48s %6.1fs", what, time.Since(start).Seconds())
	return err
}

func runCluster(m *testing.M) int {
	total := time.Now()
	code, err := runClusterErr(m)
	if err != nil {
		clusterf("FAILED: %v", err)
		return 1
	}
	clusterf("%-48s %6.1fs", "total", time.Since(total).Seconds())
	return code
}

func runClusterErr(m *testing.M) (int, error) {
	serverBin, sqlTool := os.Getenv("CIVICFLOW_TEMPORAL_SERVER_BIN"), os.Getenv("CIVICFLOW_TEMPORAL_SQL_TOOL")
	if serverBin == "" || sqlTool == "" {
		return 1, errors.New("set CIVICFLOW_TEMPORAL_SERVER_BIN and CIVICFLOW_TEMPORAL_SQL_TOOL (make cluster-test builds them)")
	}
	root, err := devenv.ProjectRoot()
	if err != nil {
		return 1, err
	}
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "civicflow-cluster-")
	if err != nil {
		return 1, err
	}
	defer os.RemoveAll(dir)

	var pg *devenv.Postgres
	if err := timed("start PostgreSQL", func() (err error) {
		pg, err = devenv.StartPostgres(ctx, devenv.PostgresOptions{DataDir: filepath.Join(dir, "pg")})
		return err
	}); err != nil {
		return 1, err
	}
	defer pg.Stop()

	port := strconv.Itoa(pg.Port())
	if err := timed("temporal-sql-tool: databases and schemas", func() error {
		for _, db := range []struct{ name, schema string }{{"temporal", "postgresql/v12/temporal"}, {"temporal_visibility", "postgresql/v12/visibility"}} {
			base := []string{"--plugin", "postgres12_pgx", "--ep", "127.0.0.1", "-p", port, "-u", "civicflow", "--db", db.name}
			for _, args := range [][]string{{"create-database"}, {"setup-schema", "-v", "0.0"}, {"update-schema", "--schema-name", db.schema}} {
				out, err := exec.Command(sqlTool, append(base, args...)...).CombinedOutput()
				if err != nil {
					return fmt.Errorf("temporal-sql-tool %s %s: %w\n%s", db.name, strings.Join(args, " "), err, out)
				}
			}
		}
		return nil
	}); err != nil {
		return 1, err
	}

	temporalLog := &devenv.LogBuffer{}
	var temporalAddr string
	var server *exec.Cmd
	if err := timed("start Temporal server (PostgreSQL persistence)", func() (err error) {
		server, temporalAddr, err = startTemporalServer(serverBin, root, port, temporalLog)
		return err
	}); err != nil {
		return 1, err
	}
	serverDone := make(chan struct{})
	go func() { _ = server.Wait(); close(serverDone) }()
	defer func() {
		_ = server.Process.Signal(syscall.SIGTERM)
		select {
		case <-serverDone:
		case <-time.After(30 * time.Second):
			_ = server.Process.Kill()
			<-serverDone
		}
	}()
	if err := timed("register namespace default", func() error { return registerNamespace(ctx, temporalAddr, temporalLog, serverDone) }); err != nil {
		return 1, err
	}

	cfg := config{DatabaseURL: pg.URL(), TemporalAddress: temporalAddr, TemporalNamespace: "default",
		TaskQueue: "civicflow-cluster", NoticePeriod: 2 * time.Second,
		DataKeys: "k1:" + e2eDataKey, LookupKey: e2eLookupKey, TrustedProxies: "127.0.0.1"}
	db, err := postgres.Open(ctx, cfg.DatabaseURL, cfg.withKeys())
	if err != nil {
		return 1, err
	}
	defer db.Close()
	if err := timed("migrate and seed civicflow's database", func() error {
		if _, err := db.Migrate(ctx); err != nil {
			return err
		}
		_, err := demo.Seed(ctx, db, testPassword)
		return err
	}); err != nil {
		return 1, err
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if _, err := temporalSetup(ctx, cfg, log); err != nil {
		return 1, err
	}
	tc, err := dialTemporal(ctx, cfg, log)
	if err != nil {
		return 1, err
	}
	defer tc.Close()
	vs, err := verification.NewDevServer()
	if err != nil {
		return 1, err
	}
	verifier := httptest.NewServer(vs)
	defer verifier.Close()

	c := &cluster{}
	c.draining.Store(-1) // no instance drained
	defer c.killAll()
	if err := timed("start 2 API and 2 worker processes", func() error {
		for i := range 2 {
			apiPort, err := devenv.FreePort()
			if err != nil {
				return err
			}
			opsPort, err := devenv.FreePort()
			if err != nil {
				return err
			}
			metricsPort, err := devenv.FreePort()
			if err != nil {
				return err
			}
			common := []string{"CIVICFLOW_DATABASE_URL=" + cfg.DatabaseURL, "CIVICFLOW_DATABASE_POOL_SIZE=8",
				"CIVICFLOW_TEMPORAL_ADDRESS=" + temporalAddr, "CIVICFLOW_TEMPORAL_NAMESPACE=" + cfg.TemporalNamespace,
				"CIVICFLOW_TASK_QUEUE=" + cfg.TaskQueue,
				"CIVICFLOW_NOTICE_PERIOD=2s", "CIVICFLOW_LOG_LEVEL=info", "CIVICFLOW_TRUSTED_PROXIES=127.0.0.1"}
			common = append(common, keyEnv(cfg)...)
			c.apiURL[i] = fmt.Sprintf("http://127.0.0.1:%d", apiPort)
			c.apiMetricsURL[i] = fmt.Sprintf("http://127.0.0.1:%d", metricsPort)
			c.apiEnv[i] = append(slices.Clip(common), fmt.Sprintf("CIVICFLOW_HTTP_ADDR=127.0.0.1:%d", apiPort), "CIVICFLOW_HTTP_SHUTDOWN_TIMEOUT=40s",
				fmt.Sprintf("CIVICFLOW_METRICS_ADDR=127.0.0.1:%d", metricsPort),
				"CIVICFLOW_STUCK_SCAN_INTERVAL=1s", "CIVICFLOW_STUCK_SCAN_QUIET_FOR=0", "CIVICFLOW_STUCK_POLLER_SILENCE=3s")
			c.opsURL[i] = fmt.Sprintf("http://127.0.0.1:%d", opsPort)
			c.workerEnv[i] = append(slices.Clip(common), fmt.Sprintf("CIVICFLOW_WORKER_METRICS_ADDR=127.0.0.1:%d", opsPort),
				"CIVICFLOW_VERIFICATION_URL="+verifier.URL, "CIVICFLOW_WORKER_STOP_TIMEOUT=20s")
			if err := c.startAPI(i); err != nil {
				return err
			}
			if err := c.startWorker(i); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return 1, err
	}

	lb := httptest.NewServer(c.loadBalancer())
	defer lb.Close()
	sys = &e2eSystem{cfg: cfg, db: db, tc: tc, api: lb, verifierURL: verifier.URL, cluster: c}

	stopChaos := make(chan struct{})
	chaosDone := make(chan error, 1)
	go func() { chaosDone <- c.chaos(stopChaos, 4*time.Second) }()
	var code int
	_ = timed("end-to-end tests (restarts running)", func() error { code = m.Run(); return nil })
	close(stopChaos)
	if err := <-chaosDone; err != nil {
		clusterf("restart loop failed: %v", err)
		code = 1
	}
	clusterf("restarts of api-0 and worker-0 during the tests: %d; longest SIGTERM-to-exit: %dms",
		c.restarts.Load(), c.maxStopSeconds.Load())
	if err := timed("stop every civicflow process with SIGTERM", c.stopAll); err != nil {
		clusterf("%v", err)
		code = 1
	}
	return code, nil
}

// startTemporalServer runs the server on deploy/temporal/config.yaml with
// free ports, and waits for its frontend.
func startTemporalServer(bin, root, pgPort string, log io.Writer) (*exec.Cmd, string, error) {
	ports := map[string]int{}
	for _, k := range []string{"FRONTEND_GRPC_PORT", "FRONTEND_HTTP_PORT", "FRONTEND_MEMBERSHIP_PORT", "HISTORY_GRPC_PORT",
		"HISTORY_MEMBERSHIP_PORT", "MATCHING_GRPC_PORT", "MATCHING_MEMBERSHIP_PORT", "WORKER_GRPC_PORT", "WORKER_MEMBERSHIP_PORT"} {
		for {
			// Below 32768: Temporal's cluster_membership table keeps the
			// membership port in a smallint, and the kernel's ephemeral
			// ports (what FreePort gets) are above it.
			p, err := freeLowPort()
			if err != nil {
				return nil, "", err
			}
			dup := false
			for _, q := range ports {
				dup = dup || q == p
			}
			if !dup {
				ports[k] = p
				break
			}
		}
	}
	env := append(os.Environ(), "POSTGRES_SEEDS=127.0.0.1", "DB_PORT="+pgPort, "POSTGRES_USER=civicflow",
		"NUM_HISTORY_SHARDS=4", "BIND_ON_IP=127.0.0.1", "LOG_LEVEL=warn",
		"DYNAMIC_CONFIG_FILE_PATH="+filepath.Join(root, "deploy", "temporal", "dynamicconfig.yaml"))
	for k, v := range ports {
		env = append(env, k+"="+strconv.Itoa(v))
	}
	cmd := exec.Command(bin, "--config-file", filepath.Join(root, "deploy", "temporal", "config.yaml"), "--allow-no-auth", "start")
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	return cmd, "127.0.0.1:" + strconv.Itoa(ports["FRONTEND_GRPC_PORT"]), nil
}

// freeLowPort returns a free TCP port on 127.0.0.1 between 20000 and 32767.
func freeLowPort() (int, error) {
	for range 200 {
		p := 20000 + mrand.IntN(12768)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err == nil {
			l.Close()
			return p, nil
		}
	}
	return 0, errors.New("no free port between 20000 and 32767")
}

// registerNamespace creates "default" (the real server has none) and waits
// until the frontend knows it.
func registerNamespace(ctx context.Context, addr string, log *devenv.LogBuffer, serverDone <-chan struct{}) error {
	deadline := time.Now().Add(2 * time.Minute)
	var err error
	for time.Now().Before(deadline) {
		select {
		case <-serverDone:
			return fmt.Errorf("temporal server exited\nserver log:\n%s", log.Tail(6000))
		default:
		}
		var nc client.NamespaceClient
		if nc, err = client.NewNamespaceClient(client.Options{HostPort: addr}); err == nil {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err = nc.Register(cctx, &workflowservice.RegisterNamespaceRequest{Namespace: "default",
				WorkflowExecutionRetentionPeriod: durationpb.New(72 * time.Hour)})
			if err == nil || strings.Contains(err.Error(), "already") {
				_, err = nc.Describe(cctx, "default")
			}
			cancel()
			nc.Close()
			if err == nil {
				return nil
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	return fmt.Errorf("namespace default: %w\nserver log:\n%s", err, log.Tail(4000))
}

func (c *cluster) startAPI(i int) error {
	p, err := startProc(fmt.Sprintf("api-%d", i), "api", c.apiEnv[i])
	if err != nil {
		return err
	}
	if err := p.WaitHTTP(context.Background(), c.apiURL[i]+"/readyz", time.Minute); err != nil {
		p.Kill()
		return err
	}
	c.mu.Lock()
	c.apis[i] = p
	c.mu.Unlock()
	return nil
}

func (c *cluster) startWorker(i int) error {
	p, err := startProc(fmt.Sprintf("worker-%d", i), "worker", c.workerEnv[i])
	if err != nil {
		return err
	}
	if err := p.WaitHTTP(context.Background(), c.opsURL[i]+"/readyz", time.Minute); err != nil {
		p.Kill()
		return err
	}
	c.mu.Lock()
	c.workers[i] = p
	c.mu.Unlock()
	return nil
}

// stopProc sends SIGTERM and records how long the exit took.
func (c *cluster) stopProc(p *devenv.Process) error {
	took, err := p.Stop(60 * time.Second)
	if ms := took.Milliseconds(); ms > c.maxStopSeconds.Load() {
		c.maxStopSeconds.Store(ms)
	}
	return err
}

// stopWorkers stops every worker (TestE2EWorkerRestartLosesNothing).
func (c *cluster) stopWorkers() {
	c.chaosMu.Lock()
	defer c.chaosMu.Unlock()
	c.mu.Lock()
	c.workersStopped = true
	ws := c.workers
	c.workers = [2]*devenv.Process{}
	c.mu.Unlock()
	for _, w := range ws {
		if w != nil {
			if err := c.stopProc(w); err != nil {
				clusterf("%v", err)
			}
		}
	}
}

func (c *cluster) startWorkers() error {
	for i := range 2 {
		if err := c.startWorker(i); err != nil {
			return err
		}
	}
	c.mu.Lock()
	c.workersStopped = false
	c.mu.Unlock()
	return nil
}

// chaos stops and starts api-0 and worker-0 in turn until stop is closed.
func (c *cluster) chaos(stop <-chan struct{}, every time.Duration) error {
	for n := 0; ; n++ {
		select {
		case <-stop:
			return nil
		case <-time.After(every):
		}
		if err := c.restartOne(n); err != nil {
			return err
		}
	}
}

// restartOne restarts api-0 (even n) or worker-0 (odd n) unless paused.
func (c *cluster) restartOne(n int) error {
	c.chaosMu.Lock()
	defer c.chaosMu.Unlock()
	c.mu.Lock()
	paused, workersStopped, api, wrk := c.chaosPaused, c.workersStopped, c.apis[0], c.workers[0]
	c.mu.Unlock()
	switch {
	case paused:
		return nil
	case n%2 == 0:
		// Drained first, as Kubernetes removes a pod from its Service
		// before stopping it: a connection the kernel accepted just as the
		// listener closed would otherwise be reset with nothing answered
		// (seen once as a 502 in TestE2EHostileRequests). Requests already
		// sent to it still have to finish during the graceful shutdown.
		c.draining.Store(0)
		time.Sleep(drainDelay)
		if err := c.stopProc(api); err != nil {
			return err
		}
		if err := c.startAPI(0); err != nil {
			return err
		}
		c.draining.Store(-1)
	case !workersStopped && wrk != nil:
		if err := c.stopProc(wrk); err != nil {
			return err
		}
		if err := c.startWorker(0); err != nil {
			return err
		}
	default:
		return nil
	}
	c.restarts.Add(1)
	return nil
}

func (c *cluster) pauseChaos(paused bool) {
	c.chaosMu.Lock()
	defer c.chaosMu.Unlock()
	c.mu.Lock()
	c.chaosPaused = paused
	c.mu.Unlock()
}

// drainDelay is how long an API instance gets no new requests before it
// is stopped.
const drainDelay = 200 * time.Millisecond

// loadBalancer sends each request to the next API instance, as a load
// balancer in front of several instances would, skips the one being
// drained, and tries the other instance when one refuses the connection
// (it is restarting). No
// keep-alive to the instances, so that a refused connection is the only
// way a request fails to reach one.
func (c *cluster) loadBalancer() http.Handler {
	// Bodies go out with Expect: 100-continue, as proxies commonly send
	// them: an instance refusing a request by its headers (413 for an
	// oversized body) answers before the body is sent, instead of closing
	// the connection under a body still being written (which resets it and
	// loses the answer).
	transport := &http.Transport{DisableKeepAlives: true, ExpectContinueTimeout: 2 * time.Second}
	var next atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var lastErr error
		for attempt := 0; attempt < 40; attempt++ {
			i := int(next.Add(1) % 2)
			if int64(i) == c.draining.Load() {
				i = 1 - i
			}
			req, err := http.NewRequestWithContext(r.Context(), r.Method, c.apiURL[i]+r.URL.RequestURI(), bytes.NewReader(body))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			req.Header = r.Header.Clone()
			req.Host = r.Host // as a load balancer passes it on
			if len(body) > 0 {
				req.Header.Set("Expect", "100-continue")
			}
			resp, err := transport.RoundTrip(req)
			if err != nil {
				lastErr = err
				if errors.Is(err, syscall.ECONNREFUSED) {
					time.Sleep(50 * time.Millisecond)
					continue
				}
				break
			}
			defer resp.Body.Close()
			for k, v := range resp.Header {
				w.Header()[k] = v
			}
			w.WriteHeader(resp.StatusCode)
			_, _ = io.Copy(w, resp.Body)
			return
		}
		http.Error(w, fmt.Sprintf("load balancer: %v", lastErr), http.StatusBadGateway)
	})
}

func (c *cluster) stopAll() error {
	c.mu.Lock()
	all := append(c.apis[:], c.workers[:]...)
	c.apis, c.workers = [2]*devenv.Process{}, [2]*devenv.Process{}
	c.mu.Unlock()
	var errs []error
	for _, p := range all {
		if p != nil {
			errs = append(errs, c.stopProc(p))
		}
	}
	return errors.Join(errs...)
}

func (c *cluster) killAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range append(c.apis[:], c.workers[:]...) {
		if p != nil {
			p.Kill()
		}
	}
}

// scrape returns the value of every sample of metric in url's /metrics,
// summed.
func scrape(t *testing.T, url, metric string, labels ...string) float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, metric+"{") && !strings.HasPrefix(line, metric+" ") {
			continue
		}
		match := true
		for _, l := range labels {
			match = match && strings.Contains(line, l)
		}
		if !match {
			continue
		}
		f, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		require.NoError(t, err, line)
		sum += f
	}
	return sum
}

// TestClusterMetrics drives one case to district review through the load
// balancer with restarts paused, then reads both APIs' and both workers'
// /metrics: requests by route template, the SDK's metrics, case counters.
func TestClusterMetrics(t *testing.T) {
	e := setup(t)
	if e.cluster == nil {
		t.Skip("runs under make cluster-test")
	}
	c := e.cluster
	c.pauseChaos(true)
	defer c.pauseChaos(false)
	before := 0.0
	for i := range 2 {
		before += scrape(t, c.opsURL[i], "civicflow_case_transitions_total", `stage="district_review"`)
	}
	ts := e.login(t, "ts.xiaozhai")
	e.toReview(t, ts, "dependent")

	routeTotal := 0.0
	for i := range 2 {
		routeTotal += scrape(t, c.apiMetricsURL[i], "civicflow_http_requests_total", `route="/api/v1/cases/:ref/actions/:action"`, `status="200"`)
		require.Positive(t, scrape(t, c.apiMetricsURL[i], "civicflow_http_request_duration_seconds_count"), "api-%d latency histogram", i)
		require.Positive(t, scrape(t, c.opsURL[i], "temporal_request"), "worker-%d SDK metrics", i)
	}
	require.GreaterOrEqual(t, routeTotal, 2.0, "accept and record_investigation counted under their route template")
	after := 0.0
	for i := range 2 {
		after += scrape(t, c.opsURL[i], "civicflow_case_transitions_total", `stage="district_review"`)
	}
	require.GreaterOrEqual(t, after-before, 1.0, "the case reaching district review was counted by a worker")
}
