package postgres_test

import (
	"context"
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

	step := postgres.Transition{CaseID: c.CaseID, Key: "step-1", Seq: 1, Action: "submitted",
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
	require.NoError(t, db.RecordTransition(ctx, postgres.Transition{CaseID: c.CaseID, Key: "step-1", Seq: 1, Action: "submitted",
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
