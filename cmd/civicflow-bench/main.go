// Command civicflow-bench measures what civicflow costs: centralised-care
// cases driven through the HTTP API next to a bare Temporal workflow of the
// same shape on the same server in the same run, submit latency under
// open-loop load, official-action round trips, the read side with a large
// read model, and the resources used. It starts its own PostgreSQL and
// Temporal dev servers (in memory and on a file store), runs the civicflow
// API and worker as separate processes, and writes JSON, Markdown and pprof
// profiles to a results directory. `make bench` runs it; see
// docs/performance.md.
//
// It prints and records figures; it never judges them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are the bench's flags.
type options struct {
	CivicflowBin  string        `json:"-"`
	OutDir        string        `json:"-"`
	Stores        []string      `json:"temporal_stores"`
	Cases         int           `json:"cases_per_system"`
	InFlight      int           `json:"in_flight"`
	Pairs         int           `json:"round_pairs"`
	Warmup        int           `json:"warmup_cases"`
	Notice        time.Duration `json:"notice_period_ns"`
	Poll          time.Duration `json:"poll_interval_ns"`
	ProfileFor    time.Duration `json:"profile_for_ns"`
	Rates         []float64     `json:"submit_rates_per_s"`
	RateFor       time.Duration `json:"submit_rate_for_ns"`
	P99Bound      time.Duration `json:"submit_p99_bound_ns"`
	ReadRows      int           `json:"read_model_cases"`
	ReadSamples   int           `json:"read_samples"`
	HistorySample int           `json:"history_sample"`
	// Compression is the gRPC compression of every Temporal client in the
	// run (civicflow's API and worker, the bare worker, the driver).
	Compression string `json:"grpc_compression"`
	// PinnedPairs are round pairs run again with the Temporal server on
	// CPUs of its own (pinned.go); 0 skips them.
	PinnedPairs int `json:"pinned_round_pairs"`
}

func defaultOptions() options {
	return options{
		Stores: []string{"memory", "file"}, Cases: 240, InFlight: 32, Pairs: 2, Warmup: 16,
		Notice: time.Second, Poll: 0, ProfileFor: 20 * time.Second,
		Rates: []float64{5, 10, 20, 40, 80, 160, 320}, RateFor: 10 * time.Second, P99Bound: time.Second,
		ReadRows: 1_000_000, ReadSamples: 200, HistorySample: 20, Compression: "gzip", PinnedPairs: 2,
	}
}

func main() {
	if os.Getenv(envRole) == roleBareWorker {
		if err := runBareWorker(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "civicflow-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	o := defaultOptions()
	fs := flag.NewFlagSet("civicflow-bench", flag.ContinueOnError)
	fs.StringVar(&o.CivicflowBin, "civicflow", "bin/civicflow", "the civicflow binary to run as API and worker (`make build`)")
	fs.StringVar(&o.OutDir, "out", "results", "directory for bench.json, bench.md and profiles/")
	stores := fs.String("stores", strings.Join(o.Stores, ","), "Temporal dev-server stores to run on: memory, file, or both")
	fs.IntVar(&o.Cases, "cases", o.Cases, "engine overhead: cases per system (civicflow and bare) per store")
	fs.IntVar(&o.InFlight, "in-flight", o.InFlight, "engine overhead: cases in flight at once")
	fs.IntVar(&o.Pairs, "pairs", o.Pairs, "engine overhead: round pairs; each pair runs both systems, alternating which goes first")
	fs.IntVar(&o.Warmup, "warmup", o.Warmup, "cases per system before measuring")
	fs.IntVar(&o.PinnedPairs, "pinned-pairs", o.PinnedPairs, "engine overhead again with the Temporal server on half the CPUs and everything else on the other half, as if Temporal had machines of its own: round pairs (0 = skip)")
	fs.DurationVar(&o.Notice, "notice", o.Notice, "public notice period (the workflow timer)")
	fs.DurationVar(&o.Poll, "poll", o.Poll, "how often a simulated official reloads a case while waiting; 0: the page waits for the case's next change (after_version)")
	fs.DurationVar(&o.ProfileFor, "profile-for", o.ProfileFor, "CPU profile length for API and worker (0 = no profiles)")
	rates := fs.String("rates", joinFloats(o.Rates), "submit: offered rates per second, ascending; stops after the first not sustained")
	fs.DurationVar(&o.RateFor, "rate-for", o.RateFor, "submit: how long each rate is offered")
	fs.DurationVar(&o.P99Bound, "p99-bound", o.P99Bound, "submit: a rate is sustained when p99 stays under this and >=95% of it is achieved without errors")
	fs.IntVar(&o.ReadRows, "read-cases", o.ReadRows, "read side: cases bulk-loaded into the read model (0 = skip)")
	fs.IntVar(&o.ReadSamples, "read-samples", o.ReadSamples, "read side: requests per query kind")
	fs.IntVar(&o.HistorySample, "history-sample", o.HistorySample, "workflow histories read per system for events per case")
	fs.StringVar(&o.Compression, "grpc-compression", o.Compression, "gRPC compression of all Temporal clients, civicflow's and the bare worker's alike: gzip (the SDK's default) or none")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.Compression != "gzip" && o.Compression != "none" {
		return fmt.Errorf("-grpc-compression: %q is not gzip or none", o.Compression)
	}
	o.Stores = strings.Split(*stores, ",")
	for _, s := range o.Stores {
		if s != "memory" && s != "file" {
			return fmt.Errorf("-stores: unknown store %q (memory, file)", s)
		}
	}
	var err error
	if o.Rates, err = parseFloats(*rates); err != nil {
		return fmt.Errorf("-rates: %w", err)
	}
	if o.PinnedPairs < 0 {
		return errors.New("-pinned-pairs must not be negative")
	}
	if o.Cases < 1 || o.InFlight < 1 || o.Pairs < 1 {
		return errors.New("-cases, -in-flight and -pairs must be positive")
	}
	if o.CivicflowBin, err = filepath.Abs(o.CivicflowBin); err != nil {
		return err
	}
	if _, err := os.Stat(o.CivicflowBin); err != nil {
		return fmt.Errorf("civicflow binary: %w (run `make build`)", err)
	}
	rep, err := runBench(ctx, o, stdout, "civicflow-bench "+strings.Join(args, " "))
	if err != nil {
		return err
	}
	return writeReport(o.OutDir, rep, stdout)
}

func joinFloats(fs []float64) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strings.Join(s, ",")
}

func parseFloats(s string) ([]float64, error) {
	var out []float64
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || f <= 0 {
			return nil, fmt.Errorf("%q is not a positive number", p)
		}
		out = append(out, f)
	}
	return out, nil
}

func discardSlog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
