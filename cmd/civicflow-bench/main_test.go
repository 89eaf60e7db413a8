package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"civicflow/devenv"
)

// TestMain lets the test binary stand in for the bench binary as the bare
// worker process, which the bench starts by running itself.
func TestMain(m *testing.M) {
	if os.Getenv(envRole) == roleBareWorker {
		if err := runBareWorker(); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSmoke runs the whole bench at a tiny size so that its code does not
// rot: every section must run and report non-zero counts. It asserts
// nothing about speed.
func TestSmoke(t *testing.T) {
	if _, err := devenv.FindTemporalBinary(); err != nil {
		if os.Getenv("CIVICFLOW_REQUIRE_SERVICES") != "" {
			t.Fatalf("CIVICFLOW_REQUIRE_SERVICES is set but the temporal CLI is missing: %v", err)
		}
		t.Skipf("temporal CLI not built (make bin/temporal): %v", err)
	}
	if _, err := devenv.FindPostgresBin(); err != nil {
		if os.Getenv("CIVICFLOW_REQUIRE_SERVICES") != "" {
			t.Fatalf("CIVICFLOW_REQUIRE_SERVICES is set but PostgreSQL is missing: %v", err)
		}
		t.Skipf("PostgreSQL not installed: %v", err)
	}
	root, err := devenv.ProjectRoot()
	require.NoError(t, err)
	dir := t.TempDir()
	bin := filepath.Join(dir, "civicflow")
	build := exec.Command("go", "build", "-o", bin, "./cmd/civicflow")
	build.Dir = root
	out, err := build.CombinedOutput()
	require.NoError(t, err, "build civicflow: %s", out)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cpusBefore := allowedCPUs()
	results := filepath.Join(dir, "results")
	var log bytes.Buffer
	err = run(ctx, []string{"-civicflow", bin, "-out", results, "-stores", "memory", "-cases", "4", "-in-flight", "2",
		"-pairs", "2", "-warmup", "1", "-profile-for", "2s", "-rates", "4", "-rate-for", "1s",
		"-read-cases", "1000", "-read-samples", "10", "-history-sample", "2"}, &log)
	require.NoError(t, err, "bench output:\n%s", log.String())

	b, err := os.ReadFile(filepath.Join(results, "bench.json"))
	require.NoError(t, err)
	var rep Report
	require.NoError(t, json.Unmarshal(b, &rep))
	require.Len(t, rep.Stores, 1)
	s := rep.Stores[0]
	require.Equal(t, "memory", s.Store)
	require.Len(t, s.Engine.Rounds, 4, "two pairs of two rounds")
	require.Positive(t, s.Engine.Civicflow.Cases)
	require.Positive(t, s.Engine.Bare.Cases)
	require.Positive(t, s.Engine.Ratio)
	for _, a := range []string{"submit", "accept", "record_investigation", "approve", "confirm_admission"} {
		require.Positive(t, s.Actions[a].Count, a)
	}
	require.NotEmpty(t, s.Submit.Rates)
	require.Positive(t, s.Submit.Rates[0].Latency.Count)
	require.Positive(t, s.Resources.PeakRSSMiB["api"])
	require.Positive(t, s.Resources.PeakRSSMiB["worker"])
	require.Positive(t, s.Resources.BytesPerCase)
	require.Positive(t, s.Resources.Histories["civicflow"].EventsPerCase)
	// The bare workflow has the shape it stands in for.
	civ, bare := s.Resources.Histories["civicflow"], s.Resources.Histories["bare"]
	require.Equal(t, civ.Activities, bare.Activities, "activities per case")
	require.Equal(t, civ.Updates, bare.Updates, "updates per case")
	require.Positive(t, civ.Timers, "the public notice timer")
	require.InDelta(t, civ.Timers, bare.Timers, 1.0, "timers per case (civicflow's vary a little from case to case)")
	// Every part's CPU was counted for both systems.
	for _, sys := range []string{"civicflow", "bare"} {
		c := s.Engine.CPUPerCase[sys]
		require.Positive(t, c["temporal server"], sys)
		require.Positive(t, c["total"], sys)
	}
	require.Positive(t, s.Engine.CPUPerCase["civicflow"]["worker"])
	require.Positive(t, s.Engine.CPUPerCase["bare"]["bare worker"])
	for _, r := range s.Engine.Rounds {
		require.Positive(t, r.CPUPerCase["total"], "round %d %s", r.Pair, r.System)
	}
	require.Positive(t, s.Engine.ReadsPerCase, "officials waited for the system at least once per case")
	// The pinned rounds ran (the test machine has 2 CPUs or more) and
	// gave every process all CPUs back, this one (the driver) included.
	if _, _, ok := cpuHalves(); ok {
		require.NotNil(t, s.Pinned)
		require.Positive(t, s.Pinned.Engine.Ratio)
		require.Positive(t, s.Pinned.Engine.CPUPerCase["civicflow"]["temporal server"])
		require.NotEqual(t, s.Pinned.TemporalCPUs, s.Pinned.OtherCPUs)
		require.Equal(t, cpusBefore, allowedCPUs(), "unpinned after the pinned rounds")
	}
	// PostgreSQL's statements were counted over the civicflow rounds only.
	st := s.Engine.Statements
	require.NotNil(t, st)
	require.Equal(t, s.Engine.Civicflow.Cases, st.Cases)
	require.Greater(t, st.CallsPerCase, 10.0, "a case writes its steps and is read by its officials")
	require.NotEmpty(t, st.Top)
	require.GreaterOrEqual(t, st.Top[0].MSPerCase, st.Top[len(st.Top)-1].MSPerCase, "heaviest first")
	for _, k := range []string{"api_cpu", "worker_cpu", "api_heap", "worker_heap"} {
		require.FileExists(t, filepath.Join(results, s.Profiles[k]), k)
	}
	require.NotNil(t, rep.ReadSide)
	require.Equal(t, 1000, rep.ReadSide.Cases)
	require.Greater(t, rep.ReadSide.Events, int64(1000), "clones carry timeline events")
	names := map[string]bool{}
	for _, q := range rep.ReadSide.Queries {
		require.Positive(t, q.Latency.Count, q.Name)
		require.Zero(t, q.Latency.Errors, q.Name)
		names[q.Name] = true
	}
	for _, n := range []string{"overdue_city_first_page", "overdue_city_deep_page", "overdue_counts_city", "stuck_city", "stuck_city_deep_page", "stuck_district_kind", "stuck_resolved"} {
		require.True(t, names[n], "read side times %s", n)
	}
	// The loader puts about a third of the cases in timed stages, some overdue.
	require.Greater(t, rep.ReadSide.TimedCases, int64(200))
	require.Positive(t, rep.ReadSide.OverdueCases)
	require.Less(t, rep.ReadSide.OverdueCases, rep.ReadSide.TimedCases)
	require.Contains(t, rep.ReadSide.Plans["overdue_counts_city"], "Execution Time")
	require.Contains(t, rep.ReadSide.Plans["stuck_city_first_page"], "Execution Time")
	require.Positive(t, rep.ReadSide.Stuck.Open, "open stuck findings loaded")
	require.Positive(t, rep.ReadSide.Stuck.Runs)
	md, err := os.ReadFile(filepath.Join(results, "bench.md"))
	require.NoError(t, err)
	require.Contains(t, string(md), "Engine overhead")
	require.Contains(t, string(md), "statements per civicflow case")
	require.Contains(t, string(md), "engine cost ratio")
	require.Positive(t, rep.Machine.CPUs)
}
