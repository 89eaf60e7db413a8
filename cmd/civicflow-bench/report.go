package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// writeReport writes bench.json and bench.md to dir and prints the
// Markdown to out.
func writeReport(dir string, rep *Report, out io.Writer) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "bench.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	md := renderMarkdown(rep)
	if err := os.WriteFile(filepath.Join(dir, "bench.md"), []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Fprintln(out)
	fmt.Fprint(out, md)
	fmt.Fprintf(out, "\nwritten: %s, %s, profiles under %s\n", filepath.Join(dir, "bench.json"),
		filepath.Join(dir, "bench.md"), filepath.Join(dir, "profiles"))
	return nil
}

func renderMarkdown(rep *Report) string {
	var w strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&w, format, a...) }
	m := rep.Machine
	p("# civicflow bench, %s\n\n", rep.StartedAt.Format("2006-01-02 15:04 MST"))
	p("Machine: %d CPUs (%s), %d MiB, Linux %s, %s, PostgreSQL %s, %s. Run took %.0f s.\n\n",
		m.CPUs, m.CPUModel, m.MemoryMiB, m.Kernel, m.GoVersion, m.Postgres, m.TemporalCLI, rep.Seconds)
	p("Command: `%s`\n\n", rep.Command)
	o := rep.Options
	waiting := "wait for each case's next change (after_version)"
	if o.Poll > 0 {
		waiting = "reload every " + o.Poll.String()
	}
	p("Engine: %d cases per system per store, %d in flight, %d round pairs (alternating order), notice %s, officials' pages %s; gRPC compression %s.\n\n",
		o.Cases, o.InFlight, o.Pairs, o.Notice, waiting, o.Compression)

	p("## 1. Engine overhead (headline: civicflow ÷ bare throughput, target ≥ %.1f)\n\n", 0.9)
	p("| Temporal store | civicflow cases/s | bare cases/s | ratio | per-pair ratios | civicflow case p50 / p99 | bare case p50 / p99 | errors (civicflow / bare) |\n")
	p("|---|---|---|---|---|---|---|---|\n")
	for _, s := range rep.Stores {
		e := s.Engine
		p("| %s | %.2f (%d cases, %.1f s) | %.2f (%d cases, %.1f s) | **%.3f** | %s | %.0f / %.0f ms | %.0f / %.0f ms | %d / %d |\n",
			s.Store, e.Civicflow.CasesPerSec, e.Civicflow.Cases, e.Civicflow.Seconds, e.Bare.CasesPerSec, e.Bare.Cases, e.Bare.Seconds,
			e.Ratio, floats(e.PairRatios), e.Civicflow.CaseLatency.P50MS, e.Civicflow.CaseLatency.P99MS,
			e.Bare.CaseLatency.P50MS, e.Bare.CaseLatency.P99MS, e.Civicflow.Errors, e.Bare.Errors)
	}
	if pinned := pinnedStores(rep); len(pinned) > 0 {
		p("\nThe same with the Temporal server on CPUs of its own (taskset: Temporal on CPU %s; PostgreSQL, API, workers and the bench on CPU %s), as when Temporal runs on machines of its own; both systems then compete for the engine:\n\n",
			pinned[0].Pinned.TemporalCPUs, pinned[0].Pinned.OtherCPUs)
		p("| Temporal store | civicflow cases/s | bare cases/s | ratio | per-pair ratios | server CPU ms per case, civicflow / bare | total CPU ms per case, civicflow / bare |\n|---|---|---|---|---|---|---|\n")
		for _, s := range pinned {
			e := s.Pinned.Engine
			p("| %s | %.2f (%d cases) | %.2f (%d cases) | **%.3f** | %s | %.0f / %.0f | %.0f / %.0f |\n", s.Store,
				e.Civicflow.CasesPerSec, e.Civicflow.Cases, e.Bare.CasesPerSec, e.Bare.Cases, e.Ratio, floats(e.PairRatios),
				e.CPUPerCase["civicflow"]["temporal server"], e.CPUPerCase["bare"]["temporal server"],
				e.CPUPerCase["civicflow"]["total"], e.CPUPerCase["bare"]["total"])
		}
	}
	for _, s := range rep.Stores {
		if s.Engine.ConfirmRetries > 0 {
			p("\n%s store: %d confirm_admission requests were refused with 403 while the read model already showed the bed, and sent again (a race between read model and workflow state; see docs/performance.md).\n", s.Store, s.Engine.ConfirmRetries)
		}
	}
	for _, s := range rep.Stores {
		p("\n%s store: the officials loaded %.1f case pages per case while waiting for the system to move it on.\n", s.Store, s.Engine.ReadsPerCase)
	}
	p("\nCPU per case in each part of the system (ms, over the measured rounds; /proc):\n\n")
	p("| store | system | %s |\n|---|---|%s\n", strings.Join(cpuColumns, " | "), strings.Repeat("---|", len(cpuColumns)))
	for _, s := range rep.Stores {
		for _, sys := range []string{"civicflow", "bare"} {
			c := s.Engine.CPUPerCase[sys]
			cells := make([]string, len(cpuColumns))
			for i, k := range cpuColumns {
				cells[i] = "–"
				if v, ok := c[k]; ok {
					cells[i] = fmt.Sprintf("%.0f", v)
				}
			}
			p("| %s | %s | %s |\n", s.Store, sys, strings.Join(cells, " | "))
		}
	}
	for _, s := range rep.Stores {
		st := s.Engine.Statements
		if st == nil {
			continue
		}
		p("\n%s store: PostgreSQL ran %.1f statements per civicflow case, %.2f ms of execution (pg_stat_statements over %d cases; parsing, protocol and commit are in the CPU table only). Heaviest:\n\n", s.Store, st.CallsPerCase, st.MSPerCase, st.Cases)
		p("| calls per case | exec ms per case | rows per case | statement |\n|---|---|---|---|\n")
		for _, q := range st.Top[:min(15, len(st.Top))] {
			p("| %.2f | %.3f | %.2f | `%s` |\n", q.CallsPerCase, q.MSPerCase, q.RowsPerCase, strings.ReplaceAll(q.Query, "|", "\\|"))
		}
	}
	p("\nWhat a case costs the Temporal server itself (CPU per case, bare ÷ civicflow: 1 means civicflow asks no more of the engine than the bare workflow; where Temporal runs on machines of its own, this bounds how many cases it carries), and each round's own figures:\n\n")
	p("| store | server ms per case, civicflow / bare | engine cost ratio | rounds: system, cases/s, CPU ms per case (server) |\n|---|---|---|---|\n")
	for _, s := range rep.Stores {
		civ, bare := s.Engine.CPUPerCase["civicflow"]["temporal server"], s.Engine.CPUPerCase["bare"]["temporal server"]
		ratio := "–"
		if civ > 0 {
			ratio = fmt.Sprintf("%.2f", bare/civ)
		}
		var rounds []string
		for _, r := range s.Engine.Rounds {
			rounds = append(rounds, fmt.Sprintf("%d %s %.2f, %.0f (%.0f)", r.Pair, r.System, r.CasesPerSec, r.CPUPerCase["total"], r.CPUPerCase["temporal server"]))
		}
		p("| %s | %.0f / %.0f | %s | %s |\n", s.Store, civ, bare, ratio, strings.Join(rounds, "; "))
	}
	p("\nShape per case, from the Temporal histories (sampled finished cases):\n\n")
	p("| store | system | sampled | activities | updates | timers | search-attribute upserts | workflow tasks | history events | history bytes |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range rep.Stores {
		for _, sys := range []string{"civicflow", "bare"} {
			h := s.Resources.Histories[sys]
			p("| %s | %s | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.0f |\n", s.Store, sys, h.Sampled, h.Activities, h.Updates,
				h.Timers, h.SearchAttrSets, h.WorkflowTasks, h.EventsPerCase, h.BytesPerCase)
		}
	}

	p("\n## 2. Submit latency (open loop, fixed arrival schedule; latency from the scheduled send)\n\n")
	p("| store | offered /s | achieved /s | sent | p50 ms | p95 ms | p99 ms | errors | sustained |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range rep.Stores {
		for _, r := range s.Submit.Rates {
			p("| %s | %.0f | %.2f | %d | %.1f | %.1f | %.1f | %d | %v |\n", s.Store, r.OfferedPerSec, r.AchievedPerSec, r.Sent,
				r.Latency.P50MS, r.Latency.P95MS, r.Latency.P99MS, r.Latency.Errors, r.Sustained)
		}
	}
	p("\nMaximum sustained submit rate (≥ 95%% of offered achieved, no errors, p99 ≤ bound):\n\n")
	for _, s := range rep.Stores {
		knee := "not reached"
		if s.Submit.FirstNotSustainedAt > 0 {
			knee = fmt.Sprintf("%.0f/s", s.Submit.FirstNotSustainedAt)
		}
		p("- %s store: **%.0f/s** (p99 bound %.0f ms; first rate not sustained: %s)\n", s.Store, s.Submit.MaxSustainedPerSec, s.Submit.P99BoundMS, knee)
	}

	p("\n## 3. Official actions (API → workflow update → read model → answer), during the engine rounds\n\n")
	p("| store | action | samples | errors | p50 ms | p95 ms | p99 ms | max ms |\n|---|---|---|---|---|---|---|---|\n")
	for _, s := range rep.Stores {
		keys := make([]string, 0, len(s.Actions))
		for k := range s.Actions {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			l := s.Actions[k]
			p("| %s | %s | %d | %d | %.1f | %.1f | %.1f | %.1f |\n", s.Store, k, l.Count, l.Errors, l.P50MS, l.P95MS, l.P99MS, l.MaxMS)
		}
	}

	if r := rep.ReadSide; r != nil {
		p("\n## 4. Read side with %d cases in the read model\n\n", r.Cases)
		p("Loaded %d cases and %d timeline events in %.1f s (set-based SQL); database %.1f MiB, %.0f bytes per case (persons + cases + events, with indexes). Requests one at a time through the real API handlers over loopback HTTP.\n\n",
			r.Cases, r.Events, r.LoadSeconds, float64(r.DBBytes)/(1<<20), r.BytesPerCase)
		p("| request | as | samples | errors | p50 ms | p95 ms | p99 ms | example |\n|---|---|---|---|---|---|---|---|\n")
		for _, q := range r.Queries {
			p("| %s | %s | %d | %d | %.2f | **%.2f** | %.2f | `%s` |\n", q.Name, q.As, q.Latency.Count, q.Latency.Errors,
				q.Latency.P50MS, q.Latency.P95MS, q.Latency.P99MS, q.Example)
		}
		p("\nSupervision (issue 4): %d cases in timed stages, %d overdue; the target is p95 < 50 ms (reported, not asserted). The stuck list reads the background scan's findings (migration 006): %d open and %d resolved findings and %d scan runs were loaded; the scan itself is off in the bench's API (the clones have no workflows). Each stuck request also asks Temporal live whether workers poll (two DescribeTaskQueue calls).\n",
			r.TimedCases, r.OverdueCases, r.Stuck.Open, r.Stuck.Resolved, r.Stuck.Runs)
		for _, name := range sortedKeys(r.Plans) {
			p("\nPlan of %s (EXPLAIN ANALYZE, one run after the timed requests):\n\n```\n%s\n```\n", name, r.Plans[name])
		}
	}

	p("\n## 5. Resources\n\n")
	p("| store | peak RSS api MiB | peak RSS worker MiB | peak RSS bare worker MiB | cases in read model | rows per case | bytes per case | Temporal events per case (civicflow / bare) |\n|---|---|---|---|---|---|---|---|\n")
	for _, s := range rep.Stores {
		r := s.Resources
		p("| %s | %.1f | %.1f | %.1f | %d | %.1f | %.0f | %.1f / %.1f |\n", s.Store, r.PeakRSSMiB["api"], r.PeakRSSMiB["worker"],
			r.PeakRSSMiB["bare-worker"], r.CompletedCases, r.RowsPerCase, r.BytesPerCase,
			r.Histories["civicflow"].EventsPerCase, r.Histories["bare"].EventsPerCase)
	}
	p("\nRead-model tables after the engine rounds (%s store):\n\n", first(rep.Stores))
	if len(rep.Stores) > 0 {
		p("| table | rows | bytes |\n|---|---|---|\n")
		for _, t := range rep.Stores[0].Resources.Tables {
			p("| %s | %d | %d |\n", t.Table, t.Rows, t.Bytes)
		}
	}

	p("\n## Profiles\n\n")
	for _, s := range rep.Stores {
		keys := make([]string, 0, len(s.Profiles))
		for k := range s.Profiles {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p("- %s store, %s: `%s`\n", s.Store, k, s.Profiles[k])
		}
		for _, k := range []string{"api_cpu", "worker_cpu"} {
			if t := s.Top[k]; t != "" {
				p("\n%s store, %s (`go tool pprof -top`):\n\n```\n%s\n```\n", s.Store, k, t)
			}
		}
	}
	return w.String()
}

func floats(fs []float64) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = fmt.Sprintf("%.3f", f)
	}
	return strings.Join(s, ", ")
}

func first(s []StoreReport) string {
	if len(s) == 0 {
		return "-"
	}
	return s[0].Store
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// cpuColumns are the parts of the CPU table, in order.
var cpuColumns = []string{"temporal server", "postgres", "api", "worker", "bare worker", "bench (driver, verifier)", "rest of machine", "total"}

// pinnedStores are the stores whose run had pinned rounds.
func pinnedStores(rep *Report) []StoreReport {
	var out []StoreReport
	for _, s := range rep.Stores {
		if s.Pinned != nil {
			out = append(out, s)
		}
	}
	return out
}
