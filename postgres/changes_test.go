package postgres_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"civicflow"
	"civicflow/postgres"
)

// TestRecordedStepNotifies: a recorded step notifies CaseChangedChannel
// with the case's ID when it commits; recording the same step again does
// not.
func TestRecordedStepNotifies(t *testing.T) {
	t.Parallel()
	db := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := createCase(t, db, "610113001")
	conn, err := pgx.ConnectConfig(ctx, db.Pool().Config().ConnConfig)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, "LISTEN "+postgres.CaseChangedChannel)
	require.NoError(t, err)

	step := civicflow.Transition{CaseID: c.CaseID, Key: "step-1", Seq: 1, Action: "submitted",
		From: civicflow.StageSubmitted, To: civicflow.StageIntake, Actor: civicflow.SystemActor, At: time.Now()}
	require.NoError(t, db.RecordTransition(ctx, step))
	// Other tests' cases notify the same channel: skip theirs.
	want := strconv.FormatInt(c.CaseID, 10)
	for {
		n, err := conn.WaitForNotification(ctx)
		require.NoError(t, err, "no notification for case %s", want)
		if n.Payload == want {
			break
		}
	}
	require.NoError(t, db.RecordTransition(ctx, step), "a repeated write is not an error")
	short, stop := context.WithTimeout(ctx, 3*time.Second)
	defer stop()
	for {
		n, err := conn.WaitForNotification(short)
		if err != nil {
			break // nothing for this case: the repeat wrote nothing
		}
		require.NotEqual(t, want, n.Payload, "a repeated write notifies nothing")
	}
}

// TestWaitCaseChange answers the new version once a step is recorded, and
// the unchanged version when nothing happens within the wait.
func TestWaitCaseChange(t *testing.T) {
	t.Parallel()
	db := setup(t)
	ctx := context.Background()
	c := createCase(t, db, "610113001")

	v, err := db.WaitCaseChange(ctx, c.CaseID, 0, 300*time.Millisecond)
	require.NoError(t, err)
	require.Equal(t, 0, v, "nothing happened: the version is unchanged")

	done := make(chan int, 1)
	errs := make(chan error, 1)
	go func() {
		v, err := db.WaitCaseChange(ctx, c.CaseID, 0, 15*time.Second)
		errs <- err
		done <- v
	}()
	time.Sleep(200 * time.Millisecond) // the waiter is waiting
	require.NoError(t, db.RecordTransition(ctx, civicflow.Transition{CaseID: c.CaseID, Key: "step-1", Seq: 1, Action: "submitted",
		From: civicflow.StageSubmitted, To: civicflow.StageIntake, Actor: civicflow.SystemActor, At: time.Now()}))
	require.NoError(t, <-errs)
	require.Equal(t, 1, <-done)

	// Already above: no wait at all.
	v, err = db.WaitCaseChange(ctx, c.CaseID, 0, 15*time.Second)
	require.NoError(t, err)
	require.Equal(t, 1, v)

	_, err = db.WaitCaseChange(ctx, c.CaseID+100000, 0, time.Second)
	require.Equal(t, civicflow.ENOTFOUND, civicflow.ErrorCode(err))
}

// TestWaitCaseChangeSurvivesALostListener: the listening connection dies
// while a page waits (a PostgreSQL restart, a proxy dropping it). The
// waiter still sees the change, by its re-check, and the listener comes
// back for later waiters.
func TestWaitCaseChangeSurvivesALostListener(t *testing.T) {
	t.Parallel()
	db := setup(t)
	ctx := context.Background()
	c := createCase(t, db, "610113001")
	step := func(seq int) civicflow.Transition {
		return civicflow.Transition{CaseID: c.CaseID, Key: fmt.Sprintf("step-%d", seq), Seq: seq, Action: "submitted",
			From: civicflow.StageSubmitted, To: civicflow.StageIntake, Actor: civicflow.SystemActor, At: time.Now()}
	}
	// A short wait starts the listener.
	_, err := db.WaitCaseChange(ctx, c.CaseID, 0, 100*time.Millisecond)
	require.NoError(t, err)
	listeners := func() int {
		var n int
		require.NoError(t, db.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND query = 'LISTEN `+postgres.CaseChangedChannel+`'`).Scan(&n))
		return n
	}
	require.Eventually(t, func() bool { return listeners() == 1 }, 10*time.Second, 50*time.Millisecond)

	got := make(chan int, 1)
	go func() {
		v, _ := db.WaitCaseChange(ctx, c.CaseID, 0, 15*time.Second)
		got <- v
	}()
	time.Sleep(200 * time.Millisecond) // the waiter is waiting
	var killed bool
	require.NoError(t, db.Pool().QueryRow(ctx, `SELECT bool_and(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND query = 'LISTEN `+postgres.CaseChangedChannel+`'`).Scan(&killed))
	require.True(t, killed)
	require.NoError(t, db.RecordTransition(ctx, step(1)))
	select {
	case v := <-got:
		require.Equal(t, 1, v, "the waiter saw the change without its notification")
	case <-time.After(14 * time.Second):
		t.Fatal("the waiter missed the change when its listener died")
	}

	// The listener reconnects and wakes the next waiter.
	require.Eventually(t, func() bool { return listeners() == 1 }, 10*time.Second, 50*time.Millisecond)
	go func() {
		v, _ := db.WaitCaseChange(ctx, c.CaseID, 1, 15*time.Second)
		got <- v
	}()
	time.Sleep(200 * time.Millisecond)
	require.NoError(t, db.RecordTransition(ctx, step(2)))
	require.Equal(t, 2, <-got)
}
