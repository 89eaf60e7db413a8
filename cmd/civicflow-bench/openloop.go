package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// RateResult is one step of the open-loop submit test.
type RateResult struct {
	OfferedPerSec  float64 `json:"offered_per_s"`
	AchievedPerSec float64 `json:"achieved_per_s"`
	Sent           int     `json:"sent"`
	Dropped        int     `json:"dropped"` // not sent: too many requests already outstanding
	Latency        Latency `json:"latency"`
	Sustained      bool    `json:"sustained"`
}

// openLoop sends requests on a fixed schedule — request i at start + i/rate —
// whatever happened to earlier ones, so a slow system meets the same arrivals
// as a fast one (no coordinated omission). Latency runs from the scheduled
// send time, so queueing in the bench counts against the system too.
func openLoop(ctx context.Context, rate float64, dur time.Duration, maxOutstanding int, send func(ctx context.Context) error) RateResult {
	var lat samples
	var outstanding atomic.Int64
	var wg sync.WaitGroup
	var lastDone atomic.Int64
	dropped := 0
	start := time.Now()
	total := int(rate * dur.Seconds())
	for i := 0; i < total && ctx.Err() == nil; i++ {
		at := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		}
		if outstanding.Load() >= int64(maxOutstanding) {
			dropped++
			lat.fail()
			continue
		}
		outstanding.Add(1)
		wg.Add(1)
		go func(at time.Time) {
			defer wg.Done()
			defer outstanding.Add(-1)
			err := send(ctx)
			done := time.Now()
			for {
				old := lastDone.Load()
				if done.UnixNano() <= old || lastDone.CompareAndSwap(old, done.UnixNano()) {
					break
				}
			}
			if err != nil {
				lat.fail()
				return
			}
			lat.add(done.Sub(at))
		}(at)
	}
	wg.Wait()
	window := dur
	if end := time.Unix(0, lastDone.Load()).Sub(start); end > window {
		window = end
	}
	l := lat.summary()
	return RateResult{OfferedPerSec: rate, AchievedPerSec: round2(float64(l.Count) / window.Seconds()),
		Sent: total - dropped, Dropped: dropped, Latency: l}
}
