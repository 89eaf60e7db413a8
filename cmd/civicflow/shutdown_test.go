package main

// Graceful shutdown, tested on real processes: `civicflow api` and
// `civicflow worker` run as children (see procs_test.go), get SIGTERM while
// a request or an activity is running, finish it, and exit 0 within their
// bound.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"civicflow/devenv"
	"civicflow/verification"
)

// childEnv is the environment of a civicflow child on the test system.
func childEnv(e *e2eSystem, taskQueue string) []string {
	env := []string{"CIVICFLOW_DATABASE_URL=" + e.cfg.DatabaseURL, "CIVICFLOW_TEMPORAL_ADDRESS=" + e.cfg.TemporalAddress,
		"CIVICFLOW_TASK_QUEUE=" + taskQueue, "CIVICFLOW_NOTICE_PERIOD=2s", "CIVICFLOW_TRUSTED_PROXIES=127.0.0.1"}
	return append(env, keyEnv(e.cfg)...)
}

func TestAPIDrainsOnSIGTERM(t *testing.T) {
	e := setup(t)
	port, err := devenv.FreePort()
	require.NoError(t, err)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	const bound = 8 * time.Second
	p, err := startProc("api", "api", append(childEnv(e, e.cfg.TaskQueue),
		fmt.Sprintf("CIVICFLOW_HTTP_ADDR=127.0.0.1:%d", port), "CIVICFLOW_HTTP_SHUTDOWN_TIMEOUT="+bound.String(),
		"CIVICFLOW_METRICS_ADDR=127.0.0.1:0"))
	require.NoError(t, err)
	defer p.Kill()
	require.NoError(t, p.WaitHTTP(context.Background(), url+"/readyz", time.Minute))

	// A login whose body arrives slowly: in flight when SIGTERM comes.
	body := fmt.Sprintf(`{"username":"ts.xiaozhai","password":%q}`, testPassword)
	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodPost, url+"/api/v1/auth/login", pr)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	type result struct {
		status int
		body   string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		done <- result{status: resp.StatusCode, body: string(b)}
	}()
	_, err = pw.Write([]byte(body[:10]))
	require.NoError(t, err)
	time.Sleep(200 * time.Millisecond) // the server has the request line and headers

	stopped := make(chan error, 1)
	var took time.Duration
	go func() {
		var err error
		took, err = p.Stop(bound + 5*time.Second)
		stopped <- err
	}()
	time.Sleep(time.Second)
	select {
	case err := <-stopped:
		t.Fatalf("the API exited with a request in flight: %v", err)
	default:
	}
	res, err := http.Get(url + "/healthz")
	if err == nil {
		res.Body.Close()
	}
	require.Error(t, err, "no new connections once draining")

	_, err = pw.Write([]byte(body[10:]))
	require.NoError(t, err)
	require.NoError(t, pw.Close())
	r := <-done
	require.NoError(t, r.err)
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Contains(t, r.body, "token")
	require.NoError(t, <-stopped, "exit status 0")
	require.Less(t, took, bound, "exited within CIVICFLOW_HTTP_SHUTDOWN_TIMEOUT")
	t.Logf("api: SIGTERM to exit %s with one request drained", took)
}

// slowVerifier answers like the stand-in, after a pause, and reports when
// a call arrives.
type slowVerifier struct {
	next  http.Handler
	pause time.Duration
	once  sync.Once
	hit   chan struct{}
}

func (s *slowVerifier) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.once.Do(func() { close(s.hit) })
	time.Sleep(s.pause)
	s.next.ServeHTTP(w, r)
}

func TestWorkerFinishesActivityOnSIGTERM(t *testing.T) {
	e := setup(t)
	vs, err := verification.NewDevServer()
	require.NoError(t, err)
	slow := &slowVerifier{next: vs, pause: 3 * time.Second, hit: make(chan struct{})}
	verifier := httptest.NewServer(slow)
	defer verifier.Close()

	// An API of this test's own on its own task queue, so that only the
	// child worker runs these cases.
	queue := "civicflow-shutdown-test"
	cfg := e.cfg
	cfg.TaskQueue = queue
	apiSrv := httptest.NewServer(newAPI(cfg, e.tc, e.db, slog.New(slog.NewTextHandler(io.Discard, nil))).Handler())
	defer apiSrv.Close()
	te := &e2eSystem{cfg: cfg, db: e.db, tc: e.tc, api: apiSrv, verifierURL: verifier.URL}

	opsPort, err := devenv.FreePort()
	require.NoError(t, err)
	const bound = 15 * time.Second
	p, err := startProc("worker", "worker", append(childEnv(e, queue), "CIVICFLOW_VERIFICATION_URL="+verifier.URL,
		fmt.Sprintf("CIVICFLOW_WORKER_METRICS_ADDR=127.0.0.1:%d", opsPort), "CIVICFLOW_WORKER_STOP_TIMEOUT="+bound.String()))
	require.NoError(t, err)
	defer p.Kill()
	require.NoError(t, p.WaitHTTP(context.Background(), fmt.Sprintf("http://127.0.0.1:%d/readyz", opsPort), time.Minute))

	ts := te.login(t, "ts.xiaozhai")
	c := te.submit(t, application(newIDNumber(t), "610113001", "dependent"), "")
	te.mustAct(t, ts, c.Ref, "accept", map[string]any{}, "investigation")
	te.visited(t, ts, c.Ref, visitBody("eligible"))
	select {
	case <-slow.hit: // CheckHousehold is running in the child
	case <-time.After(30 * time.Second):
		t.Fatalf("the household check never reached the verification platform\n%s", p.Tail(3000))
	}
	took, err := p.Stop(bound + 5*time.Second)
	require.NoError(t, err, "exit status 0")
	require.Less(t, took, bound, "exited within CIVICFLOW_WORKER_STOP_TIMEOUT")
	require.GreaterOrEqual(t, took, 2*time.Second, "Stop waited for the running activity")
	checks, err := e.db.CheckResults(context.Background(), c.ID)
	require.NoError(t, err)
	require.Len(t, checks, 1, "the activity running at SIGTERM finished and stored its result")
	require.True(t, strings.Contains(p.Output(), `"worker stopped"`), "the worker logged its stop")
	t.Logf("worker: SIGTERM to exit %s with one activity finished", took)
}
