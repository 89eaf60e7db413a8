package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
)

// TestE2EReadinessWithTemporalDown runs an API instance whose Temporal
// cannot be reached (nothing listens at its address) on the real
// database: it stays ready and says Temporal is degraded, reads and
// console pages work, and actions answer 503 with EUNAVAILABLE.
func TestE2EReadinessWithTemporalDown(t *testing.T) {
	e := setup(t)
	ts := e.login(t, "ts.xiaozhai")
	c := e.submit(t, application(newIDNumber(t), "610113001", "dependent"), "")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := ln.Addr().String()
	require.NoError(t, ln.Close())
	tc, err := client.NewLazyClient(client.Options{HostPort: dead, Namespace: e.cfg.TemporalNamespace,
		Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	require.NoError(t, err)
	defer tc.Close()
	cfg := e.cfg
	cfg.ActionTimeout = 2 * time.Second
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := withConsole(newAPI(cfg, tc, e.db, log), log)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()

	r := doAt(t, srv.URL, http.MethodGet, "/readyz", nil, nil)
	require.Equal(t, http.StatusOK, r.Status, "Temporal down does not take the instance out of service: %s", r.Raw)
	var ready struct {
		Ready    bool              `json:"ready"`
		Checks   map[string]string `json:"checks"`
		Degraded []string          `json:"degraded"`
	}
	require.NoError(t, json.Unmarshal(r.Raw, &ready))
	require.True(t, ready.Ready)
	require.Equal(t, map[string]string{"postgres": "ok", "temporal": "unavailable"}, ready.Checks)
	require.Equal(t, []string{"temporal"}, ready.Degraded)

	r = doAt(t, srv.URL, http.MethodGet, "/api/v1/cases/"+c.Ref, ts, nil)
	require.Equal(t, http.StatusOK, r.Status, "reads need only PostgreSQL: %s", r.Raw)
	r = doAt(t, srv.URL, http.MethodGet, "/console/login", nil, nil)
	require.Equal(t, http.StatusOK, r.Status, "console pages need only PostgreSQL")

	r = postJSONAt(t, srv.URL, "/api/v1/cases/"+c.Ref+"/actions/accept", ts, map[string]any{})
	require.Equal(t, http.StatusServiceUnavailable, r.Status, string(r.Raw))
	require.Equal(t, "unavailable", r.errCode())

	// With Temporal up (the shared system) nothing is degraded.
	r = e.do(t, http.MethodGet, "/readyz", nil, nil)
	require.Equal(t, http.StatusOK, r.Status)
	require.NoError(t, json.Unmarshal(r.Raw, &ready))
	require.Empty(t, ready.Degraded)
}
