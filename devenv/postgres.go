package devenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresOptions configures StartPostgres.
type PostgresOptions struct {
	// DataDir is the cluster directory. It is created with initdb when it
	// has no PG_VERSION file and reused otherwise, so data is kept between
	// runs. Required.
	DataDir string
	// Port is the TCP port on 127.0.0.1; 0 picks a free one.
	Port int
	// BinDir holds initdb and postgres; "" auto-detects: the CIVICFLOW_PG_BIN
	// environment variable, then /usr/lib/postgresql/<version>/bin (the
	// existing cluster's version if installed, else the newest).
	BinDir string
	// Database is created if missing. Default "civicflow".
	Database string
	// User is the role to connect as, created (as a superuser) if missing.
	// Default "civicflow". Authentication is trust, on 127.0.0.1 only.
	User string
	// Log receives the server's log. nil appends to postgres.log in the
	// DataDir's parent directory.
	Log io.Writer
	// Settings are extra server settings, "name=value" each, passed as -c
	// on the command line (e.g. the bench's
	// "shared_preload_libraries=pg_stat_statements").
	Settings []string
}

// Postgres is a running PostgreSQL server started by StartPostgres.
type Postgres struct {
	opts    PostgresOptions
	port    int
	proc    *child
	logFile *os.File // opened by us, closed by Stop
}

const (
	pgBootstrapUser = "postgres" // superuser made by initdb, used to create User and Database
	pgStartTimeout  = 2 * time.Minute
	pgStopGrace     = 30 * time.Second
)

// StartPostgres starts a private PostgreSQL server on opts.DataDir and
// returns once it accepts connections and the role and database exist.
// The server runs until Stop is called or the calling process dies.
func StartPostgres(ctx context.Context, opts PostgresOptions) (*Postgres, error) {
	if opts.DataDir == "" {
		return nil, errors.New("devenv: PostgresOptions.DataDir is required")
	}
	dataDir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("devenv: data dir: %w", err)
	}
	opts.DataDir = dataDir
	for _, kv := range opts.Settings {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return nil, fmt.Errorf("devenv: PostgresOptions.Settings: %q is not name=value", kv)
		}
	}
	if opts.Database == "" {
		opts.Database = "civicflow"
	}
	if opts.User == "" {
		opts.User = "civicflow"
	}

	cred, runAs, err := postgresCredential()
	if err != nil {
		return nil, err
	}
	if err := preparePostgresDataDir(dataDir, runAs); err != nil {
		return nil, err
	}
	binDir, err := postgresBinDir(opts.BinDir, dataDir)
	if err != nil {
		return nil, err
	}
	opts.BinDir = binDir

	p := &Postgres{opts: opts}
	logw := opts.Log
	if logw == nil {
		logPath := filepath.Join(filepath.Dir(dataDir), "postgres.log")
		f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("devenv: open postgres log: %w", err)
		}
		p.logFile, logw = f, f
	}
	ok := false
	defer func() {
		if !ok && p.logFile != nil {
			p.logFile.Close()
		}
	}()

	if _, err := os.Stat(filepath.Join(dataDir, "PG_VERSION")); errors.Is(err, fs.ErrNotExist) {
		if err := initdb(ctx, binDir, dataDir, cred, logw); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, fmt.Errorf("devenv: %w", err)
	} else if err := checkPostmasterPid(dataDir); err != nil {
		return nil, err
	}

	// A picked port can be taken between FreePort and the server binding it;
	// then try another.
	attempts := 1
	if opts.Port == 0 {
		attempts = 3
	}
	for i := 0; ; i++ {
		port := opts.Port
		if port == 0 {
			if port, err = FreePort(); err != nil {
				return nil, err
			}
		}
		err = p.start(ctx, port, cred, logw)
		if err == nil {
			break
		}
		if i+1 >= attempts || !errors.Is(err, errPortInUse) {
			return nil, err
		}
	}
	if err := p.ensureRoleAndDatabase(ctx); err != nil {
		_ = p.Stop()
		return nil, err
	}
	ok = true
	return p, nil
}

var errPortInUse = errors.New("port in use")

func (p *Postgres) start(ctx context.Context, port int, cred *syscall.Credential, logw io.Writer) error {
	tail := &tailWriter{max: 4096}
	out := multiWriter(logw, tail)
	cmd := exec.Command(filepath.Join(p.opts.BinDir, "postgres"),
		"-D", p.opts.DataDir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "port="+strconv.Itoa(port),
		"-c", "unix_socket_directories=", // TCP on loopback only
		"-c", "logging_collector=off",
	)
	for _, kv := range p.opts.Settings {
		cmd.Args = append(cmd.Args, "-c", kv)
	}
	cmd.Dir = p.opts.DataDir
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = out, out
	// SIGINT is postgres' fast shutdown; SIGTERM ("smart") would wait for
	// every client to disconnect.
	cmd.SysProcAttr = sysProcAttr(syscall.SIGINT, cred)
	proc, err := startChild("postgres", cmd)
	if err != nil {
		return err
	}
	p.proc, p.port = proc, port

	ctx, cancel := context.WithTimeout(ctx, pgStartTimeout)
	defer cancel()
	for {
		conn, err := p.connect(ctx, pgBootstrapUser, "postgres")
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		if proc.exited() {
			msg := strings.TrimSpace(tail.String())
			if strings.Contains(msg, "Address already in use") {
				return fmt.Errorf("devenv: postgres on port %d: %w: %s", port, errPortInUse, msg)
			}
			return fmt.Errorf("devenv: postgres exited during start-up (%v): %s", proc.err, msg) //nolint:errorlint // proc.err is nil after a clean exit, which %w would print as %!w(<nil>)
		}
		select {
		case <-ctx.Done():
			_ = proc.stop(syscall.SIGINT, pgStopGrace)
			return fmt.Errorf("devenv: postgres on port %d not ready: %w (last error: %w; log tail: %s)",
				port, ctx.Err(), err, strings.TrimSpace(tail.String()))
		case <-proc.done:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (p *Postgres) connect(ctx context.Context, user, db string) (*pgx.Conn, error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return pgx.Connect(cctx, pgURL(user, p.port, db))
}

func pgURL(user string, port int, db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(user),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

func (p *Postgres) ensureRoleAndDatabase(ctx context.Context) error {
	conn, err := p.connect(ctx, pgBootstrapUser, "postgres")
	if err != nil {
		return fmt.Errorf("devenv: connect to postgres as %s: %w", pgBootstrapUser, err)
	}
	defer conn.Close(context.Background())

	var exists bool
	if err := conn.QueryRow(ctx, "select exists(select 1 from pg_roles where rolname = $1)", p.opts.User).Scan(&exists); err != nil {
		return fmt.Errorf("devenv: look up role %q: %w", p.opts.User, err)
	}
	if !exists {
		if _, err := conn.Exec(ctx, "create role "+pgx.Identifier{p.opts.User}.Sanitize()+" login superuser"); err != nil {
			return fmt.Errorf("devenv: create role %q: %w", p.opts.User, err)
		}
	}
	if err := conn.QueryRow(ctx, "select exists(select 1 from pg_database where datname = $1)", p.opts.Database).Scan(&exists); err != nil {
		return fmt.Errorf("devenv: look up database %q: %w", p.opts.Database, err)
	}
	if !exists {
		q := "create database " + pgx.Identifier{p.opts.Database}.Sanitize() + " owner " + pgx.Identifier{p.opts.User}.Sanitize()
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("devenv: create database %q: %w", p.opts.Database, err)
		}
	}
	return nil
}

// URL returns the connection URL for User on Database, e.g.
// postgres://civicflow@127.0.0.1:5432/civicflow?sslmode=disable.
func (p *Postgres) URL() string {
	return pgURL(p.opts.User, p.port, p.opts.Database)
}

// Port returns the TCP port the server listens on at 127.0.0.1.
func (p *Postgres) Port() int { return p.port }

// Pid is the process id of the postmaster; its children are the backends.
func (p *Postgres) Pid() int { return p.proc.pid() }

// DataDir returns the absolute cluster directory.
func (p *Postgres) DataDir() string { return p.opts.DataDir }

// Stop shuts the server down (fast shutdown: SIGINT), waits up to 30s, then
// kills it. Calling it again returns the first result.
func (p *Postgres) Stop() error {
	if p == nil || p.proc == nil {
		return nil
	}
	err := p.proc.stop(syscall.SIGINT, pgStopGrace)
	if p.logFile != nil {
		p.logFile.Close()
	}
	return err
}

func initdb(ctx context.Context, binDir, dataDir string, cred *syscall.Credential, logw io.Writer) error {
	tail := &tailWriter{max: 8192}
	out := multiWriter(logw, tail)
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "initdb"),
		"-D", dataDir,
		"--username="+pgBootstrapUser,
		"--encoding=UTF8",
		"--locale=C",
		"--auth=trust", // replaced by the pg_hba.conf below
		"--no-instructions",
	)
	cmd.Dir = "/"
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr(syscall.SIGTERM, cred)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("devenv: initdb %s: %w: %s", dataDir, err, strings.TrimSpace(tail.String()))
	}
	// Trust, and only from 127.0.0.1 (unix sockets are disabled).
	hba := "# written by civicflow devenv: local development only\n" +
		"host all all 127.0.0.1/32 trust\n"
	hbaPath := filepath.Join(dataDir, "pg_hba.conf")
	if err := os.WriteFile(hbaPath, []byte(hba), 0o600); err != nil {
		return fmt.Errorf("devenv: write %s: %w", hbaPath, err)
	}
	if cred != nil {
		if err := os.Chown(hbaPath, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("devenv: %w", err)
		}
	}
	return nil
}

// checkPostmasterPid fails when a live postmaster owns dataDir. A lock file
// whose process is gone is left to postgres, which replaces it; one whose
// PID now belongs to an unrelated process is removed, because postgres would
// otherwise refuse to start.
func checkPostmasterPid(dataDir string) error {
	pidPath := filepath.Join(dataDir, "postmaster.pid")
	b, err := os.ReadFile(pidPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("devenv: %w", err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 {
		return nil //nolint:nilerr // garbage; postgres reports it if it matters
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return nil // gone: postgres copes with the stale file itself
	}
	comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	name := strings.TrimSpace(string(comm))
	if name == "" || strings.HasPrefix(name, "postgres") || strings.HasPrefix(name, "postmaster") {
		return fmt.Errorf("devenv: data dir %s is in use by a running postgres (pid %d); stop it or use another data dir", dataDir, pid)
	}
	if err := os.Remove(pidPath); err != nil {
		return fmt.Errorf("devenv: remove stale %s (pid %d is now %q): %w", pidPath, pid, name, err)
	}
	return nil
}

// postgresCredential returns the user to run initdb and postgres as: nil
// (the caller) unless the caller is root, then the "postgres" system user.
func postgresCredential() (*syscall.Credential, *user.User, error) {
	if os.Geteuid() != 0 {
		return nil, nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, nil, fmt.Errorf("devenv: running as root, and PostgreSQL refuses to run as root, but there is no \"postgres\" user to run it as (%w); install the postgresql package or run as a normal user", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, nil, fmt.Errorf("devenv: postgres user has non-numeric uid/gid %s/%s", u.Uid, u.Gid)
	}
	var groups []uint32
	if gids, err := u.GroupIds(); err == nil {
		for _, g := range gids {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				groups = append(groups, uint32(n))
			}
		}
	}
	if groups == nil {
		groups = []uint32{uint32(gid)}
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: groups}, u, nil
}

// preparePostgresDataDir creates dataDir (and missing parents), makes the
// path to it traversable by runAs where that is safe, and gives runAs the
// data directory. runAs is nil when postgres runs as the caller.
func preparePostgresDataDir(dataDir string, runAs *user.User) error {
	created, err := mkdirAllTracked(filepath.Dir(dataDir), 0o755)
	if err != nil {
		return fmt.Errorf("devenv: create parent of data dir: %w", err)
	}
	st, err := os.Stat(dataDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.Mkdir(dataDir, 0o700); err != nil {
			return fmt.Errorf("devenv: create data dir: %w", err)
		}
	case err != nil:
		return fmt.Errorf("devenv: data dir: %w", err)
	case !st.IsDir():
		return fmt.Errorf("devenv: data dir %s is not a directory", dataDir)
	default:
		if _, err := os.Stat(filepath.Join(dataDir, "PG_VERSION")); err != nil {
			entries, err := os.ReadDir(dataDir)
			if err != nil {
				return fmt.Errorf("devenv: data dir: %w", err)
			}
			if len(entries) > 0 {
				return fmt.Errorf("devenv: data dir %s is not empty and holds no PostgreSQL cluster (no PG_VERSION); use an empty or new directory", dataDir)
			}
		}
	}
	if runAs == nil {
		return nil
	}
	uid, _ := strconv.Atoi(runAs.Uid)
	gid, _ := strconv.Atoi(runAs.Gid)
	groups := map[uint32]bool{uint32(gid): true}
	if gids, err := runAs.GroupIds(); err == nil {
		for _, g := range gids {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				groups[uint32(n)] = true
			}
		}
	}
	if err := ensureTraversable(filepath.Dir(dataDir), uint32(uid), groups, created, runAs.Username); err != nil {
		return err
	}
	// Hand the cluster to the postgres user (it may have been made by a run
	// as another user); postgres requires it to own the directory.
	st, err = os.Stat(dataDir)
	if err != nil {
		return fmt.Errorf("devenv: data dir: %w", err)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != uid {
		err := filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(path, uid, gid)
		})
		if err != nil {
			return fmt.Errorf("devenv: give data dir %s to user %s: %w", dataDir, runAs.Username, err)
		}
	}
	if st.Mode().Perm()&0o027 != 0 { // postgres wants 0700 or 0750
		if err := os.Chmod(dataDir, 0o700); err != nil {
			return fmt.Errorf("devenv: %w", err)
		}
	}
	return nil
}

// mkdirAllTracked is os.MkdirAll that reports the directories it made.
func mkdirAllTracked(dir string, perm fs.FileMode) (map[string]bool, error) {
	created := map[string]bool{}
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], perm); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		if err := os.Chmod(missing[i], perm); err != nil { // not subject to umask
			return nil, err
		}
		created[missing[i]] = true
	}
	return created, nil
}

// ensureTraversable checks that user uid (with groups) may search every
// directory from dir up to /. A directory that blocks it gets the search bit
// added for group and others when we own it and it is safe to loosen: we
// made it, it is the data directory's parent, or it lies in the temporary
// directory (os.MkdirTemp makes 0700 directories). Otherwise it is an error
// naming the directory.
func ensureTraversable(dir string, uid uint32, groups map[uint32]bool, created map[string]bool, username string) error {
	tmp, _ := filepath.Abs(os.TempDir())
	tmp, _ = filepath.EvalSymlinks(tmp)
	dataParent := dir
	for d := dir; ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("devenv: %w", err)
		}
		sys, ok := st.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		mode := st.Mode().Perm()
		var can bool
		switch {
		case sys.Uid == uid:
			can = mode&0o100 != 0
		case groups[sys.Gid]:
			can = mode&0o010 != 0
		default:
			can = mode&0o001 != 0
		}
		if !can {
			real, _ := filepath.EvalSymlinks(d)
			inTmp := tmp != "" && tmp != "/" && real != tmp && strings.HasPrefix(real+"/", tmp+"/")
			safe := created[d] || d == dataParent || inTmp
			if int(sys.Uid) == os.Geteuid() && safe {
				if err := os.Chmod(d, st.Mode()|0o011); err != nil {
					return fmt.Errorf("devenv: make %s traversable for user %s: %w", d, username, err)
				}
			} else {
				return fmt.Errorf("devenv: postgres runs as user %q, which cannot enter directory %s (mode %04o, owner uid %d) on the way to the data dir; "+
					"choose a data dir whose parent directories are world-traversable (for example under /var/tmp or /srv), or run chmod o+x %s",
					username, d, uint32(mode), sys.Uid, d)
			}
		}
		if filepath.Dir(d) == d {
			return nil
		}
	}
}

// postgresBinDir resolves the directory holding initdb and postgres.
func postgresBinDir(binDir, dataDir string) (string, error) {
	if binDir == "" {
		binDir = os.Getenv("CIVICFLOW_PG_BIN")
	}
	if binDir == "" {
		var err error
		if binDir, err = detectPostgresBin(dataDir); err != nil {
			return "", err
		}
	}
	for _, exe := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(binDir, exe)); err != nil {
			return "", fmt.Errorf("devenv: PostgreSQL binary %s not found in %s (set CIVICFLOW_PG_BIN or run `make deps`): %w", exe, binDir, err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dataDir, "PG_VERSION")); err == nil {
		if v := strings.TrimSpace(string(b)); filepath.Base(filepath.Dir(binDir)) != v && strings.HasPrefix(binDir, "/usr/lib/postgresql/") {
			return "", fmt.Errorf("devenv: data dir %s holds a PostgreSQL %s cluster but %s is another version; install PostgreSQL %s or use a new data dir", dataDir, v, binDir, v)
		}
	}
	return binDir, nil
}

// FindPostgresBin returns the auto-detected PostgreSQL bin directory: the
// CIVICFLOW_PG_BIN environment variable, else the newest
// /usr/lib/postgresql/<version>/bin that has initdb.
func FindPostgresBin() (string, error) {
	if d := os.Getenv("CIVICFLOW_PG_BIN"); d != "" {
		return d, nil
	}
	return detectPostgresBin("")
}

func detectPostgresBin(dataDir string) (string, error) {
	const root = "/usr/lib/postgresql"
	if dataDir != "" {
		if b, err := os.ReadFile(filepath.Join(dataDir, "PG_VERSION")); err == nil {
			d := filepath.Join(root, strings.TrimSpace(string(b)), "bin")
			if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
				return d, nil
			}
		}
	}
	matches, _ := filepath.Glob(filepath.Join(root, "*", "bin", "initdb"))
	type cand struct {
		ver float64
		dir string
	}
	var cands []cand
	for _, m := range matches {
		dir := filepath.Dir(m)
		v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		if err != nil {
			continue
		}
		cands = append(cands, cand{v, dir})
	}
	if len(cands) == 0 {
		return "", fmt.Errorf("devenv: no PostgreSQL found in %s/*/bin; run `make deps` (apt-get install postgresql) or set CIVICFLOW_PG_BIN", root)
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].ver > cands[j].ver })
	return cands[0].dir, nil
}

// childEnv is our environment without PG* variables, which could point the
// server tools elsewhere.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") {
			continue
		}
		env = append(env, kv)
	}
	return env
}
