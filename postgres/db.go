// Package postgres is civicflow's store: a pgx connection pool, the
// migrations runner, the queries, and the mapping of PostgreSQL errors to
// domain errors.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"path"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"civicflow"
	"civicflow/schema"
)

// DB is the store. It is safe for concurrent use.
type DB struct {
	pool *pgxpool.Pool
	keys *sealer // nil: personal data can be neither sealed nor opened
	// watch wakes requests waiting for a case to change (changes.go).
	watch caseWatch
}

// Option configures Open.
type Option func(*DB)

// WithKeyring gives the store the keys that seal and open personal data.
// Without it, writing or reading personal data unmasked fails.
func WithKeyring(k *Keyring) Option { return func(db *DB) { db.keys = newSealer(k) } }

// Open connects to url and checks the connection.
func Open(ctx context.Context, url string, opts ...Option) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ping postgres: %w", err)
	}
	db := &DB{pool: pool}
	for _, o := range opts {
		o(db)
	}
	return db, nil
}

// Close stops the change listener, if it runs, and releases the pool.
func (db *DB) Close() {
	db.watch.close()
	db.pool.Close()
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.pool.Ping(ctx) }

// Pool exposes the pool to tests and tools that need raw SQL.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// migrationLock is a constant advisory-lock key so that concurrent starts
// (API and worker at once) migrate one after the other.
const migrationLock = 7_310_000_001

// Migrate applies every embedded migration not yet applied, in order, each in
// its own transaction. It reports the versions it applied.
func (db *DB) Migrate(ctx context.Context) ([]int, error) { return db.MigrateTo(ctx, 0) }

// MigrateTo is Migrate stopping after version target (0: no limit). Tests
// use it to build a database as an older release left it.
func (db *DB) MigrateTo(ctx context.Context, target int) ([]int, error) {
	type migration struct {
		version int
		name    string
	}
	entries, err := fs.ReadDir(schema.Migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration %s: name must be NNN_name.sql", e.Name())
		}
		ms = append(ms, migration{v, e.Name()})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })

	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("acquire connection: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return nil, fmt.Errorf("take migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLock) //nolint:errcheck // released with the session anyway
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	var applied []int
	for _, m := range ms {
		var done bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, m.version).Scan(&done); err != nil {
			return applied, fmt.Errorf("check migration %d: %w", m.version, err)
		}
		if done || (target > 0 && m.version > target) {
			continue
		}
		sql, err := fs.ReadFile(schema.Migrations, path.Join("migrations", m.name))
		if err != nil {
			return applied, fmt.Errorf("read migration %s: %w", m.name, err)
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if err := db.runMigrationSQL(ctx, tx, string(sql)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name)
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("apply migration %s: %w", m.name, err)
		}
		applied = append(applied, m.version)
	}
	return applied, nil
}

// mapError turns PostgreSQL errors into domain errors; what says what was
// being done ("insert case").
func mapError(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return civicflow.Errorf(civicflow.ENOTFOUND, "%s: not found", what)
	}
	var de *civicflow.Error
	if !errors.As(err, &de) && unavailable(err) {
		return &civicflow.Error{Code: civicflow.EUNAVAILABLE,
			Message: "the database is unavailable; try again shortly (repeat a request with the same Idempotency-Key)"}
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		// The messages name no constraint, column or SQL: they reach users.
		case "23505":
			return &civicflow.Error{Code: civicflow.ECONFLICT, Message: what + ": already exists"}
		case "23P01": // exclusion: e.g. a second period of support over the same dates
			return &civicflow.Error{Code: civicflow.ECONFLICT, Message: what + ": overlaps a record that exists"}
		case "23503":
			return &civicflow.Error{Code: civicflow.EINVALID, Message: what + ": refers to something that does not exist"}
		case "23514", "23502", "22001", "22P02", "22007", "22008", "22003", "22021", "54000":
			return &civicflow.Error{Code: civicflow.EINVALID, Message: what + ": a value is not acceptable"}
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// unavailable reports whether err means the database could not be reached
// or went away (connection refused or lost, server shutting down or
// starting up, a timeout), as opposed to a query it refused. Such errors
// are worth retrying; the API answers them with 503.
func unavailable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exception; 57P01-57P03: admin or crash
		// shutdown, cannot connect now (starting up or shutting down).
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	}
	var connErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connErr), errors.As(err, &netErr),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		pgconn.Timeout(err), pgconn.SafeToRetry(err):
		return true
	}
	// pgx reports a pool or connection closed under it in plain text.
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "closed pool")
}
