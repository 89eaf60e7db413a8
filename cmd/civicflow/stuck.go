package main

import (
	"context"
	"log/slog"

	"go.temporal.io/sdk/client"

	"civicflow/postgres"
	"civicflow/supervision"
)

// stuckScanner is the background stuck-case scan (issue 4) with cfg's
// settings. The API processes run it, so that a task queue without
// workers is found even when every worker is down; the advisory lock lets
// one of them scan at a time. See docs/deadlines.md.
func stuckScanner(cfg config, tc client.Client, db *postgres.DB, log *slog.Logger) *supervision.Scanner {
	return &supervision.Scanner{Store: db, Temporal: tc, TaskQueue: cfg.TaskQueue,
		Interval: cfg.StuckScanInterval, QuietFor: cfg.StuckScanQuietFor, Batch: cfg.StuckScanBatch,
		PollerSilence: cfg.StuckPollerSilence, Log: log.With("component", "stuck-scan")}
}

// startStuckScan runs the scan until ctx ends or stop is called; with
// CIVICFLOW_STUCK_SCAN_INTERVAL=off it does nothing.
func startStuckScan(ctx context.Context, cfg config, tc client.Client, db *postgres.DB, log *slog.Logger) (stop func()) {
	if cfg.StuckScanInterval <= 0 {
		log.Info("stuck-case scan is off in this process (CIVICFLOW_STUCK_SCAN_INTERVAL=off)")
		return func() {}
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		stuckScanner(cfg, tc, db, log).Run(sctx)
	}()
	log.Info("stuck-case scan running", "interval", cfg.StuckScanInterval.String(), "quiet_for", cfg.StuckScanQuietFor.String())
	return func() { cancel(); <-done }
}
