package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"civicflow/devenv"
)

// proc is a child process of the bench: the civicflow API, the civicflow
// worker, or the bare worker.
type proc struct {
	*devenv.Process
	name      string
	log       *os.File
	pprofAddr string // host:port of its pprof listener, "" if none
}

// startProc runs bin with args and extra environment, its output going to
// logPath.
func startProc(name, bin string, args []string, env []string, logPath string) (*proc, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	p, err := devenv.StartProcess(name, append([]string{bin}, args...), append(os.Environ(), env...), lf)
	if err != nil {
		lf.Close()
		return nil, err
	}
	return &proc{Process: p, name: name, log: lf}, nil
}

func (p *proc) pid() int { return p.Pid() }

// stop sends SIGTERM and waits up to 15 s, then kills.
func (p *proc) stop() {
	if p == nil {
		return
	}
	if !p.Exited() {
		_, _ = p.Stop(15 * time.Second)
	}
	p.log.Close()
}

// waitHTTP polls url until it answers 200 or the process dies.
func (p *proc) waitHTTP(ctx context.Context, u string, within time.Duration) error {
	return p.WaitHTTP(ctx, u, within)
}

// peakRSS reads VmHWM, the resident set's high-water mark, in MiB.
func peakRSS(pid int) (float64, error) {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				return 0, fmt.Errorf("parse VmHWM %q: %w", v, err)
			}
			return round2(float64(kb) / 1024), nil
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}

// freeAddr returns 127.0.0.1:<free port>.
func freeAddr() (string, error) {
	p, err := devenv.FreePort()
	if err != nil {
		return "", err
	}
	return "127.0.0.1:" + strconv.Itoa(p), nil
}

// createDatabase makes a fresh database on the bench's cluster and returns
// its URL.
func createDatabase(ctx context.Context, baseURL, name string) (string, error) {
	conn, err := pgx.Connect(ctx, baseURL)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident); err != nil {
		return "", fmt.Errorf("drop database %s: %w", name, err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(baseURL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

// quietLogger keeps the SDK's own logging out of the bench's output.
func quietLogger() tlog.Logger { return tlog.NewStructuredLogger(discardSlog()) }

func dialTemporal(ctx context.Context, addr, compression string) (client.Client, error) {
	return client.DialContext(ctx, client.Options{HostPort: addr, Logger: quietLogger(),
		ConnectionOptions: client.ConnectionOptions{GrpcCompression: grpcCompression(compression)}})
}
