// Package chaos runs civicflow as separate processes — PostgreSQL, the
// Temporal dev server with a file store, `civicflow api`, `civicflow
// worker` and the verification stand-in — so that a fault test can kill,
// stop and restart each of them while cases are in flight. The test itself
// is chaos_test.go (run it with `make chaos`); this file is the harness.
package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"civicflow/devenv"
	"civicflow/verification"
)

// Options configures Start.
type Options struct {
	Dir          string        // working directory for data and logs (required)
	Binary       string        // the civicflow binary (required)
	TaskQueue    string        // default "civicflow-chaos"
	NoticePeriod time.Duration // length of 公示; default 2s
	Env          []string      // extra environment for api and worker (KEY=value)
}

// System is a running civicflow made of separate processes.
type System struct {
	opts Options

	pgDir        string
	pgPort       int
	Postgres     *devenv.Postgres
	temporalDB   string
	temporalPort int
	Temporal     *devenv.Temporal
	Verifier     *verification.DevServer
	verifierSrv  *httptest.Server
	APIAddr      string

	mu     sync.Mutex
	api    *devenv.Process
	worker *devenv.Process
}

// Start brings up PostgreSQL and Temporal (each on a fixed port, so that a
// restart keeps the address the api and worker use) and the verification
// stand-in. Call StartAPI and StartWorker once the database is migrated.
func Start(ctx context.Context, opts Options) (*System, error) {
	if opts.TaskQueue == "" {
		opts.TaskQueue = "civicflow-chaos"
	}
	if opts.NoticePeriod == 0 {
		opts.NoticePeriod = 2 * time.Second
	}
	s := &System{opts: opts, pgDir: filepath.Join(opts.Dir, "pg"), temporalDB: filepath.Join(opts.Dir, "temporal.db")}
	var err error
	if s.pgPort, err = devenv.FreePort(); err != nil {
		return nil, err
	}
	if s.temporalPort, err = devenv.FreePort(); err != nil {
		return nil, err
	}
	apiPort, err := devenv.FreePort()
	if err != nil {
		return nil, err
	}
	s.APIAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(apiPort))
	if err := s.StartPostgres(ctx); err != nil {
		return nil, err
	}
	if err := s.StartTemporal(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	if err := s.SetupTemporal(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	if s.Verifier, err = verification.NewDevServer(); err != nil {
		s.Stop()
		return nil, err
	}
	s.verifierSrv = httptest.NewServer(s.Verifier)
	return s, nil
}

// DatabaseURL is the PostgreSQL URL (stable across restarts).
func (s *System) DatabaseURL() string { return s.Postgres.URL() }

// TemporalAddress is the Temporal frontend (stable across restarts).
func (s *System) TemporalAddress() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.temporalPort))
}

// APIURL is the base URL of the API process.
func (s *System) APIURL() string { return "http://" + s.APIAddr }

// StartPostgres starts PostgreSQL on the system's data directory and port.
func (s *System) StartPostgres(ctx context.Context) error {
	pg, err := devenv.StartPostgres(ctx, devenv.PostgresOptions{DataDir: s.pgDir, Port: s.pgPort})
	if err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	s.Postgres = pg
	return nil
}

// StopPostgres shuts PostgreSQL down (fast shutdown: open connections are
// cut).
func (s *System) StopPostgres() error { return s.Postgres.Stop() }

// StartTemporal starts the dev server on the system's SQLite file and port.
func (s *System) StartTemporal(ctx context.Context) error {
	logf, err := os.OpenFile(filepath.Join(s.opts.Dir, "temporal.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	t, err := devenv.StartTemporal(ctx, devenv.TemporalOptions{DBFile: s.temporalDB, Port: s.temporalPort, Headless: true, Log: logf})
	if err != nil {
		logf.Close()
		return fmt.Errorf("start temporal: %w", err)
	}
	s.Temporal = t
	return nil
}

// StopTemporal stops the dev server (SIGTERM); its state stays in the file.
func (s *System) StopTemporal() error { return s.Temporal.Stop() }

func (s *System) env(extra ...string) []string {
	env := append(os.Environ(),
		"CIVICFLOW_DATABASE_URL="+s.DatabaseURL(),
		"CIVICFLOW_TEMPORAL_ADDRESS="+s.TemporalAddress(),
		"CIVICFLOW_TASK_QUEUE="+s.opts.TaskQueue,
		"CIVICFLOW_NOTICE_PERIOD="+s.opts.NoticePeriod.String(),
		"CIVICFLOW_LOG_LEVEL=warn",
	)
	env = append(env, s.opts.Env...)
	return append(env, extra...)
}

// SetupTemporal runs `civicflow temporal setup`, as an operator does once
// per namespace before the API and workers start.
func (s *System) SetupTemporal(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, s.opts.Binary, "temporal", "setup")
	cmd.Env = s.env()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("civicflow temporal setup: %w: %s", err, out)
	}
	return nil
}

// StartAPI starts `civicflow api` and waits until it answers /healthz.
func (s *System) StartAPI(ctx context.Context) error {
	p, err := startProc(s.opts.Binary, "api", filepath.Join(s.opts.Dir, "api.log"),
		s.env("CIVICFLOW_HTTP_ADDR="+s.APIAddr, "CIVICFLOW_METRICS_ADDR=127.0.0.1:0"))
	if err != nil {
		return err
	}
	if err := p.WaitHTTP(ctx, s.APIURL()+"/healthz", time.Minute); err != nil {
		p.Kill()
		return err
	}
	s.mu.Lock()
	s.api = p
	s.mu.Unlock()
	return nil
}

// StartWorker starts `civicflow worker`. Verification calls time out after
// 2 seconds, so that the stand-in's injected timeouts cost little time.
func (s *System) StartWorker(ctx context.Context) error {
	p, err := startProc(s.opts.Binary, "worker", filepath.Join(s.opts.Dir, "worker.log"),
		s.env("CIVICFLOW_VERIFICATION_URL="+s.verifierSrv.URL, "CIVICFLOW_VERIFICATION_TIMEOUT=2s",
			"CIVICFLOW_WORKER_METRICS_ADDR=127.0.0.1:0"))
	if err != nil {
		return err
	}
	// The worker has no HTTP port we know; give it a moment and make sure
	// it did not exit at once (bad configuration, unreachable services).
	select {
	case <-p.Done():
		return fmt.Errorf("worker exited at start: %w (see %s)\n%s", p.Err(), filepath.Join(s.opts.Dir, "worker.log"), p.Tail(3000))
	case <-time.After(time.Second):
	case <-ctx.Done():
		p.Kill()
		return ctx.Err()
	}
	s.mu.Lock()
	s.worker = p
	s.mu.Unlock()
	return nil
}

// KillAPI kills the API process with SIGKILL: no graceful shutdown.
func (s *System) KillAPI() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.api.Kill()
}

// KillWorker kills the worker with SIGKILL: running activities and
// workflow tasks are abandoned mid-way.
func (s *System) KillWorker() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.worker.Kill()
}

// SetVerifierFault injects a fault into the verification stand-in through
// its control endpoint, as an operator would.
func (s *System) SetVerifierFault(f verification.Fault) error {
	body, err := json.Marshal(f)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPut, s.verifierSrv.URL+verification.FaultsPath, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("set verifier fault: status %d", resp.StatusCode)
	}
	return nil
}

// Stop ends every process, gently where possible.
func (s *System) Stop() {
	s.mu.Lock()
	if s.api != nil {
		terminate(s.api, 10*time.Second)
	}
	if s.worker != nil {
		terminate(s.worker, 10*time.Second)
	}
	s.mu.Unlock()
	if s.verifierSrv != nil {
		s.verifierSrv.CloseClientConnections()
		s.verifierSrv.Close()
	}
	if s.Temporal != nil {
		_ = s.Temporal.Stop()
	}
	if s.Postgres != nil {
		_ = s.Postgres.Stop()
	}
}

// Logs returns the last bytes of the api and worker logs, for failures.
func (s *System) Logs() string {
	var b bytes.Buffer
	for _, name := range []string{"api.log", "worker.log"} {
		data, _ := os.ReadFile(filepath.Join(s.opts.Dir, name))
		if len(data) > 3000 {
			data = data[len(data)-3000:]
		}
		fmt.Fprintf(&b, "--- %s (tail) ---\n%s\n", name, data)
	}
	return b.String()
}

// startProc runs `bin command`, its output appended to logPath.
func startProc(bin, command, logPath string, env []string) (*devenv.Process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	p, err := devenv.StartProcess(command, []string{bin, command}, env, logf)
	if err != nil {
		logf.Close()
		return nil, fmt.Errorf("start civicflow %s: %w", command, err)
	}
	go func() {
		_ = p.Wait()
		logf.Close()
	}()
	return p, nil
}

// terminate sends SIGTERM, waits up to grace, then kills.
func terminate(p *devenv.Process, grace time.Duration) { _, _ = p.Stop(grace) }
