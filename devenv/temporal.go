package devenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
)

// TemporalOptions configures StartTemporal.
type TemporalOptions struct {
	// BinPath is the temporal CLI binary; "" = the CIVICFLOW_TEMPORAL_BIN
	// environment variable, then bin/temporal in the project root (built by
	// `make bin/temporal`), then `temporal` on PATH.
	BinPath string
	// DBFile is a SQLite file for persistent state; "" keeps state in memory.
	DBFile string
	// Port is the frontend gRPC port on 127.0.0.1; 0 picks a free one.
	Port int
	// UIPort is the Web UI port; 0 picks a free one. Ignored when Headless.
	UIPort int
	// Headless disables the Web UI (for tests).
	Headless bool
	// Namespace is registered at start-up and waited for. Default
	// "civicflow", the namespace production uses (the server always has
	// "default" too).
	Namespace string
	// UICodecEndpoint is the remote codec the Web UI decodes payloads with
	// (civicflow's codec server); "" = none.
	UICodecEndpoint string
	// Log receives the server's output; nil discards it.
	Log io.Writer
}

// Temporal is a running Temporal dev server started by StartTemporal.
type Temporal struct {
	opts   TemporalOptions
	port   int
	uiPort int
	proc   *child
}

// DefaultNamespace is the namespace StartTemporal ensures unless told
// otherwise.
const DefaultNamespace = "civicflow"

const (
	temporalStartTimeout = 60 * time.Second
	temporalStopGrace    = 20 * time.Second
)

// StartTemporal runs `temporal server start-dev` on 127.0.0.1 and returns
// once the frontend answers health checks and the namespace exists. The
// server runs until Stop is called or the calling process dies.
func StartTemporal(ctx context.Context, opts TemporalOptions) (*Temporal, error) {
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace
	}
	bin, err := temporalBinary(opts.BinPath)
	if err != nil {
		return nil, err
	}
	opts.BinPath = bin
	if opts.DBFile != "" {
		if opts.DBFile, err = filepath.Abs(opts.DBFile); err != nil {
			return nil, fmt.Errorf("devenv: temporal db file: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(opts.DBFile), 0o755); err != nil {
			return nil, fmt.Errorf("devenv: temporal db dir: %w", err)
		}
	}

	attempts := 1
	if opts.Port == 0 || (opts.UIPort == 0 && !opts.Headless) {
		attempts = 3 // a picked port may be taken before the server binds it
	}
	t := &Temporal{opts: opts}
	for i := 0; ; i++ {
		err = t.start(ctx)
		if err == nil {
			return t, nil
		}
		if i+1 >= attempts || !errors.Is(err, errPortInUse) {
			return nil, err
		}
	}
}

func (t *Temporal) start(ctx context.Context) error {
	var err error
	t.port, t.uiPort = t.opts.Port, 0
	if t.port == 0 {
		if t.port, err = FreePort(); err != nil {
			return err
		}
	}
	args := []string{"server", "start-dev",
		"--ip", "127.0.0.1",
		"--port", strconv.Itoa(t.port),
		"--log-format", "text",
		"--log-level", "warn",
	}
	if t.opts.Headless {
		args = append(args, "--headless")
	} else {
		t.uiPort = t.opts.UIPort
		for t.uiPort == 0 || t.uiPort == t.port {
			if t.uiPort, err = FreePort(); err != nil {
				return err
			}
		}
		args = append(args, "--ui-ip", "127.0.0.1", "--ui-port", strconv.Itoa(t.uiPort))
		if t.opts.UICodecEndpoint != "" {
			args = append(args, "--ui-codec-endpoint", t.opts.UICodecEndpoint)
		}
	}
	if t.opts.DBFile != "" {
		args = append(args, "--db-filename", t.opts.DBFile,
			"--sqlite-pragma", "journal_mode=wal",
			"--sqlite-pragma", "synchronous=normal")
	}
	if t.opts.Namespace != "default" {
		args = append(args, "--namespace", t.opts.Namespace)
	}

	tail := &tailWriter{max: 8192}
	out := multiWriter(t.opts.Log, tail)
	cmd := exec.Command(t.opts.BinPath, args...)
	cmd.Env = os.Environ()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr(syscall.SIGTERM, nil)
	proc, err := startChild("temporal", cmd)
	if err != nil {
		return err
	}
	t.proc = proc

	ctx, cancel := context.WithTimeout(ctx, temporalStartTimeout)
	defer cancel()
	for {
		err := t.ready(ctx)
		if err == nil {
			return nil
		}
		if proc.exited() {
			msg := strings.TrimSpace(tail.String())
			if strings.Contains(msg, "address already in use") || strings.Contains(msg, "already in use") {
				return fmt.Errorf("devenv: temporal on port %d: %w: %s", t.port, errPortInUse, msg)
			}
			return fmt.Errorf("devenv: temporal exited during start-up (%v): %s", proc.err, msg) //nolint:errorlint // proc.err is nil after a clean exit, which %w would print as %!w(<nil>)
		}
		select {
		case <-ctx.Done():
			_ = proc.stop(syscall.SIGTERM, temporalStopGrace)
			return fmt.Errorf("devenv: temporal on %s not ready: %w (last error: %w; output tail: %s)",
				t.Address(), ctx.Err(), err, strings.TrimSpace(tail.String()))
		case <-proc.done:
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// ready dials the frontend, checks its health and that the namespace exists.
func (t *Temporal) ready(ctx context.Context) error {
	// Don't let the SDK retry for long on its own: we loop here.
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if d, err := (&net.Dialer{Timeout: time.Second}).DialContext(cctx, "tcp", t.Address()); err != nil {
		return err
	} else {
		d.Close()
	}
	copts := client.Options{
		HostPort:  t.Address(),
		Namespace: t.opts.Namespace,
		Logger:    tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	}
	c, err := client.DialContext(cctx, copts)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.CheckHealth(cctx, &client.CheckHealthRequest{}); err != nil {
		return err
	}
	nc, err := client.NewNamespaceClient(copts)
	if err != nil {
		return err
	}
	defer nc.Close()
	_, err = nc.Describe(cctx, t.opts.Namespace)
	return err
}

// Pid is the process id of the dev server.
func (t *Temporal) Pid() int { return t.proc.pid() }

// Address returns host:port of the frontend gRPC service.
func (t *Temporal) Address() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(t.port))
}

// UIURL returns the Web UI's URL, or "" when headless.
func (t *Temporal) UIURL() string {
	if t.opts.Headless || t.uiPort == 0 {
		return ""
	}
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(t.uiPort))
}

// Namespace returns the namespace that was ensured at start-up.
func (t *Temporal) Namespace() string { return t.opts.Namespace }

// Stop shuts the server down (SIGTERM), waits up to 20s, then kills it.
// Calling it again returns the first result.
func (t *Temporal) Stop() error {
	if t == nil || t.proc == nil {
		return nil
	}
	return t.proc.stop(syscall.SIGTERM, temporalStopGrace)
}

// FindTemporalBinary resolves the temporal CLI as StartTemporal does with an
// empty BinPath: CIVICFLOW_TEMPORAL_BIN, then <project root>/bin/temporal,
// then `temporal` on PATH.
func FindTemporalBinary() (string, error) { return temporalBinary("") }

func temporalBinary(path string) (string, error) {
	if path == "" {
		path = os.Getenv("CIVICFLOW_TEMPORAL_BIN")
	}
	if path != "" {
		if st, err := os.Stat(path); err != nil || st.IsDir() {
			return "", fmt.Errorf("devenv: temporal CLI %s not found (build it with `make bin/temporal`)", path)
		}
		return path, nil
	}
	if root, err := ProjectRoot(); err == nil {
		p := filepath.Join(root, "bin", "temporal")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	if p, err := exec.LookPath("temporal"); err == nil {
		return p, nil
	}
	return "", errors.New("devenv: temporal CLI not found: set CIVICFLOW_TEMPORAL_BIN or run `make bin/temporal` in the project root")
}
