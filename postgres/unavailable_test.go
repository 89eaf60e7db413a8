package postgres

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"civicflow"
	"civicflow/devenv"
)

// TestMapErrorUnavailable: errors that mean "the database is not there right
// now" become EUNAVAILABLE (the API's 503, worth retrying); errors about the
// query itself keep their meaning.
func TestMapErrorUnavailable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&pgconn.PgError{Code: "57P01"}, civicflow.EUNAVAILABLE}, // admin shutdown (server restarting)
		{&pgconn.PgError{Code: "57P03"}, civicflow.EUNAVAILABLE}, // cannot connect now (starting up)
		{&pgconn.PgError{Code: "08006"}, civicflow.EUNAVAILABLE}, // connection failure
		{fmt.Errorf("query: %w", io.ErrUnexpectedEOF), civicflow.EUNAVAILABLE},
		{context.DeadlineExceeded, civicflow.EUNAVAILABLE},
		{&pgconn.PgError{Code: "23505"}, civicflow.ECONFLICT},
		{&pgconn.PgError{Code: "23514"}, civicflow.EINVALID},
		{&pgconn.PgError{Code: "42P01"}, civicflow.EINTERNAL}, // a bug, not an outage
		{fmt.Errorf("tx: %w", civicflow.Errorf(civicflow.ECONFLICT, "stage")), civicflow.ECONFLICT},
	} {
		require.Equal(t, tc.want, civicflow.ErrorCode(mapError("test", tc.err)), "%v", tc.err)
	}
}

// TestStoreDownIsUnavailable runs real queries against a port where no
// server listens: every store call answers EUNAVAILABLE, never an internal
// error.
func TestStoreDownIsUnavailable(t *testing.T) {
	t.Parallel()
	port, err := devenv.FreePort()
	require.NoError(t, err)
	cfg, err := pgxpool.ParseConfig(fmt.Sprintf("postgres://civicflow@127.0.0.1:%d/civicflow?sslmode=disable&connect_timeout=2", port))
	require.NoError(t, err)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg) // connects lazily
	require.NoError(t, err)
	defer pool.Close()
	db := &DB{pool: pool}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = db.Case(ctx, 1)
	require.Equal(t, civicflow.EUNAVAILABLE, civicflow.ErrorCode(err), "%v", err)
	_, err = db.Login(ctx, "ts.xiaozhai", "x")
	require.Equal(t, civicflow.EUNAVAILABLE, civicflow.ErrorCode(err), "%v", err)
	_, err = db.Jurisdictions(ctx)
	require.Equal(t, civicflow.EUNAVAILABLE, civicflow.ErrorCode(err), "%v", err)
}
