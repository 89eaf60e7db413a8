package main

import (
	"math"
	"sort"
	"sync"
	"time"
)

// Latency summarises a set of durations. Percentiles are nearest-rank over
// all samples; Count says how many there were, so a reader can tell a p99 of
// 50 samples from one of 5,000.
type Latency struct {
	Count  int     `json:"count"`
	Errors int     `json:"errors"`
	MeanMS float64 `json:"mean_ms"`
	P50MS  float64 `json:"p50_ms"`
	P95MS  float64 `json:"p95_ms"`
	P99MS  float64 `json:"p99_ms"`
	MaxMS  float64 `json:"max_ms"`
}

// samples collects durations from many goroutines.
type samples struct {
	mu     sync.Mutex
	d      []time.Duration
	errors int
}

func (s *samples) add(d time.Duration) {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
}

func (s *samples) fail() {
	s.mu.Lock()
	s.errors++
	s.mu.Unlock()
}

func (s *samples) summary() Latency {
	s.mu.Lock()
	defer s.mu.Unlock()
	return summarize(s.d, s.errors)
}

func summarize(ds []time.Duration, errors int) Latency {
	l := Latency{Count: len(ds), Errors: errors}
	if len(ds) == 0 {
		return l
	}
	sorted := append([]time.Duration(nil), ds...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	var sum time.Duration
	for _, d := range sorted {
		sum += d
	}
	l.MeanMS = ms(sum / time.Duration(len(sorted)))
	l.P50MS = ms(percentile(sorted, 50))
	l.P95MS = ms(percentile(sorted, 95))
	l.P99MS = ms(percentile(sorted, 99))
	l.MaxMS = ms(sorted[len(sorted)-1])
	return l
}

// percentile is the nearest-rank percentile of sorted.
func percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Millisecond)*100) / 100 }

func round2(f float64) float64 { return math.Round(f*100) / 100 }

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }
