package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"civicflow"
	"civicflow/postgres"
)

// openCase reads a case as the scan sees it.
func openCase(t *testing.T, db *postgres.DB, id int64) postgres.OpenCase {
	t.Helper()
	oc, err := db.CaseNow(context.Background(), id)
	require.NoError(t, err)
	return oc
}

func refs(list []postgres.StuckFinding) []string {
	out := []string{}
	for _, f := range list {
		out = append(out, f.Reference+"/"+f.Kind)
	}
	return out
}

// The scan's findings: new ones are added, seen ones refreshed, and those
// of checked cases that a run no longer finds are resolved; the list shows
// open findings (filtered, keyset-paginated) or the resolved ones.
func TestStuckFindingsLifecycle(t *testing.T) {
	db := setup(t)
	ctx := context.Background()
	a := openCase(t, db, createCase(t, db, "610113001").CaseID)
	b := openCase(t, db, createCase(t, db, "610113001").CaseID)
	other := openCase(t, db, createCase(t, db, "610102001").CaseID)
	since := time.Now().Add(-time.Hour)

	run1, err := db.StartScanRun(ctx, "test/1")
	require.NoError(t, err)
	found := []postgres.StuckFinding{
		postgres.StuckFinding{Kind: postgres.StuckWorkflowMissing, Cause: "no workflow"}.ForCase(a),
		postgres.StuckFinding{Kind: postgres.StuckActivityRetrying, Subject: "5", Activity: "CheckHousehold", Attempt: 4,
			LastError: "household check: 503", Cause: "retrying", Since: &since}.ForCase(b),
		postgres.StuckFinding{Kind: postgres.StuckReadModelBehind, Cause: "behind"}.ForCase(other),
	}
	added, resolved, err := db.RecordFindings(ctx, run1, []int64{a.ID, b.ID, other.ID}, found)
	require.NoError(t, err)
	require.Equal(t, 3, added)
	require.Equal(t, 0, resolved)
	_, _, err = db.RecordQueueFindings(ctx, run1, "civicflow", []postgres.StuckFinding{
		{Kind: postgres.StuckNoWorker, Subject: "workflow", Cause: "no worker is polling"}})
	require.NoError(t, err)
	run1.CheckedCases = 3
	require.NoError(t, db.FinishScanRun(ctx, run1, nil, time.Hour))

	latest, err := db.LatestScanRun(ctx)
	require.NoError(t, err)
	require.Equal(t, run1.ID, latest.ID)
	require.Equal(t, "finished", latest.Status)
	require.Equal(t, 4, latest.OpenFindings)
	require.Equal(t, map[string]int64{"no_worker": 1, "workflow_missing": 1, "activity_retrying": 1, "read_model_disagrees": 1}, latest.Counts)

	list, err := db.StuckFindings(ctx, postgres.StuckFilter{})
	require.NoError(t, err)
	require.Equal(t, []string{a.Reference + "/workflow_missing", b.Reference + "/activity_retrying",
		other.Reference + "/read_model_disagrees"}, refs(list), "longest known first; the queue finding is apart")
	require.Equal(t, "household check: 503", list[1].LastError)
	list, err = db.StuckFindings(ctx, postgres.StuckFilter{DistrictCode: "610113", Limit: 1})
	require.NoError(t, err)
	require.Equal(t, []string{a.Reference + "/workflow_missing"}, refs(list))
	list, err = db.StuckFindings(ctx, postgres.StuckFilter{DistrictCode: "610113", AfterAt: &list[0].FirstSeenAt, AfterID: list[0].ID})
	require.NoError(t, err)
	require.Equal(t, []string{b.Reference + "/activity_retrying"}, refs(list), "the next page")
	list, err = db.StuckFindings(ctx, postgres.StuckFilter{Kind: postgres.StuckActivityRetrying, RetryingFor: 2 * time.Hour})
	require.NoError(t, err)
	require.Empty(t, list, "retrying for an hour, not two")
	queues, err := db.QueueFindings(ctx)
	require.NoError(t, err)
	require.Len(t, queues, 1)
	require.Equal(t, "civicflow", queues[0].TaskQueue)

	// The second run finds b again (one more attempt), no longer a, and does
	// not check other: a is resolved, b refreshed, other kept.
	run2, err := db.StartScanRun(ctx, "test/2")
	require.NoError(t, err)
	again := found[1]
	again.Attempt = 5
	added, resolved, err = db.RecordFindings(ctx, run2, []int64{a.ID, b.ID}, []postgres.StuckFinding{again})
	require.NoError(t, err)
	require.Equal(t, 0, added, "b's finding is the same one")
	require.Equal(t, 1, resolved)
	_, resolvedQ, err := db.RecordQueueFindings(ctx, run2, "civicflow", nil)
	require.NoError(t, err)
	require.Equal(t, 1, resolvedQ, "workers poll again")
	require.NoError(t, db.FinishScanRun(ctx, run2, nil, time.Hour))

	list, err = db.StuckFindings(ctx, postgres.StuckFilter{})
	require.NoError(t, err)
	require.Equal(t, []string{b.Reference + "/activity_retrying", other.Reference + "/read_model_disagrees"}, refs(list))
	require.EqualValues(t, 5, list[0].Attempt)
	require.True(t, list[0].LastSeenAt.After(list[0].FirstSeenAt))
	gone, err := db.StuckFindings(ctx, postgres.StuckFilter{Resolved: true})
	require.NoError(t, err)
	require.Equal(t, []string{a.Reference + "/workflow_missing"}, refs(gone))
	require.NotNil(t, gone[0].ResolvedAt)
	queues, err = db.QueueFindings(ctx)
	require.NoError(t, err)
	require.Empty(t, queues)

	// The cases with open findings come first in the next run.
	recheck, err := db.RecheckCases(ctx, 10)
	require.NoError(t, err)
	require.Len(t, recheck, 2)
	require.Equal(t, other.ID, recheck[0].ID, "least recently seen first")
}

// The schema keeps findings whole.
func TestStuckFindingConstraints(t *testing.T) {
	db := setup(t)
	ctx := context.Background()
	c := openCase(t, db, createCase(t, db, "610113001").CaseID)
	run, err := db.StartScanRun(ctx, "test")
	require.NoError(t, err)
	for name, f := range map[string]postgres.StuckFinding{
		"retrying without activity": postgres.StuckFinding{Kind: postgres.StuckActivityRetrying, Attempt: 3, Cause: "x"}.ForCase(c),
		"unknown kind":              postgres.StuckFinding{Kind: "slow", Cause: "x"}.ForCase(c),
		"no cause":                  postgres.StuckFinding{Kind: postgres.StuckWorkflowMissing}.ForCase(c),
		"no case, not a queue":      {Kind: postgres.StuckWorkflowMissing, Cause: "x"},
	} {
		_, _, err := db.RecordFindings(ctx, run, nil, []postgres.StuckFinding{f})
		require.Error(t, err, name)
		require.Equal(t, civicflow.EINVALID, civicflow.ErrorCode(err), "%s: %v", name, err)
	}
	_, err = db.Pool().Exec(ctx, `INSERT INTO stuck_scan_runs (scanner) VALUES ('second')`)
	requirePgCode(t, err, "23505") // one running scan at a time
	_, err = db.Pool().Exec(ctx, `UPDATE stuck_scan_runs SET status = 'failed', finished_at = now() WHERE id = $1`, run.ID)
	requirePgCode(t, err, "23514") // a failed run says why
}

// One process scans at a time; a run left running by a process that died
// is marked abandoned by the next, which continues its predecessor's sweep.
func TestScanLockAndAbandonedRuns(t *testing.T) {
	db := setup(t)
	ctx := context.Background()
	inner := true
	ran, err := db.WithScanLock(ctx, func(ctx context.Context) error {
		var err error
		inner, err = db.WithScanLock(ctx, func(context.Context) error { return nil })
		return err
	})
	require.NoError(t, err)
	require.True(t, ran)
	require.False(t, inner, "the lock is held by the outer scan")
	ran, err = db.WithScanLock(ctx, func(context.Context) error { return nil })
	require.NoError(t, err)
	require.True(t, ran, "released after the scan")

	first, err := db.StartScanRun(ctx, "test/1")
	require.NoError(t, err)
	key := time.Now().Add(-time.Hour).Truncate(time.Microsecond)
	first.SweepAfterUpdatedAt, first.SweepAfterID = &key, 42
	require.NoError(t, db.FinishScanRun(ctx, first, nil, 0))
	dead, err := db.StartScanRun(ctx, "test/dead")
	require.NoError(t, err)
	next, err := db.StartScanRun(ctx, "test/2")
	require.NoError(t, err)
	require.NotNil(t, next.SweepAfterUpdatedAt)
	require.True(t, key.Equal(*next.SweepAfterUpdatedAt))
	require.EqualValues(t, 42, next.SweepAfterID)
	var status string
	require.NoError(t, db.Pool().QueryRow(ctx, `SELECT status FROM stuck_scan_runs WHERE id = $1`, dead.ID).Scan(&status))
	require.Equal(t, "abandoned", status)
	ago, ok, err := db.SinceLastScan(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	require.Less(t, ago, time.Minute)
}
