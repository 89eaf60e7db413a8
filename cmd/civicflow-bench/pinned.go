package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// In production Temporal runs on machines of its own, and the API, the
// workers and PostgreSQL on others. On the bench's one machine every part
// shares the same CPUs, so the throughput ratio also counts civicflow's
// own work (read model, audit, HTTP) against the engine. The pinned rounds
// split the CPUs instead: the Temporal server on the first half, everything
// else (PostgreSQL and its backends, API, worker, bare worker, the bench
// itself) on the second, with taskset. Then the engine is the shared
// resource whose capacity both systems compete for, as in production.

// PinnedReport is the engine comparison with the Temporal server pinned.
type PinnedReport struct {
	TemporalCPUs string       `json:"temporal_cpus"`
	OtherCPUs    string       `json:"other_cpus"`
	Engine       EngineReport `json:"engine_overhead"`
}

// allowedCPUs is the Cpus_allowed_list of this process (e.g. "0-3,6").
func allowedCPUs() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if list, found := strings.CutPrefix(line, "Cpus_allowed_list:"); found {
			return strings.TrimSpace(list)
		}
	}
	return ""
}

// cpuHalves splits the CPUs this process may use into two lists for
// taskset: ok is false with fewer than two.
func cpuHalves() (first, second string, ok bool) {
	var cpus []string
	for _, r := range strings.Split(allowedCPUs(), ",") {
		lo, hi, isRange := strings.Cut(r, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return "", "", false
		}
		z := a
		if isRange {
			if z, err = strconv.Atoi(hi); err != nil {
				return "", "", false
			}
		}
		for i := a; i <= z; i++ {
			cpus = append(cpus, strconv.Itoa(i))
		}
	}
	if len(cpus) < 2 {
		return "", "", false
	}
	h := len(cpus) / 2
	return strings.Join(cpus[:h], ","), strings.Join(cpus[h:], ","), true
}

// pin sets the CPUs of every thread of pid and, with tree, of its live
// children (PostgreSQL's backends; new ones inherit the postmaster's).
func pin(pid int, cpus string, tree bool) error {
	pids := []int{pid}
	if tree {
		pids = append(pids, children(pid)...)
	}
	for _, p := range pids {
		if out, err := exec.Command("taskset", "-a", "-p", "-c", cpus, strconv.Itoa(p)).CombinedOutput(); err != nil {
			if _, gone := os.Stat(fmt.Sprintf("/proc/%d", p)); gone != nil && p != pid {
				continue // a backend that ended meanwhile
			}
			return fmt.Errorf("taskset %s %d: %w: %s", cpus, p, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// pinAll pins the Temporal server to temporal and every other part to
// other (both "" restores them all to every CPU in all).
func (s *stack) pinAll(temporal, other string) error {
	for _, p := range s.cpuParts {
		cpus := other
		if p.name == "temporal server" {
			cpus = temporal
		}
		if err := pin(p.pid, cpus, p.tree); err != nil {
			return err
		}
	}
	return nil
}

// pinnedRounds runs o.PinnedPairs round pairs with the CPUs split, then
// gives every process all CPUs back. It answers nil on a machine with one
// CPU or without taskset.
func (s *stack) pinnedRounds(ctx context.Context, o options, civ, bare func(context.Context, int64) error, out io.Writer) (*PinnedReport, error) {
	first, second, ok := cpuHalves()
	if _, err := exec.LookPath("taskset"); err != nil || !ok {
		fmt.Fprintln(out, "pinned rounds skipped: they need taskset and at least 2 CPUs")
		return nil, nil //nolint:nilerr // no taskset is a machine without pinned rounds, not a failure

	}
	all := first + "," + second
	fmt.Fprintf(out, "pinned rounds: Temporal server on CPU %s, everything else on CPU %s\n", first, second)
	if err := s.pinAll(first, second); err != nil {
		_ = s.pinAll(all, all)
		return nil, err
	}
	cases := o.Cases / o.Pairs * o.PinnedPairs
	e, err := s.engineRounds(ctx, o.PinnedPairs, max(cases, o.PinnedPairs), o.InFlight, civ, bare, nil, out)
	if uerr := s.pinAll(all, all); uerr != nil {
		return nil, fmt.Errorf("unpin: %w", uerr)
	}
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "engine overhead ratio, Temporal pinned: %.3f\n", e.Ratio)
	return &PinnedReport{TemporalCPUs: first, OtherCPUs: second, Engine: e}, nil
}
