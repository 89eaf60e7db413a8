package postgres_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"civicflow/devenv"
	"civicflow/postgres"
)

// The package's tests share one private PostgreSQL server, started by
// TestMain. Each test gets its own database, copied from a template that was
// migrated once, so tests run in parallel without seeing each other's rows
// (advisory locks are per database too).
var (
	testPG    *devenv.Postgres
	adminPool *pgxpool.Pool // on the server's default database; creates the test databases
	dbSeq     atomic.Int64
	createMu  sync.Mutex // CREATE DATABASE ... TEMPLATE one at a time
)

const templateDB = "civicflow_template"

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

// runTests returns the exit code; it is separate from TestMain so that its
// deferred clean-up (stopping PostgreSQL, removing the data) runs before
// os.Exit, whether the tests pass or fail. Should the process die instead
// (a panic), devenv's parent-death signal still takes the server down.
func runTests(m *testing.M) int {
	if _, err := devenv.FindPostgresBin(); err != nil {
		if os.Getenv("CIVICFLOW_REQUIRE_SERVICES") != "" {
			fmt.Fprintf(os.Stderr, "FAIL: CIVICFLOW_REQUIRE_SERVICES is set but PostgreSQL is missing: %v\n", err)
			return 1
		}
		fmt.Printf("SKIP: postgres store tests need PostgreSQL, which is not installed: %v\n", err)
		return 0
	}

	base, err := os.MkdirTemp("", "civicflow-postgres-test-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: temp dir: %v\n", err)
		return 1
	}
	defer os.RemoveAll(base)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	testPG, err = devenv.StartPostgres(ctx, devenv.PostgresOptions{DataDir: filepath.Join(base, "pg")})
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: start postgres: %v\n", err)
		return 1
	}
	code := 1
	defer func() {
		if err := testPG.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stop postgres: %v\n", err)
		}
		if code != 0 {
			// The server log goes away with base; show its end.
			if b, err := os.ReadFile(filepath.Join(base, "postgres.log")); err == nil {
				if len(b) > 4000 {
					b = b[len(b)-4000:]
				}
				fmt.Fprintf(os.Stderr, "--- end of postgres.log ---\n%s\n", b)
			}
		}
	}()

	if err := prepareTemplate(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
		return 1
	}
	defer adminPool.Close()

	code = m.Run()
	return code
}

func prepareTemplate(ctx context.Context) error {
	var err error
	adminPool, err = pgxpool.New(ctx, testPG.URL())
	if err != nil {
		return fmt.Errorf("connect admin pool: %w", err)
	}
	if _, err := adminPool.Exec(ctx, "CREATE DATABASE "+templateDB); err != nil {
		return fmt.Errorf("create template database: %w", err)
	}
	db, err := postgres.Open(ctx, dbURL(templateDB))
	if err != nil {
		return fmt.Errorf("open template database: %w", err)
	}
	defer db.Close() // a template must have no connections when copied
	if _, err := db.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate template database: %w", err)
	}
	return nil
}

// dbURL is the URL of database name on the test server. The pool is larger
// than pgxpool's default (max(4, CPUs)) so that the concurrency tests really
// run their goroutines at once.
func dbURL(name string) string {
	u, err := url.Parse(testPG.URL())
	if err != nil {
		panic(err)
	}
	u.Path = "/" + name
	q := u.Query()
	q.Set("pool_max_conns", "12")
	u.RawQuery = q.Encode()
	return u.String()
}

// createDatabase makes a new database, copied from template when it is not
// empty, and drops it when the test ends. It returns its name.
func createDatabase(t testing.TB, template string) string {
	t.Helper()
	name := fmt.Sprintf("test_%d", dbSeq.Add(1))
	sql := "CREATE DATABASE " + name
	if template != "" {
		sql += " TEMPLATE " + template
	}
	createMu.Lock()
	_, err := adminPool.Exec(context.Background(), sql)
	createMu.Unlock()
	require.NoError(t, err, "create database %s", name)
	t.Cleanup(func() {
		_, err := adminPool.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		if err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
	})
	return name
}

// open connects to database name and closes the pool when the test ends
// (before the database is dropped: cleanups run last-in first-out).
func open(t testing.TB, name string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), dbURL(name), postgres.WithKeyring(testKeyring(t)))
	require.NoError(t, err)
	t.Cleanup(db.Close)
	return db
}

// setup gives the test a fresh, migrated database of its own.
func setup(t testing.TB) *postgres.DB {
	t.Helper()
	return open(t, createDatabase(t, templateDB))
}
