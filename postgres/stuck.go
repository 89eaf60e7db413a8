package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"civicflow"
)

// Technically stuck cases (issue 4, migration 006): the background scan's
// runs and findings, and the supervisors' list that reads them. The scan
// itself (asking Temporal) is package supervision. See docs/deadlines.md.

// Kinds of stuck conditions (the CHECK of stuck_findings.kind).
const (
	StuckNoWorker          = "no_worker"
	StuckActivityRetrying  = "activity_retrying"
	StuckWorkflowTaskFails = "workflow_task_failing"
	StuckWorkflowMissing   = "workflow_missing"
	StuckWorkflowEnded     = "workflow_ended"
	StuckReadModelBehind   = "read_model_disagrees"
)

// StuckKinds lists every kind, for validating filters.
var StuckKinds = []string{StuckNoWorker, StuckActivityRetrying, StuckWorkflowTaskFails, StuckWorkflowMissing,
	StuckWorkflowEnded, StuckReadModelBehind}

// scanLock is the advisory-lock key that lets one process scan at a time.
const scanLock = 7_310_000_006

// OpenCase is a case as the stuck scan sees it.
type OpenCase struct {
	ID           int64           `json:"id"`
	Reference    string          `json:"reference"`
	CaseType     string          `json:"case_type"`
	WorkflowID   string          `json:"workflow_id"`
	Stage        civicflow.Stage `json:"stage"`
	Seq          int             `json:"version"`
	DistrictCode string          `json:"district_code"`
	TownshipCode string          `json:"township_code"`
	UpdatedAt    time.Time       `json:"updated_at"`
}

const openCaseColumns = `c.id, c.reference, c.case_type, c.workflow_id, c.stage, c.seq, c.district_code, c.township_code, c.updated_at`

func scanOpenCase(r pgx.CollectableRow) (OpenCase, error) {
	var o OpenCase
	return o, r.Scan(&o.ID, &o.Reference, &o.CaseType, &o.WorkflowID, &o.Stage, &o.Seq, &o.DistrictCode, &o.TownshipCode, &o.UpdatedAt)
}

// StuckFinding is one stuck condition of one case (or, for no_worker with
// CaseID 0, of a task queue), with its cause in plain words.
type StuckFinding struct {
	ID           int64      `json:"id"`
	Kind         string     `json:"kind"`
	Subject      string     `json:"-"`
	CaseID       int64      `json:"case_id,omitempty"`
	Reference    string     `json:"reference,omitempty"`
	CaseType     string     `json:"case_type,omitempty"`
	Stage        string     `json:"stage,omitempty"`
	DistrictCode string     `json:"district_code,omitempty"`
	TownshipCode string     `json:"township_code,omitempty"`
	WorkflowID   string     `json:"workflow_id,omitempty"`
	TaskQueue    string     `json:"task_queue,omitempty"`
	Cause        string     `json:"cause"`
	Activity     string     `json:"activity,omitempty"`
	Attempt      int32      `json:"attempt,omitempty"`
	LastError    string     `json:"last_error,omitempty"`
	Since        *time.Time `json:"since,omitempty"`
	FirstSeenAt  time.Time  `json:"first_seen_at"`
	LastSeenAt   time.Time  `json:"last_seen_at"`
	ResolvedAt   *time.Time `json:"resolved_at,omitempty"`
}

// ForCase fills the case's identity and place into a finding.
func (f StuckFinding) ForCase(oc OpenCase) StuckFinding {
	f.CaseID, f.Reference, f.CaseType, f.Stage = oc.ID, oc.Reference, oc.CaseType, string(oc.Stage)
	f.DistrictCode, f.TownshipCode, f.WorkflowID = oc.DistrictCode, oc.TownshipCode, oc.WorkflowID
	return f
}

const findingColumns = `id, kind, subject, coalesce(case_id, 0), reference, case_type, stage, district_code, township_code,
	workflow_id, task_queue, cause, activity, attempt, last_error, since, first_seen_at, last_seen_at, resolved_at`

func scanFinding(r pgx.CollectableRow) (StuckFinding, error) {
	var f StuckFinding
	return f, r.Scan(&f.ID, &f.Kind, &f.Subject, &f.CaseID, &f.Reference, &f.CaseType, &f.Stage, &f.DistrictCode,
		&f.TownshipCode, &f.WorkflowID, &f.TaskQueue, &f.Cause, &f.Activity, &f.Attempt, &f.LastError, &f.Since,
		&f.FirstSeenAt, &f.LastSeenAt, &f.ResolvedAt)
}

// QueueState is whether workers poll one kind of task of a task queue.
type QueueState struct {
	TaskQueue string     `json:"task_queue"`
	Kind      string     `json:"kind"` // workflow or activity
	Pollers   int        `json:"pollers"`
	LastPoll  *time.Time `json:"last_poll,omitempty"`
	Polled    bool       `json:"polled"`
	Cause     string     `json:"cause,omitempty"`
}

// ScanRun is one run of the stuck scan.
type ScanRun struct {
	ID             int64            `json:"id"`
	Scanner        string           `json:"scanner"`
	StartedAt      time.Time        `json:"started_at"`
	FinishedAt     *time.Time       `json:"finished_at,omitempty"`
	Status         string           `json:"status"`
	Error          string           `json:"error,omitempty"`
	CheckedCases   int              `json:"checked_cases"`
	RecheckedCases int              `json:"rechecked_cases"`
	NewFindings    int              `json:"new_findings"`
	Resolved       int              `json:"resolved"`
	OpenFindings   int              `json:"open_findings"`
	Counts         map[string]int64 `json:"counts"`
	TaskQueues     []QueueState     `json:"task_queues"`
	// SweepAfter is where the next run's sweep continues (nil: from the start).
	SweepAfterUpdatedAt *time.Time `json:"-"`
	SweepAfterID        int64      `json:"-"`
}

const runColumns = `id, scanner, started_at, finished_at, status, error, checked_cases, rechecked_cases, new_findings,
	resolved, open_findings, counts, task_queues, sweep_after_updated_at, coalesce(sweep_after_id, 0)`

func scanRun(r pgx.CollectableRow) (ScanRun, error) {
	var s ScanRun
	var counts, queues []byte
	if err := r.Scan(&s.ID, &s.Scanner, &s.StartedAt, &s.FinishedAt, &s.Status, &s.Error, &s.CheckedCases,
		&s.RecheckedCases, &s.NewFindings, &s.Resolved, &s.OpenFindings, &counts, &queues,
		&s.SweepAfterUpdatedAt, &s.SweepAfterID); err != nil {
		return s, err
	}
	if err := json.Unmarshal(counts, &s.Counts); err != nil {
		return s, err
	}
	return s, json.Unmarshal(queues, &s.TaskQueues)
}

// WithScanLock runs f if no other process holds the scan's advisory lock,
// holding it meanwhile on a connection of its own, outside the pool, so
// that a scan takes none of the requests' connections (a session lock: it
// goes away with the connection, so a scanner that dies releases it). It
// reports whether f ran.
func (db *DB) WithScanLock(ctx context.Context, f func(ctx context.Context) error) (bool, error) {
	conn, err := pgx.ConnectConfig(ctx, db.pool.Config().ConnConfig.Copy())
	if err != nil {
		return false, mapError("acquire scan lock", err)
	}
	defer func() {
		// A fresh context: closing ends the session, which releases the
		// lock, even when ctx has ended.
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, int64(scanLock)).Scan(&got); err != nil {
		return false, mapError("acquire scan lock", err)
	}
	if !got {
		return false, nil
	}
	return true, f(ctx)
}

// LatestScanRun returns the last finished run, or nil before the first.
func (db *DB) LatestScanRun(ctx context.Context) (*ScanRun, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+runColumns+` FROM stuck_scan_runs WHERE status = 'finished'
		ORDER BY finished_at DESC LIMIT 1`)
	if err != nil {
		return nil, mapError("read scan run", err)
	}
	runs, err := pgx.CollectRows(rows, scanRun)
	if err != nil || len(runs) == 0 {
		return nil, mapError("read scan run", err)
	}
	return &runs[0], nil
}

// SinceLastScan is how long ago the latest run (of any status) started,
// by the database's clock, so that processes with skewed clocks agree; ok
// is false before the first run.
func (db *DB) SinceLastScan(ctx context.Context) (ago time.Duration, ok bool, err error) {
	var secs *float64
	err = db.pool.QueryRow(ctx, `SELECT extract(epoch FROM now() - max(started_at))::float8 FROM stuck_scan_runs`).Scan(&secs)
	if err != nil || secs == nil {
		return 0, false, mapError("read scan runs", err)
	}
	return time.Duration(*secs * float64(time.Second)), true, nil
}

// StartScanRun records the start of a run (call it under WithScanLock): a
// run still marked running is one whose process died, so it is marked
// abandoned. The new run carries the previous finished run's sweep key.
func (db *DB) StartScanRun(ctx context.Context, scanner string) (ScanRun, error) {
	var run ScanRun
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE stuck_scan_runs SET status = 'abandoned', finished_at = greatest(now(), started_at)
			WHERE status = 'running'`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `INSERT INTO stuck_scan_runs (scanner, sweep_after_updated_at, sweep_after_id)
			SELECT $1, p.sweep_after_updated_at, p.sweep_after_id
			FROM (SELECT NULL) x LEFT JOIN LATERAL (SELECT sweep_after_updated_at, sweep_after_id FROM stuck_scan_runs
				WHERE status = 'finished' ORDER BY finished_at DESC LIMIT 1) p ON true
			RETURNING `+runColumns, clip(scanner, 200))
		if err != nil {
			return err
		}
		run, err = pgx.CollectExactlyOneRow(rows, scanRun)
		return err
	})
	return run, mapError("start scan run", err)
}

// RecheckCases returns the cases that have open findings, least recently
// seen first, up to limit: each run looks at them again so that findings
// that cleared go away. Closed cases are included (their findings clear).
func (db *DB) RecheckCases(ctx context.Context, limit int) ([]OpenCase, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+openCaseColumns+` FROM cases c
		JOIN (SELECT case_id, min(last_seen_at) seen FROM stuck_findings
		      WHERE resolved_at IS NULL AND case_id IS NOT NULL GROUP BY case_id ORDER BY 2 LIMIT $1) f ON f.case_id = c.id
		ORDER BY f.seen, c.id`, limit)
	if err != nil {
		return nil, mapError("list cases to re-check", err)
	}
	out, err := pgx.CollectRows(rows, scanOpenCase)
	return out, mapError("list cases to re-check", err)
}

// terminalStages are the stages of civicflow.Stage.Terminal, as SQL
// (TestTerminalStagesMatchDomain keeps them in step). The list is a
// superset of the predicate of index cases_open_by_update (migration 005,
// before community rehab's closed and referred), so the planner still
// proves the index usable.
const terminalStages = `'completed', 'rejected', 'withdrawn', 'departed', 'closed', 'referred'`

// SweepCases lists open cases whose read model has not changed since
// before, in (updated_at, id) order after the key (nil: from the start), up
// to limit (index cases_open_by_update): the scan walks all quiet open
// cases over successive runs.
func (db *DB) SweepCases(ctx context.Context, before time.Time, afterUpdated *time.Time, afterID int64, limit int) ([]OpenCase, error) {
	args := []any{before, limit}
	key := ""
	if afterUpdated != nil {
		args = append(args, *afterUpdated, afterID)
		key = ` AND (c.updated_at, c.id) > ($3, $4)`
	}
	rows, err := db.pool.Query(ctx, `SELECT `+openCaseColumns+` FROM cases c
		WHERE c.stage NOT IN (`+terminalStages+`) AND c.updated_at < $1`+key+`
		ORDER BY c.updated_at, c.id LIMIT $2`, args...)
	if err != nil {
		return nil, mapError("list quiet cases", err)
	}
	out, err := pgx.CollectRows(rows, scanOpenCase)
	return out, mapError("list quiet cases", err)
}

// CaseNow re-reads a case's stage and step: the scan confirms a
// disagreement with the workflow against the latest row.
func (db *DB) CaseNow(ctx context.Context, id int64) (OpenCase, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+openCaseColumns+` FROM cases c WHERE c.id = $1`, id)
	if err != nil {
		return OpenCase{}, mapError("read case", err)
	}
	oc, err := pgx.CollectExactlyOneRow(rows, scanOpenCase)
	return oc, mapError("read case", err)
}

// RecordFindings stores what one batch of a run found: it adds new
// findings, refreshes those seen before (last seen, cause, attempt, last
// error), and resolves the open findings of the checked cases that this
// run did not find again. It returns how many were new and resolved.
// Idempotent within a run.
func (db *DB) RecordFindings(ctx context.Context, run ScanRun, checked []int64, found []StuckFinding) (added, resolved int, err error) {
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		for _, f := range found {
			n, err := upsertFinding(ctx, tx, f)
			if err != nil {
				return err
			}
			added += n
		}
		if len(checked) == 0 {
			return nil
		}
		tag, err := tx.Exec(ctx, `UPDATE stuck_findings SET resolved_at = now()
			WHERE resolved_at IS NULL AND case_id = ANY($1) AND last_seen_at < $2`, checked, run.StartedAt)
		resolved = int(tag.RowsAffected())
		return err
	})
	return added, resolved, mapError("record stuck findings", err)
}

// RecordQueueFindings stores the run's no_worker findings of one task
// queue (CaseID 0) and resolves its others.
func (db *DB) RecordQueueFindings(ctx context.Context, run ScanRun, queue string, found []StuckFinding) (added, resolved int, err error) {
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		for _, f := range found {
			f.CaseID, f.TaskQueue = 0, queue
			n, err := upsertFinding(ctx, tx, f)
			if err != nil {
				return err
			}
			added += n
		}
		tag, err := tx.Exec(ctx, `UPDATE stuck_findings SET resolved_at = now()
			WHERE resolved_at IS NULL AND case_id IS NULL AND task_queue = $1 AND last_seen_at < $2`, queue, run.StartedAt)
		resolved = int(tag.RowsAffected())
		return err
	})
	return added, resolved, mapError("record task queue findings", err)
}

// upsertFinding inserts a finding or refreshes the open one of the same
// case, kind and subject; it returns 1 when the finding is new.
func upsertFinding(ctx context.Context, tx pgx.Tx, f StuckFinding) (int, error) {
	var caseID *int64
	if f.CaseID != 0 {
		caseID = &f.CaseID
	}
	var inserted bool
	err := tx.QueryRow(ctx, `INSERT INTO stuck_findings (kind, subject, case_id, reference, case_type, stage, district_code,
			township_code, workflow_id, task_queue, cause, activity, attempt, last_error, since)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
		ON CONFLICT ((coalesce(case_id, 0)), kind, subject) WHERE resolved_at IS NULL DO UPDATE SET
			stage = excluded.stage, cause = excluded.cause, attempt = excluded.attempt, last_error = excluded.last_error,
			activity = excluded.activity, since = coalesce(stuck_findings.since, excluded.since),
			last_seen_at = greatest(now(), stuck_findings.first_seen_at)
		RETURNING xmax = 0`,
		f.Kind, clip(f.Subject, 200), caseID, f.Reference, f.CaseType, f.Stage, f.DistrictCode, f.TownshipCode,
		f.WorkflowID, f.TaskQueue, clip(f.Cause, 2000), clip(f.Activity, 200), f.Attempt, clip(f.LastError, 2000), f.Since).Scan(&inserted)
	if err != nil {
		return 0, fmt.Errorf("upsert finding %s of case %d: %w", f.Kind, f.CaseID, err)
	}
	if inserted {
		return 1, nil
	}
	return 0, nil
}

// FinishScanRun records the end of a run: its status (failed when runErr
// is set), what it did, the open findings per kind, and where the next
// sweep continues. It also forgets resolved findings and runs older than
// retention.
func (db *DB) FinishScanRun(ctx context.Context, run ScanRun, runErr error, retention time.Duration) error {
	status, msg := "finished", ""
	if runErr != nil {
		status, msg = "failed", clip(runErr.Error(), 2000)
	}
	queues, err := json.Marshal(run.TaskQueues)
	if err != nil {
		return err
	}
	if run.TaskQueues == nil {
		queues = []byte("[]")
	}
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE stuck_scan_runs r SET status = $2, error = $3, finished_at = greatest(now(), started_at),
				checked_cases = $4, rechecked_cases = $5, new_findings = $6, resolved = $7, task_queues = $8,
				sweep_after_updated_at = $9, sweep_after_id = nullif($10, 0)::bigint,
				counts = coalesce((SELECT jsonb_object_agg(kind, n) FROM (SELECT kind, count(*) n FROM stuck_findings
					WHERE resolved_at IS NULL GROUP BY kind) k), '{}'),
				open_findings = (SELECT count(*) FROM stuck_findings WHERE resolved_at IS NULL)
			WHERE id = $1`, run.ID, status, msg, run.CheckedCases, run.RecheckedCases, run.NewFindings, run.Resolved,
			queues, run.SweepAfterUpdatedAt, run.SweepAfterID); err != nil {
			return err
		}
		if retention <= 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, `DELETE FROM stuck_findings WHERE resolved_at < now() - $1::interval`, retention); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM stuck_scan_runs WHERE finished_at < now() - $1::interval`, retention)
		return err
	})
	return mapError("finish scan run", err)
}

// StuckFilter narrows the stuck list; the zero value lists all open
// findings of cases.
type StuckFilter struct {
	Kind         string
	CaseType     string
	Stage        string
	DistrictCode string
	TownshipCode string
	// RetryingFor hides activities retrying for less than this (since
	// their first attempt), as of Now.
	RetryingFor time.Duration
	Now         time.Time
	// Resolved lists the resolved findings instead, the latest first.
	Resolved bool
	// Keyset pagination: findings after (AfterAt, AfterID), where AfterAt is
	// first_seen_at (open) or resolved_at (resolved).
	AfterAt *time.Time
	AfterID int64
	Limit   int
}

// StuckFindings lists findings of cases: the open ones longest known first
// (indexes stuck_findings_open(_district)), or the resolved ones latest
// first (stuck_findings_resolved). Filters are added only when given, so
// each combination gets its own plan.
func (db *DB) StuckFindings(ctx context.Context, f StuckFilter) ([]StuckFinding, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 200
	}
	if f.Now.IsZero() {
		f.Now = time.Now()
	}
	var args []any
	w, order := "resolved_at IS NULL AND case_id IS NOT NULL", "first_seen_at, id"
	keyCol, cmp := "first_seen_at", ">"
	if f.Resolved {
		w, order, keyCol, cmp = "resolved_at IS NOT NULL AND case_id IS NOT NULL", "resolved_at DESC, id DESC", "resolved_at", "<"
	}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.Kind != "" {
		w += " AND kind = " + arg(f.Kind)
	}
	if f.CaseType != "" {
		w += " AND case_type = " + arg(f.CaseType)
	}
	if f.Stage != "" {
		w += " AND stage = " + arg(f.Stage)
	}
	if f.DistrictCode != "" {
		w += " AND district_code = " + arg(f.DistrictCode)
	}
	if f.TownshipCode != "" {
		w += " AND township_code = " + arg(f.TownshipCode)
	}
	if f.RetryingFor > 0 {
		w += " AND (kind <> 'activity_retrying' OR since <= " + arg(f.Now.Add(-f.RetryingFor)) + ")"
	}
	if f.AfterAt != nil {
		w += fmt.Sprintf(" AND (%s, id) %s (%s, %s)", keyCol, cmp, arg(*f.AfterAt), arg(f.AfterID))
	}
	rows, err := db.pool.Query(ctx, `SELECT `+findingColumns+` FROM stuck_findings WHERE `+w+
		` ORDER BY `+order+` LIMIT `+arg(f.Limit), args...)
	if err != nil {
		return nil, mapError("list stuck cases", err)
	}
	out, err := pgx.CollectRows(rows, scanFinding)
	return out, mapError("list stuck cases", err)
}

// QueueFindings lists the open findings about task queues themselves (no
// worker polling), which concern every case.
func (db *DB) QueueFindings(ctx context.Context) ([]StuckFinding, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+findingColumns+` FROM stuck_findings
		WHERE coalesce(case_id, 0) = 0 AND resolved_at IS NULL ORDER BY task_queue, subject`)
	if err != nil {
		return nil, mapError("list task queue findings", err)
	}
	out, err := pgx.CollectRows(rows, scanFinding)
	return out, mapError("list task queue findings", err)
}
