// Command civicflow runs civicflow: the HTTP API, the Temporal worker, the
// database migrations, and `dev`, which brings up everything on one machine.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `civicflow — social-assistance applications as durable workflows

usage: civicflow <command>

commands:
  dev       run everything in one process tree: a private PostgreSQL cluster and a
            Temporal dev server (data under CIVICFLOW_DATA_DIR, default .data),
            migrations, demo data, the verification-platform stand-in, worker and API
  api       serve the HTTP API (needs CIVICFLOW_DATABASE_URL, CIVICFLOW_TEMPORAL_ADDRESS)
  worker    run the Temporal worker (also CIVICFLOW_VERIFICATION_URL)
  migrate   apply database migrations and exit
  seed      create demo institutions and officials (idempotent)
  verifier  serve the verification-platform stand-in on CIVICFLOW_VERIFIER_ADDR
  audit verify [-anchor ID:HASH]
            walk the audit trail's hash chain; exit 1 at the first edited,
            deleted or reordered entry (docs/security.md)
  keys rotate [-batch N] | keys status | keys generate
            re-seal personal data under CIVICFLOW_DATA_KEY_ID, count values
            per key, or print a new random key
  mailsink  serve the local mail sink (SMTP with AUTH, and a page of received mail)
  temporal setup
            create civicflow's search attributes in CIVICFLOW_TEMPORAL_NAMESPACE
            (needs operator rights; api and worker only check they exist)
  version   print the version, commit and build date

Configuration is by environment; see docs/operations.md.
`

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "civicflow:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("civicflow", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("no command given")
	}
	if fs.Arg(0) == "version" { // needs no configuration
		return runVersion(stdout)
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	log := logger(stderr, cfg.LogLevel, cfg.LogFormat)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch cmd := fs.Arg(0); cmd {
	case "dev":
		return runDev(ctx, cfg, log, stdout)
	case "api":
		return runAPI(ctx, cfg, log)
	case "worker":
		return runWorker(ctx, cfg, log)
	case "migrate":
		return runMigrate(ctx, cfg, stdout)
	case "seed":
		return runSeed(ctx, cfg, stdout)
	case "verifier":
		return runVerifier(ctx, cfg, log)
	case "audit":
		return runAudit(ctx, cfg, fs.Args()[1:], stdout)
	case "keys":
		return runKeys(ctx, cfg, fs.Args()[1:], stdout)
	case "mailsink":
		return runMailSink(ctx, cfg, log, stdout)
	case "temporal":
		return runTemporal(ctx, cfg, log, fs.Args()[1:], stdout)
	case "help":
		fs.Usage()
		return nil
	default:
		fs.Usage()
		return fmt.Errorf("unknown command %q", cmd)
	}
}
