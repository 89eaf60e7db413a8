package devenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// processTailMax is how much of a Process's output it keeps in memory for
// failure messages (the full output goes to the caller's log writer).
const processTailMax = 64 << 10

// Process is a program's child process — `civicflow api`, `civicflow
// worker`, the mail sink, the bench's bare worker — started by tests, the
// fault runs and the bench. Like devenv's own services it runs in its own
// process group and is asked to die with its parent (SIGKILL on Linux), so
// a crashed run leaves nothing behind. One goroutine waits for it, so every
// method can observe its exit.
type Process struct {
	name string
	cmd  *exec.Cmd
	tail *tailWriter
	done chan struct{} // closed once the process has exited
	err  error         // result of cmd.Wait, valid after done is closed
}

// StartProcess runs argv[0] with argv[1:] and environment env (nil: this
// process's environment). Its output goes to log, if not nil, and its last
// 64 KiB are kept for Output and Tail.
func StartProcess(name string, argv []string, env []string, log io.Writer) (*Process, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("devenv: start %s: no command", name)
	}
	tail := &tailWriter{max: processTailMax}
	out := multiWriter(log, tail)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr(syscall.SIGKILL, nil)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{name: name, cmd: cmd, tail: tail, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Name is the name given to StartProcess.
func (p *Process) Name() string { return p.name }

// Pid is the process ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits for the process to exit and returns what exec.Cmd.Wait said.
func (p *Process) Wait() error {
	<-p.done
	return p.err
}

// Err is the exit result (as Wait), or nil while the process runs.
func (p *Process) Err() error {
	if !p.Exited() {
		return nil
	}
	return p.err
}

// Signal sends sig to the process.
func (p *Process) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// Kill sends SIGKILL, unless the process has already exited, and waits for
// it to be gone. A nil Process is ignored.
func (p *Process) Kill() {
	if p == nil || p.Exited() {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Stop sends SIGTERM and returns how long the process took to exit,
// killing it after grace. It is an error for the process to have exited
// already, to exit unsuccessfully, or to outlast grace; the error quotes the
// end of its output.
func (p *Process) Stop(grace time.Duration) (time.Duration, error) {
	start := time.Now()
	if p.Exited() {
		return 0, fmt.Errorf("%s had already exited: %v\n%s", p.name, p.err, p.Tail(2000)) //nolint:errorlint // p.err is nil after a clean exit, which %w would print as %!w(<nil>)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return 0, err
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		if p.err != nil {
			return time.Since(start), fmt.Errorf("%s exited with %v after SIGTERM\n%s", p.name, p.err, p.Tail(2000)) //nolint:errorlint // p.err is nil after a clean exit, which %w would print as %!w(<nil>)
		}
		return time.Since(start), nil
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.done
		return time.Since(start), fmt.Errorf("%s did not exit within %s of SIGTERM\n%s", p.name, grace, p.Tail(2000))
	}
}

// Output is the process's output so far (its last 64 KiB).
func (p *Process) Output() string { return p.tail.String() }

// Tail is the last n bytes of the output, marked with "..." when cut.
func (p *Process) Tail(n int) string { return tailOf(p.Output(), n) }

// WaitHTTP polls url until it answers 200. It fails at once when the
// process exits, and after within or when ctx ends; the error quotes the
// end of the process's output.
func (p *Process) WaitHTTP(ctx context.Context, url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if p.Exited() {
			return fmt.Errorf("%s exited during start-up: %v\n%s", p.name, p.err, p.Tail(3000)) //nolint:errorlint // p.err is nil after a clean exit, which %w would print as %!w(<nil>)
		}
		if time.Now().After(deadline) {
			return errors.Join(fmt.Errorf("%s: %s not ready within %s\n%s", p.name, url, within, p.Tail(3000)), err)
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-p.done:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// LogBuffer is a goroutine-safe in-memory log sink, for a service's or a
// child's output quoted in failure messages.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *LogBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *LogBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Tail is the last n bytes written, marked with "..." when cut.
func (s *LogBuffer) Tail(n int) string { return tailOf(s.String(), n) }

func tailOf(out string, n int) string {
	if len(out) > n {
		out = "..." + out[len(out)-n:]
	}
	return out
}
