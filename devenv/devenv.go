// Package devenv starts private local services — a PostgreSQL cluster and a
// Temporal dev server — for `civicflow dev` and for tests.
//
// Every service is a plain child process of the calling program, bound to
// 127.0.0.1 only, on a fixed or freshly picked free port. Data can be
// throwaway (a temporary directory, an in-memory Temporal store) or
// persistent (a data directory reused across runs, a SQLite file for
// Temporal). Nothing is daemonised: each child is asked to die with its
// parent (Linux parent-death signal) and is shut down properly by Stop, so a
// crashed or interrupted run never leaves services behind.
//
// PostgreSQL refuses to run as root. When the caller is root, initdb and
// postgres run as the unprivileged "postgres" system user, the data directory
// is owned by that user, and StartPostgres makes the directories leading to
// it traversable where that is safe (directories it created, the data
// directory's own parent, temporary directories), or fails with an error that
// names the blocking directory.
//
// Nothing here needs a network beyond loopback, Docker, or a service already
// running on the machine: PostgreSQL comes from the system packages
// (/usr/lib/postgresql/<version>/bin) and the Temporal CLI is built into the
// project's bin/ directory by `make bin/temporal`.
package devenv

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// FreePort returns a TCP port on 127.0.0.1 that was free at the time of the
// call. Another process may still take it before the caller binds it; the
// Start functions retry with a new port when a picked port turns out busy.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("devenv: find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ProjectRoot returns the directory containing go.mod, walking up from the
// working directory.
func ProjectRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("devenv: working directory: %w", err)
	}
	for dir := wd; ; {
		if st, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil && !st.IsDir() {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("devenv: no go.mod found in %s or any parent directory", wd)
		}
		dir = parent
	}
}

// child is a started service process. A single goroutine waits for it, so
// both the start-up code and Stop can observe its exit.
type child struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited
	err  error         // result of cmd.Wait, valid after done is closed

	stopOnce sync.Once
	stopErr  error
}

func startChild(name string, cmd *exec.Cmd) (*child, error) {
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("devenv: start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// pid is the process id of the child.
func (c *child) pid() int { return c.cmd.Process.Pid }

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop sends sig, waits up to grace for the process to exit, then kills it.
// It is safe to call more than once.
func (c *child) stop(sig syscall.Signal, grace time.Duration) error {
	c.stopOnce.Do(func() {
		if c.exited() {
			return // it already ended; whatever it said went to its log
		}
		if err := c.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
			c.stopErr = fmt.Errorf("devenv: signal %s: %w", c.name, err)
		}
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-c.done:
			if c.err != nil && !isSignalExit(c.err, sig) {
				c.stopErr = fmt.Errorf("devenv: %s exited: %w", c.name, c.err)
			}
		case <-t.C:
			_ = c.cmd.Process.Kill()
			<-c.done
			c.stopErr = fmt.Errorf("devenv: %s did not stop within %s after %s; killed", c.name, grace, sig)
		}
	})
	return c.stopErr
}

// isSignalExit reports whether err says the process was ended by sig, which
// is a normal result of stopping it.
func isSignalExit(err error, sig syscall.Signal) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == sig
}

// tailWriter keeps the last bytes written to it, to quote in errors when a
// service fails to start.
type tailWriter struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if len(w.buf) > w.max {
		w.buf = append([]byte(nil), w.buf[len(w.buf)-w.max:]...)
	}
	return len(p), nil
}

func (w *tailWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf)
}

func multiWriter(log io.Writer, tail *tailWriter) io.Writer {
	if log == nil {
		return tail
	}
	return io.MultiWriter(log, tail)
}
