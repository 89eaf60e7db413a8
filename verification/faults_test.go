package verification

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInjectedFaults: the stand-in fails checks while a fault is in force,
// in a way the client treats as retryable, and recovers when it ends.
func TestInjectedFaults(t *testing.T) {
	t.Parallel()
	vs, err := NewDevServer()
	require.NoError(t, err)
	srv := httptest.NewServer(vs)
	defer srv.Close()
	id := vs.SeededIDNumbers()[0]
	c := NewClient(srv.URL, 300*time.Millisecond)
	ctx := context.Background()

	res, err := c.Check(ctx, id)
	require.NoError(t, err)
	require.True(t, res.Found)

	put := func(body string) int {
		req, err := http.NewRequest(http.MethodPut, srv.URL+FaultsPath, bytes.NewBufferString(body))
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusBadRequest, put(`{"mode":"explode"}`))

	require.Equal(t, http.StatusOK, put(`{"mode":"error","seconds":0.5}`))
	_, err = c.Check(ctx, id)
	require.ErrorContains(t, err, "503")
	require.False(t, errors.Is(err, ErrRejected), "an outage is retryable")
	require.Eventually(t, func() bool { _, err := c.Check(ctx, id); return err == nil }, 5*time.Second, 50*time.Millisecond)

	require.NoError(t, vs.SetFault(Fault{Mode: FaultTimeout}))
	start := time.Now()
	_, err = c.Check(ctx, id)
	require.Error(t, err)
	require.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond, "the call timed out on the client")
	require.GreaterOrEqual(t, vs.CurrentFault().Injected, int64(2), "the checks failed by faults are counted")

	req, err := http.NewRequest(http.MethodDelete, srv.URL+FaultsPath, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Empty(t, vs.CurrentFault().Mode)
	_, err = c.Check(ctx, id)
	require.NoError(t, err)
}
