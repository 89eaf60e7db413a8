package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The stuck scan runs at most once per interval across processes and one
// at a time: a second scanner (as in another API process) skips while a
// run is recent, and a forced run waits for the lock, then records a
// finished run that checked the open cases.
func TestE2EStuckScanOnceAtATime(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	cfg := e.cfg
	cfg.StuckScanInterval, cfg.StuckScanQuietFor = time.Hour, 0
	sc := stuckScanner(cfg, e.tc, e.db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	e.scanAfter(t, time.Now())
	run, err := sc.Once(ctx, false)
	require.NoError(t, err)
	require.Nil(t, run, "the harness's scanner ran less than an hour ago")

	e.submit(t, application(newIDNumber(t), "610113001", "dependent"), "")
	require.Eventually(t, func() bool {
		run, err = sc.Once(ctx, true)
		require.NoError(t, err)
		return run != nil // nil: the harness's scanner held the lock
	}, 30*time.Second, 50*time.Millisecond)
	var status string
	var checked int
	require.NoError(t, e.db.Pool().QueryRow(ctx, `SELECT status, checked_cases FROM stuck_scan_runs WHERE id = $1`, run.ID).Scan(&status, &checked))
	require.Equal(t, "finished", status)
	require.Positive(t, checked, "the open case was checked")
	var running int
	require.NoError(t, e.db.Pool().QueryRow(ctx, `SELECT count(*) FROM stuck_scan_runs WHERE status = 'running'`).Scan(&running))
	require.LessOrEqual(t, running, 1)
}
