package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"civicflow/postgres"
)

// StuckLoad is what the read side puts in the stuck-scan tables
// (migration 006) before timing the stuck list.
type StuckLoad struct {
	Open     int64 `json:"open"`
	Resolved int64 `json:"resolved"`
	Runs     int64 `json:"runs"`
}

// Realistic numbers for a city at 1,000,000 cases (docs/performance.md 4b):
// about 0.5 % of the open cases stuck at a time, the resolved findings of
// the 30 days kept, one scan a minute for those 30 days.
const (
	stuckOpenShare = 0.005
	stuckResolved  = 20_000
	stuckRuns      = 30 * 24 * 60
)

// loadStuckFindings fills stuck_scan_runs and stuck_findings as a month of
// scans would have: the runs, open findings of every kind on open clones
// spread over all districts (first seen over the last two weeks), and
// resolved ones. The background scan is off in the bench's API (the clones
// have no workflows, so it would report every one of them).
func loadStuckFindings(ctx context.Context, db *postgres.DB, load *StuckLoad) error {
	pool := db.Pool()
	var open int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM cases WHERE stage NOT IN ('completed', 'rejected', 'withdrawn', 'departed')`).Scan(&open); err != nil {
		return err
	}
	nOpen := max(int64(float64(open)*stuckOpenShare), 10)
	// Kinds in realistic proportions: retries (platform outages) most, then
	// read model lag, failing workflow tasks (a bad deploy) few; no_worker
	// only while workers are down, so none here.
	const kinds = `ARRAY['activity_retrying','activity_retrying','activity_retrying','activity_retrying',
		'read_model_disagrees','read_model_disagrees','workflow_task_failing','workflow_missing','workflow_ended','activity_retrying']`
	stmts := []string{
		`DELETE FROM stuck_findings`,
		`DELETE FROM stuck_scan_runs`,
		fmt.Sprintf(`INSERT INTO stuck_scan_runs (scanner, started_at, finished_at, status, checked_cases, rechecked_cases, counts, task_queues)
			SELECT 'bench/1', now() - i * interval '1 minute', now() - i * interval '1 minute' + interval '4 seconds', 'finished',
				5000, 100, '{"activity_retrying": 500}', '[]'
			FROM generate_series(%d, 0, -1) i`, stuckRuns-1),
		// Open findings: the cases are every k-th open case.
		fmt.Sprintf(`INSERT INTO stuck_findings (kind, subject, case_id, reference, case_type, stage, district_code, township_code,
				workflow_id, task_queue, cause, activity, attempt, last_error, since, first_seen_at, last_seen_at)
			SELECT k.kind, CASE WHEN k.kind = 'activity_retrying' THEN '9' ELSE '' END, c.id, c.reference, c.case_type, c.stage,
				c.district_code, c.township_code, c.workflow_id, 'civicflow',
				'step CheckHousehold has failed 12 times over 2h0m0s and is still being retried; last error: verification platform answered 503',
				CASE WHEN k.kind = 'activity_retrying' THEN 'CheckHousehold' ELSE '' END,
				CASE WHEN k.kind IN ('activity_retrying', 'workflow_task_failing') THEN 12 ELSE 0 END,
				'verification platform answered 503', now() - (c.n %% 336) * interval '1 hour' - interval '6 minutes',
				now() - (c.n %% 336) * interval '1 hour' - interval '1 minute', now() - interval '20 seconds'
			FROM (SELECT id, reference, case_type, stage, district_code, township_code, workflow_id, row_number() OVER (ORDER BY id) n
			      FROM cases WHERE stage NOT IN ('completed', 'rejected', 'withdrawn', 'departed')) c,
			     LATERAL (SELECT (%[1]s)[1 + (c.n / %[2]d) %% 10] AS kind) k
			WHERE c.n %% %[2]d = 0`, kinds, max(open/nOpen, 1)),
		// Resolved findings of the last 30 days, on any cases.
		fmt.Sprintf(`INSERT INTO stuck_findings (kind, subject, case_id, reference, case_type, stage, district_code, township_code,
				workflow_id, task_queue, cause, activity, attempt, last_error, since, first_seen_at, last_seen_at, resolved_at)
			SELECT 'activity_retrying', '9', c.id, c.reference, c.case_type, c.stage, c.district_code, c.township_code, c.workflow_id,
				'civicflow', 'step CheckHousehold has failed 3 times over 15m0s and is still being retried; last error: timeout',
				'CheckHousehold', 4, 'timeout', now() - (g.i %% 720) * interval '1 hour' - interval '30 minutes',
				now() - (g.i %% 720) * interval '1 hour' - interval '20 minutes', now() - (g.i %% 720) * interval '1 hour' - interval '5 minutes',
				now() - (g.i %% 720) * interval '1 hour'
			FROM generate_series(1, %d) g(i) JOIN cases c ON c.id = g.i * 37`, stuckResolved),
		`VACUUM ANALYZE stuck_findings`,
		`VACUUM ANALYZE stuck_scan_runs`,
	}
	for i, q := range stmts {
		if _, err := pool.Exec(ctx, q); err != nil {
			return fmt.Errorf("load stuck findings, step %d: %w", i+1, err)
		}
	}
	return pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE resolved_at IS NULL), count(*) FILTER (WHERE resolved_at IS NOT NULL),
		(SELECT count(*) FROM stuck_scan_runs) FROM stuck_findings`).Scan(&load.Open, &load.Resolved, &load.Runs)
}

// stuckKeys returns keyset positions ("first_seen,id", the API's
// next_after) half to nine tenths down the open stuck list.
func stuckKeys(ctx context.Context, db *postgres.DB, rng *rand.Rand) ([]string, error) {
	var n int
	if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM stuck_findings WHERE resolved_at IS NULL AND case_id IS NOT NULL`).Scan(&n); err != nil {
		return nil, err
	}
	var keys []string
	for range 20 {
		var at time.Time
		var id int64
		off := n/2 + rng.IntN(max(1, n*4/10))
		if err := db.Pool().QueryRow(ctx, `SELECT first_seen_at, id FROM stuck_findings WHERE resolved_at IS NULL AND case_id IS NOT NULL
			ORDER BY first_seen_at, id OFFSET $1 LIMIT 1`, min(off, max(n-1, 0))).Scan(&at, &id); err != nil {
			return nil, err
		}
		keys = append(keys, at.UTC().Format(time.RFC3339Nano)+","+strconv.FormatInt(id, 10))
	}
	return keys, nil
}
