package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"civicflow"
)

// TestE2EWaitForChange: a page showing a case asks for its next change
// (after_version) instead of reloading. The answer comes once the case
// moves on, the official's read is audited once, a wait with nothing
// happening answers the case unchanged, and bad parameters are refused
// with the field named.
func TestE2EWaitForChange(t *testing.T) {
	e := setup(t)
	ts := e.login(t, "ts.xiaozhai")
	c := e.submit(t, application(newIDNumber(t), "610113001", "dependent"), "")
	path := "/api/v1/cases/" + c.Ref

	now := e.do(t, http.MethodGet, path, ts, nil)
	require.Equal(t, http.StatusOK, now.Status, string(now.Raw))
	version := int(now.Body["version"].(float64))
	require.Equal(t, string(civicflow.StageIntake), now.str("stage"))

	// Nothing happens: the answer after the wait shows the same version.
	start := time.Now()
	same := e.do(t, http.MethodGet, fmt.Sprintf("%s?after_version=%d&wait=1s", path, version), ts, nil)
	require.Equal(t, http.StatusOK, same.Status, string(same.Raw))
	require.Equal(t, float64(version), same.Body["version"])
	require.GreaterOrEqual(t, time.Since(start), time.Second, "it waited")

	// The township accepts while the page waits: the page gets the new stage.
	type answer struct {
		status int
		body   map[string]any
		err    error
	}
	got := make(chan answer, 1)
	go func() {
		// No require here: it may not stop the test from another goroutine.
		req, err := http.NewRequest(http.MethodGet, e.api.URL+fmt.Sprintf("%s?after_version=%d&wait=20s", path, version), nil)
		if err != nil {
			got <- answer{err: err}
			return
		}
		req.Header.Set("X-Forwarded-For", testClientIP(t))
		req.Header.Set("Authorization", ts["Authorization"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			got <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		var body map[string]any
		err = json.NewDecoder(resp.Body).Decode(&body)
		got <- answer{status: resp.StatusCode, body: body, err: err}
	}()
	time.Sleep(300 * time.Millisecond) // the page is waiting
	e.mustAct(t, ts, c.Ref, "accept", map[string]any{}, "investigation")
	a := <-got
	require.NoError(t, a.err)
	require.Equal(t, http.StatusOK, a.status, "%v", a.body)
	require.Equal(t, string(civicflow.StageInvestigation), a.body["stage"])
	require.Greater(t, a.body["version"].(float64), float64(version))

	// An old version answers at once.
	r := e.do(t, http.MethodGet, fmt.Sprintf("%s?after_version=%d", path, version), ts, nil)
	require.Equal(t, string(civicflow.StageInvestigation), r.str("stage"))

	for _, bad := range []struct{ query, field string }{
		{"after_version=-1", "after_version"},
		{"after_version=x", "after_version"},
		{"after_version=1&wait=21s", "wait"},
		{"after_version=1&wait=0", "wait"},
		{"after_version=1&wait=soon", "wait"},
		{"wait=5s", "wait"},
	} {
		r := e.do(t, http.MethodGet, path+"?"+bad.query, ts, nil)
		require.Equal(t, http.StatusUnprocessableEntity, r.Status, "%s: %s", bad.query, r.Raw)
		require.Contains(t, string(r.Raw), `"field":"`+bad.field+`"`, bad.query)
	}

	// Another township's official may not wait on the case either.
	other := e.login(t, "ts.dayanta")
	r = e.do(t, http.MethodGet, fmt.Sprintf("%s?after_version=%d&wait=1s", path, version+100), other, nil)
	require.Equal(t, http.StatusForbidden, r.Status, string(r.Raw))
}
