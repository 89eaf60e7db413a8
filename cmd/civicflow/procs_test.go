package main

// Running `civicflow api` and `civicflow worker` as real child processes in
// tests. The test binary is package main, so it runs them itself: with
// CIVICFLOW_TEST_EXEC=<command> set, TestMain calls run(<command>) instead
// of the tests. No separate build is needed and the code is the code under
// test.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

const execEnv = "CIVICFLOW_TEST_EXEC"

// execMain is main() for a child started by startProc.
func execMain(cmd string) int {
	if err := run(strings.Fields(cmd), os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "civicflow:", err)
		return 1
	}
	return 0
}

// proc is one civicflow child process.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	log  *syncBuffer
}

// syncBuffer collects a child's output for failure messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// tail is the last n bytes of the output.
func (s *syncBuffer) tail(n int) string {
	out := s.String()
	if len(out) > n {
		out = "..." + out[len(out)-n:]
	}
	return out
}

// startProc runs `civicflow <command>` with env added to this process's
// environment.
func startProc(name, command string, env []string) (*proc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(append(os.Environ(), execEnv+"="+command), env...)
	p := &proc{name: name, cmd: cmd, done: make(chan struct{}), log: &syncBuffer{}}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the test
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

// signalStop sends SIGTERM and returns how long the process took to exit,
// killing it after bound.
func (p *proc) signalStop(bound time.Duration) (time.Duration, error) {
	start := time.Now()
	select {
	case <-p.done:
		return 0, fmt.Errorf("%s had already exited: %v\n%s", p.name, p.err, p.log.tail(2000))
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return 0, err
	}
	select {
	case <-p.done:
		if p.err != nil {
			return time.Since(start), fmt.Errorf("%s exited with %v after SIGTERM\n%s", p.name, p.err, p.log.tail(2000))
		}
		return time.Since(start), nil
	case <-time.After(bound):
		_ = p.cmd.Process.Kill()
		<-p.done
		return time.Since(start), fmt.Errorf("%s did not exit within %s of SIGTERM\n%s", p.name, bound, p.log.tail(2000))
	}
}

func (p *proc) kill() {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// waitHTTP waits until url answers 200.
func waitHTTP(ctx context.Context, p *proc, url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited during start-up: %v\n%s", p.name, p.err, p.log.tail(3000))
		default:
		}
		if time.Now().After(deadline) {
			return errors.Join(fmt.Errorf("%s: %s not ready within %s\n%s", p.name, url, within, p.log.tail(3000)), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
