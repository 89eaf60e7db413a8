package devenv

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
)

func requirePostgres(t *testing.T) {
	t.Helper()
	if _, err := FindPostgresBin(); err != nil {
		if os.Getenv("CIVICFLOW_REQUIRE_SERVICES") != "" {
			t.Fatalf("CIVICFLOW_REQUIRE_SERVICES is set but PostgreSQL is missing: %v", err)
		}
		t.Skipf("PostgreSQL not installed: %v", err)
	}
}

func TestFreePort(t *testing.T) {
	p, err := FreePort()
	require.NoError(t, err)
	require.Greater(t, p, 0)
}

func TestProjectRoot(t *testing.T) {
	root, err := ProjectRoot()
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(root, "go.mod"))
	require.DirExists(t, filepath.Join(root, "devenv"))
}

func TestPostgresPersistsAcrossRestarts(t *testing.T) {
	requirePostgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// os.MkdirTemp makes a 0700 directory owned by us (root in CI), which the
	// postgres user could not enter unless StartPostgres opens it up.
	base, err := os.MkdirTemp("", "devenv-pg-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(base) })
	st, err := os.Stat(base)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), st.Mode().Perm())
	dataDir := filepath.Join(base, "cluster")

	log := &LogBuffer{}
	pg, err := StartPostgres(ctx, PostgresOptions{DataDir: dataDir, Log: log})
	require.NoError(t, err, "server log:\n%s", log)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = pg.Stop()
		}
	})
	require.Greater(t, pg.Port(), 0)
	require.Equal(t, "postgres://civicflow@127.0.0.1:"+strconv.Itoa(pg.Port())+"/civicflow?sslmode=disable", pg.URL())
	require.FileExists(t, filepath.Join(dataDir, "PG_VERSION"))

	if os.Geteuid() == 0 {
		pgUser, err := user.Lookup("postgres")
		require.NoError(t, err)
		st, err := os.Stat(dataDir)
		require.NoError(t, err)
		require.Equal(t, pgUser.Uid, strconv.Itoa(int(st.Sys().(*syscall.Stat_t).Uid)), "data dir must belong to the postgres user")
	}

	conn, err := pgx.Connect(ctx, pg.URL())
	require.NoError(t, err)
	var one int
	require.NoError(t, conn.QueryRow(ctx, "select 1").Scan(&one))
	require.Equal(t, 1, one)
	var who, db string
	require.NoError(t, conn.QueryRow(ctx, "select current_user, current_database()").Scan(&who, &db))
	require.Equal(t, "civicflow", who)
	require.Equal(t, "civicflow", db)
	_, err = conn.Exec(ctx, "create table kept (v text); insert into kept values ('still here')")
	require.NoError(t, err)
	require.NoError(t, conn.Close(ctx))

	// A second server on the same live cluster must be refused clearly.
	_, err = StartPostgres(ctx, PostgresOptions{DataDir: dataDir, Log: log})
	require.Error(t, err)
	require.Contains(t, err.Error(), "in use by a running postgres")

	require.NoError(t, pg.Stop())
	stopped = true
	require.NoError(t, pg.Stop(), "Stop is idempotent")
	_, err = pgx.Connect(ctx, pg.URL())
	require.Error(t, err, "server must be gone after Stop")
	require.NoFileExists(t, filepath.Join(dataDir, "postmaster.pid"), "clean shutdown removes the lock file")

	// Restart on the same directory, on a fixed port this time.
	port, err := FreePort()
	require.NoError(t, err)
	pg2, err := StartPostgres(ctx, PostgresOptions{DataDir: dataDir, Port: port, Log: log})
	require.NoError(t, err, "server log:\n%s", log)
	defer pg2.Stop()
	require.Equal(t, port, pg2.Port())
	conn, err = pgx.Connect(ctx, pg2.URL())
	require.NoError(t, err)
	defer conn.Close(ctx)
	var v string
	require.NoError(t, conn.QueryRow(ctx, "select v from kept").Scan(&v))
	require.Equal(t, "still here", v)
	require.NoError(t, pg2.Stop())
}

func TestPostgresDefaultLogNextToDataDir(t *testing.T) {
	requirePostgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	base := t.TempDir()
	_, err := StartPostgres(ctx, PostgresOptions{DataDir: filepath.Join(base, "bad"), Settings: []string{"work_mem"}})
	require.ErrorContains(t, err, `"work_mem" is not name=value`)
	pg, err := StartPostgres(ctx, PostgresOptions{DataDir: filepath.Join(base, "deep", "er", "pg"), Database: "other db", User: "someone",
		Settings: []string{"work_mem=7MB"}})
	require.NoError(t, err)
	defer pg.Stop()
	conn, err := pgx.Connect(ctx, pg.URL())
	require.NoError(t, err)
	var db, workMem string
	require.NoError(t, conn.QueryRow(ctx, "select current_database(), current_setting('work_mem')").Scan(&db, &workMem))
	require.Equal(t, "other db", db)
	require.Equal(t, "7MB", workMem, "Settings reach the server")
	conn.Close(ctx)
	require.NoError(t, pg.Stop())
	b, err := os.ReadFile(filepath.Join(base, "deep", "er", "postgres.log"))
	require.NoError(t, err)
	require.Contains(t, string(b), "database system is ready to accept connections")
}

func TestPostgresStaleLockFile(t *testing.T) {
	requirePostgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dataDir := filepath.Join(t.TempDir(), "pg")
	log := &LogBuffer{}
	pg, err := StartPostgres(ctx, PostgresOptions{DataDir: dataDir, Log: log})
	require.NoError(t, err, "server log:\n%s", log)
	require.NoError(t, pg.Stop())

	// Leave a lock file behind whose PID is a live process that is not
	// postgres (this test binary), as after a crash and PID reuse.
	pidFile := filepath.Join(dataDir, "postmaster.pid")
	content := strconv.Itoa(os.Getpid()) + "\n" + dataDir + "\n0\n5432\n\n127.0.0.1\n0 0\nready\n"
	require.NoError(t, os.WriteFile(pidFile, []byte(content), 0o600))
	pg, err = StartPostgres(ctx, PostgresOptions{DataDir: dataDir, Log: log})
	require.NoError(t, err, "server log:\n%s", log)
	require.NoError(t, pg.Stop())
}

func TestPostgresUntraversableParent(t *testing.T) {
	requirePostgres(t)
	if os.Geteuid() != 0 {
		t.Skip("only root runs postgres as another user")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no nobody user")
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	// A directory owned by someone else, closed to others, outside the
	// temporary directory: StartPostgres must not loosen it.
	closed, err := os.MkdirTemp("/var/tmp", "devenv-closed-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(closed) })
	inner := filepath.Join(closed, "inner")
	require.NoError(t, os.Mkdir(inner, 0o755))
	require.NoError(t, os.Chown(closed, uid, gid))
	require.NoError(t, os.Chmod(closed, 0o700))

	_, err = StartPostgres(context.Background(), PostgresOptions{DataDir: filepath.Join(inner, "pg"), Log: &LogBuffer{}})
	require.Error(t, err)
	require.Contains(t, err.Error(), closed)
	require.Contains(t, err.Error(), "choose a data dir")
	st, err := os.Stat(closed)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), st.Mode().Perm(), "must not chmod a directory it does not own")
}

func TestTemporalInMemoryHeadless(t *testing.T) {
	bin, err := FindTemporalBinary()
	if err != nil {
		if os.Getenv("CIVICFLOW_REQUIRE_SERVICES") != "" {
			t.Fatalf("CIVICFLOW_REQUIRE_SERVICES is set but the temporal CLI is missing: %v", err)
		}
		t.Skipf("temporal CLI not built (run `make bin/temporal`): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	log := &LogBuffer{}
	tmp, err := StartTemporal(ctx, TemporalOptions{BinPath: bin, Headless: true, Namespace: "civicflow-test", Log: log})
	require.NoError(t, err, "temporal output:\n%s", log)
	defer tmp.Stop()
	require.Equal(t, "", tmp.UIURL())
	require.True(t, strings.HasPrefix(tmp.Address(), "127.0.0.1:"), tmp.Address())

	c, err := client.Dial(client.Options{HostPort: tmp.Address(), Namespace: "civicflow-test"})
	require.NoError(t, err)
	_, err = c.CheckHealth(ctx, &client.CheckHealthRequest{})
	require.NoError(t, err)
	c.Close()

	require.NoError(t, tmp.Stop())
	require.NoError(t, tmp.Stop(), "Stop is idempotent")
	_, err = net.DialTimeout("tcp", tmp.Address(), time.Second)
	require.Error(t, err, "server must be gone after Stop")
}

func TestTemporalPersistentWithUI(t *testing.T) {
	bin, err := FindTemporalBinary()
	if err != nil {
		if os.Getenv("CIVICFLOW_REQUIRE_SERVICES") != "" {
			t.Fatalf("CIVICFLOW_REQUIRE_SERVICES is set but the temporal CLI is missing: %v", err)
		}
		t.Skipf("temporal CLI not built (run `make bin/temporal`): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dbFile := filepath.Join(t.TempDir(), "temporal", "state.db")
	log := &LogBuffer{}
	tmp, err := StartTemporal(ctx, TemporalOptions{BinPath: bin, DBFile: dbFile, Log: log})
	require.NoError(t, err, "temporal output:\n%s", log)
	defer tmp.Stop()
	require.True(t, strings.HasPrefix(tmp.UIURL(), "http://127.0.0.1:"), tmp.UIURL())
	require.FileExists(t, dbFile)
	require.NoError(t, tmp.Stop())
}

// TestServicesDieWithParent starts the services from a helper process, kills
// that process with SIGKILL (no chance to call Stop) and checks that the
// services go away on their own (parent-death signal).
func TestServicesDieWithParent(t *testing.T) {
	requirePostgres(t)
	args := []string{"-test.run=^TestHelperServices$", "-test.v"}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "DEVENV_HELPER_DIR="+t.TempDir())
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	defer cmd.Process.Kill()

	var addrs []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if a, ok := strings.CutPrefix(line, "ADDR "); ok {
			addrs = append(addrs, a)
		}
		if line == "READY" {
			break
		}
	}
	require.NotEmpty(t, addrs, "helper did not start services")
	for _, a := range addrs {
		c, err := net.DialTimeout("tcp", a, time.Second)
		require.NoError(t, err, a)
		c.Close()
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()

	deadline := time.Now().Add(30 * time.Second)
	for _, a := range addrs {
		for {
			c, err := net.DialTimeout("tcp", a, time.Second)
			if err != nil {
				break
			}
			c.Close()
			require.True(t, time.Now().Before(deadline), "%s still listening after its parent died", a)
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// TestHelperServices is the helper process of TestServicesDieWithParent.
func TestHelperServices(t *testing.T) {
	dir := os.Getenv("DEVENV_HELPER_DIR")
	if dir == "" {
		t.Skip("helper process only")
	}
	ctx := context.Background()
	pg, err := StartPostgres(ctx, PostgresOptions{DataDir: filepath.Join(dir, "pg"), Log: &LogBuffer{}})
	require.NoError(t, err)
	fmt.Println("ADDR", net.JoinHostPort("127.0.0.1", strconv.Itoa(pg.Port())))
	if bin, err := FindTemporalBinary(); err == nil {
		tmp, err := StartTemporal(ctx, TemporalOptions{BinPath: bin, Headless: true, Log: &LogBuffer{}})
		require.NoError(t, err)
		fmt.Println("ADDR", tmp.Address())
	}
	fmt.Println("READY")
	time.Sleep(5 * time.Minute) // killed by the parent test
}
