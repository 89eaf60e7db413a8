package api

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRequestLogShowsTheAnsweredStatus: a request refused with a domain
// error is logged with the status the client got, not 200.
func TestRequestLogShowsTheAnsweredStatus(t *testing.T) {
	var logs bytes.Buffer
	s := New(nil, nil, Config{}, slog.New(slog.NewJSONHandler(&logs, nil)))
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/cases", nil))
	require.Equal(t, http.StatusUnauthorized, rec.Code)

	var found bool
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var entry map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &entry), line)
		if entry["msg"] == "request" && entry["path"] == "/api/v1/cases" {
			found = true
			require.Equal(t, float64(http.StatusUnauthorized), entry["status"], line)
		}
	}
	require.True(t, found, "no request log line in %s", logs.String())
}
