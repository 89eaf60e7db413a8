package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// CPU accounting: each engine round reads the CPU time of every part of the
// system from /proc before and after, so the report can say what a case
// costs in each part (Temporal server, PostgreSQL, API, worker, bare worker,
// the bench's own driver) and how much of the machine went to processes
// outside the bench (other tenants of a shared VM).

// clockTicks is USER_HZ, the unit of the times in /proc/<pid>/stat; it is
// 100 on every Linux platform Go supports.
const clockTicks = 100

// procTimes reads utime+stime of pid and, with children, cutime+cstime
// (the time of children that have exited and been reaped), in seconds.
func procTimes(pid int, children bool) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime is field 14, so f[11].
	if len(f) < 15 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	n := 2
	if children {
		n = 4
	}
	var ticks float64
	for _, v := range f[11 : 11+n] {
		t, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += t
	}
	return ticks / clockTicks, nil
}

// treeTimes is the CPU time of pid, its reaped children and its live
// children (PostgreSQL: the postmaster and its backends).
func treeTimes(pid int) (float64, error) {
	total, err := procTimes(pid, true)
	if err != nil {
		return 0, err
	}
	for _, child := range children(pid) {
		if t, err := procTimes(child, false); err == nil {
			total += t
		}
	}
	return total, nil
}

// children are the live child processes of pid.
func children(pid int) []int {
	var out []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		if child, err := strconv.Atoi(filepath.Base(d)); err == nil && child != pid && parentOf(child) == pid {
			out = append(out, child)
		}
	}
	return out
}

func parentOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// machineBusy is the CPU time the whole machine spent not idle, in
// seconds, from the first line of /proc/stat.
func machineBusy() (float64, error) {
	fh, err := os.Open("/proc/stat")
	if err != nil {
		return 0, err
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	if !sc.Scan() {
		return 0, fmt.Errorf("/proc/stat: empty")
	}
	f := strings.Fields(sc.Text())
	if len(f) < 5 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: unexpected first line %q", sc.Text())
	}
	var busy float64
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		if i >= 7 { // guest times are already in user
			break
		}
		t, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		busy += t
	}
	return busy / clockTicks, nil
}

// cpuPart is one part of the system whose CPU time is counted.
type cpuPart struct {
	name string
	pid  int
	tree bool // count live children too
}

// cpuSnapshot is the CPU time of each part and of the machine at a moment.
type cpuSnapshot map[string]float64

func takeCPU(parts []cpuPart) cpuSnapshot {
	s := cpuSnapshot{}
	for _, p := range parts {
		var t float64
		var err error
		if p.tree {
			t, err = treeTimes(p.pid)
		} else {
			t, err = procTimes(p.pid, true)
		}
		if err == nil {
			s[p.name] = t
		}
	}
	if t, err := machineBusy(); err == nil {
		s[cpuMachine] = t
	}
	return s
}

// cpuMachine is the snapshot key of the whole machine's busy time; the
// report shows what the named parts did not use as "rest of machine".
const cpuMachine = "machine"

// add accumulates after - before into acc.
func (acc cpuSnapshot) add(before, after cpuSnapshot) {
	for k, a := range after {
		if b, ok := before[k]; ok && a >= b {
			acc[k] += a - b
		}
	}
}

// perCase turns accumulated seconds into milliseconds per case, with the
// machine's time not used by any named part as "rest of machine".
func (acc cpuSnapshot) perCase(cases int) map[string]float64 {
	out := map[string]float64{}
	if cases == 0 {
		return out
	}
	named := 0.0
	for k, v := range acc {
		if k == cpuMachine {
			continue
		}
		named += v
		out[k] = round2(v * 1000 / float64(cases))
	}
	if m, ok := acc[cpuMachine]; ok {
		out["rest of machine"] = round2(max(0, m-named) * 1000 / float64(cases))
		out["total"] = round2(m * 1000 / float64(cases))
	}
	return out
}
