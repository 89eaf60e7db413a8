package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sync/errgroup"

	"civicflow/demo"
	"civicflow/devenv"
	"civicflow/verification"
)

// runDev brings up the whole system in one process tree and stops all of it
// on Ctrl-C. Data persists under cfg.DataDir between runs.
func runDev(ctx context.Context, cfg config, log *slog.Logger, out io.Writer) error {
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	if cfg.DatabaseURL == "" {
		fmt.Fprintf(out, "starting PostgreSQL (data in %s, port %d)...\n", filepath.Join(dataDir, "postgres"), cfg.PostgresPort)
		pg, err := devenv.StartPostgres(ctx, devenv.PostgresOptions{DataDir: filepath.Join(dataDir, "postgres"), Port: cfg.PostgresPort})
		if err != nil {
			return fmt.Errorf("start postgres: %w", err)
		}
		defer pg.Stop()
		cfg.DatabaseURL = pg.URL()
	}
	var temporalUI string
	if cfg.TemporalAddress == "" {
		fmt.Fprintf(out, "starting Temporal dev server (store %s, port %d)...\n", filepath.Join(dataDir, "temporal.db"), cfg.TemporalPort)
		logf, err := os.OpenFile(filepath.Join(dataDir, "temporal.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		defer logf.Close()
		tmp, err := devenv.StartTemporal(ctx, devenv.TemporalOptions{DBFile: filepath.Join(dataDir, "temporal.db"),
			Port: cfg.TemporalPort, UIPort: cfg.TemporalUIPort, Namespace: cfg.TemporalNamespace, Log: logf,
			// The UI decodes sealed payloads through the API's codec
			// server, with the console's session (docs/security.md).
			UICodecEndpoint: "http://" + cfg.HTTPAddr + strings.TrimSuffix(consoleCodecPath, "/")})
		if err != nil {
			return fmt.Errorf("start temporal: %w", err)
		}
		defer tmp.Stop()
		cfg.TemporalAddress, temporalUI = tmp.Address(), tmp.UIURL()
		if cfg.CodecOrigins == "" {
			cfg.CodecOrigins = temporalUI
		}
	}
	// What an operator does once per namespace with `civicflow temporal
	// setup`; dev does it at every start (idempotent).
	if _, err := temporalSetup(ctx, cfg, log); err != nil {
		return fmt.Errorf("temporal setup: %w", err)
	}

	if err := ensureDevKeys(&cfg, dataDir, out); err != nil {
		return err
	}
	db, err := openStore(ctx, cfg.DatabaseURL, cfg.withKeys())
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}
	password := cfg.DemoPassword
	if password == "" {
		password = demo.DefaultPassword
	}
	logins, err := demo.Seed(ctx, db, password)
	if err != nil {
		return err
	}
	// The register of supported persons, for the register's pages and the
	// walk-throughs in README.md (a few hundred persons, once).
	seeded, err := demo.SeedRegister(ctx, db)
	if err != nil {
		return err
	}
	log.Info("demo register seeded", "persons", seeded)
	tc, err := dialTemporal(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer tc.Close()

	verifierURL := cfg.VerificationURL
	var verifierLn net.Listener
	vs, err := verification.NewDevServer()
	if err != nil {
		return err
	}
	if verifierURL == "" {
		if verifierLn, err = net.Listen("tcp", cfg.VerifierAddr); err != nil {
			return fmt.Errorf("listen for the verification stand-in on %s: %w", cfg.VerifierAddr, err)
		}
		verifierURL = "http://" + verifierLn.Addr().String()
	}
	apiLn, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s (set CIVICFLOW_HTTP_ADDR to use another address): %w", cfg.HTTPAddr, err)
	}
	g, gctx := errgroup.WithContext(ctx)
	// Without an SMTP server configured, mail goes to the local sink.
	var sink *mailSink
	if cfg.SMTPHost == "" {
		if sink, err = startMailSink(gctx, g, cfg, filepath.Join(dataDir, "mailsink")); err != nil {
			return err
		}
		cfg = cfg.useSink(sink)
	}
	w := newWorker(cfg, tc, db, verifierURL)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	defer w.Stop()
	stopDispatcher, err := startDispatcher(gctx, cfg, tc, db, log)
	if err != nil {
		return err
	}
	defer stopDispatcher()
	defer startStuckScan(gctx, cfg, tc, db, log)()

	if verifierLn != nil {
		g.Go(func() error { return serveHTTP(gctx, verifierLn, vs) })
	}
	handler, err := apiHandler(cfg, tc, db, log, nil)
	if err != nil {
		return err
	}
	g.Go(func() error { return serveHTTP(gctx, apiLn, handler) })

	apiURL := "http://" + apiLn.Addr().String()
	fmt.Fprintf(out, "\ncivicflow is running.\n")
	fmt.Fprintf(out, "  API                 %s   (OpenAPI: %s/api/v1/openapi.json)\n", apiURL, apiURL)
	fmt.Fprintf(out, "  Web console         %s/console/   (applicants: apply and track; officials: log in below; 中文 / English)\n", apiURL)
	if temporalUI != "" {
		fmt.Fprintf(out, "  Temporal UI         %s   (payloads decode for sv.city or admin logged in to the console; docs/security.md)\n", temporalUI)
	}
	fmt.Fprintf(out, "  Temporal            %s (namespace %s)\n", cfg.TemporalAddress, cfg.TemporalNamespace)
	fmt.Fprintf(out, "  PostgreSQL          %s\n", cfg.DatabaseURL)
	fmt.Fprintf(out, "  Verification stand-in %s\n", verifierURL)
	if sink != nil {
		fmt.Fprintf(out, "  Mail sink           %s   (SMTP %s, STARTTLS, AUTH %s / %s)\n", sink.httpURL, sink.smtpAddr,
			cfg.SMTPUsername, cfg.SMTPPassword)
	} else {
		fmt.Fprintf(out, "  Mail                via %s:%d (%s)\n", cfg.SMTPHost, cfg.SMTPPort, cfg.SMTPTLS)
	}
	if cfg.NoticePeriod > 0 {
		fmt.Fprintf(out, "  Public notice lasts %s (CIVICFLOW_NOTICE_PERIOD)\n\n", cfg.NoticePeriod)
	} else {
		fmt.Fprintf(out, "  Public notice lasts as the deadline rules say (7 days); CIVICFLOW_NOTICE_PERIOD=30s shortens it for a demo\n\n")
	}
	printLogins(out, logins, password)
	fmt.Fprintf(out, "\nResidents known to the verification stand-in: %s\n", strings.Join(vs.SeededIDNumbers(), " "))
	fmt.Fprintf(out, "Students for the education grant (household assistance): %s\n", strings.Join(vs.SeededStudents(), " "))
	fmt.Fprintf(out, "Walk a case through every stage: see README.md. Press Ctrl-C to stop.\n\n")

	err = g.Wait()
	fmt.Fprintln(out, "stopping...")
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
