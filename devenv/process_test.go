package devenv

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const processHelperEnv = "DEVENV_PROCESS_HELPER"

// helperProcess starts this test binary as TestHelperProcess in the given
// mode.
func helperProcess(t *testing.T, mode string, log io.Writer) *Process {
	t.Helper()
	p, err := StartProcess("helper", []string{os.Args[0], "-test.run=^TestHelperProcess$"},
		append(os.Environ(), processHelperEnv+"="+mode), log)
	require.NoError(t, err)
	t.Cleanup(p.Kill)
	return p
}

func freeURL(t *testing.T) (addr, url string) {
	t.Helper()
	port, err := FreePort()
	require.NoError(t, err)
	addr = "127.0.0.1:" + strconv.Itoa(port)
	return addr, "http://" + addr + "/"
}

func TestProcessWaitHTTPAndStop(t *testing.T) {
	addr, url := freeURL(t)
	log := &LogBuffer{}
	p := helperProcess(t, "serve:"+addr, log)
	require.NoError(t, p.WaitHTTP(context.Background(), url, time.Minute))
	require.False(t, p.Exited())
	require.Nil(t, p.Err())
	require.Greater(t, p.Pid(), 0)
	require.Equal(t, "helper", p.Name())

	took, err := p.Stop(10 * time.Second)
	require.NoError(t, err)
	require.Less(t, took, 10*time.Second)
	require.True(t, p.Exited())
	require.NoError(t, p.Wait())
	require.Contains(t, p.Output(), "helper serving")
	require.Contains(t, p.Output(), "helper got SIGTERM")
	require.Contains(t, log.String(), "helper got SIGTERM", "the caller's log writer gets the output too")

	_, err = p.Stop(time.Second)
	require.ErrorContains(t, err, "had already exited")
}

func TestProcessWaitHTTPFailsWhenProcessExits(t *testing.T) {
	_, url := freeURL(t) // nobody listens there
	p := helperProcess(t, "fail", nil)
	start := time.Now()
	err := p.WaitHTTP(context.Background(), url, time.Minute)
	require.Error(t, err)
	require.Less(t, time.Since(start), 30*time.Second, "must not wait out the minute")
	require.Contains(t, err.Error(), "helper exited during start-up")
	require.Contains(t, err.Error(), "helper failing on purpose")
	require.Error(t, p.Err())
	select {
	case <-p.Done():
	default:
		t.Fatal("Done must be closed after the process exited")
	}
}

func TestProcessWaitHTTPTimesOut(t *testing.T) {
	_, url := freeURL(t)
	p := helperProcess(t, "ignore-term", nil)
	err := p.WaitHTTP(context.Background(), url, 500*time.Millisecond)
	require.Error(t, err)
	require.Contains(t, err.Error(), "not ready within 500ms")
	require.False(t, p.Exited())
}

func TestProcessStopKillsAfterGrace(t *testing.T) {
	log := &LogBuffer{}
	p := helperProcess(t, "ignore-term", log)
	require.Eventually(t, func() bool { return strings.Contains(log.String(), "ignoring SIGTERM") },
		30*time.Second, 20*time.Millisecond)
	took, err := p.Stop(500 * time.Millisecond)
	require.Error(t, err)
	require.Contains(t, err.Error(), "did not exit within 500ms of SIGTERM")
	require.Contains(t, err.Error(), "ignoring SIGTERM", "the error quotes the output")
	require.GreaterOrEqual(t, took, 500*time.Millisecond)
	require.True(t, p.Exited())
	require.True(t, isSignalExit(p.Err(), syscall.SIGKILL), "killed: %v", p.Err())
	p.Kill() // idempotent once gone
	var none *Process
	none.Kill() // nil is ignored
}

func TestLogBufferTail(t *testing.T) {
	b := &LogBuffer{}
	fmt.Fprint(b, "0123456789")
	require.Equal(t, "0123456789", b.Tail(10))
	require.Equal(t, "...789", b.Tail(3))
	require.Equal(t, "0123456789", b.String())
}

// TestHelperProcess is the child of the Process tests.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(processHelperEnv)
	if mode == "" {
		t.Skip("helper process only")
	}
	switch {
	case strings.HasPrefix(mode, "serve:"):
		term := make(chan os.Signal, 1)
		signal.Notify(term, syscall.SIGTERM)
		srv := &http.Server{Addr: strings.TrimPrefix(mode, "serve:"), Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}
		go func() {
			time.Sleep(300 * time.Millisecond) // not ready at once
			fmt.Println("helper serving")
			_ = srv.ListenAndServe()
		}()
		<-term
		fmt.Println("helper got SIGTERM")
		os.Exit(0)
	case mode == "fail":
		fmt.Fprintln(os.Stderr, "helper failing on purpose")
		os.Exit(3)
	case mode == "ignore-term":
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ignoring SIGTERM")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	t.Fatalf("unknown helper mode %q", mode)
}
