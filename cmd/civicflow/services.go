package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"

	"civicflow/activities"
	"civicflow/api"
	"civicflow/demo"
	"civicflow/postgres"
	"civicflow/verification"
	"civicflow/worker"
)

func openStore(ctx context.Context, url string) (*postgres.DB, error) {
	if url == "" {
		return nil, errors.New("CIVICFLOW_DATABASE_URL is not set")
	}
	return postgres.Open(ctx, url)
}

// dialTemporal connects to Temporal and makes sure the namespace has
// civicflow's search attributes.
func dialTemporal(ctx context.Context, cfg config, log *slog.Logger) (client.Client, error) {
	if cfg.TemporalAddress == "" {
		return nil, errors.New("CIVICFLOW_TEMPORAL_ADDRESS is not set")
	}
	tc, err := client.DialContext(ctx, client.Options{
		HostPort:  cfg.TemporalAddress,
		Namespace: cfg.TemporalNamespace,
		Logger:    sdklog.NewStructuredLogger(log.With("component", "temporal-sdk")),
	})
	if err != nil {
		return nil, fmt.Errorf("connect to temporal at %s: %w", cfg.TemporalAddress, err)
	}
	if err := worker.EnsureSearchAttributes(ctx, tc, cfg.TemporalNamespace); err != nil {
		tc.Close()
		return nil, err
	}
	return tc, nil
}

func newWorker(cfg config, tc client.Client, db *postgres.DB, verificationURL string) sdkworker.Worker {
	acts := &activities.Activities{Store: db, Platform: verification.NewClient(verificationURL, 20*time.Second)}
	return worker.New(tc, acts, worker.Options{TaskQueue: cfg.TaskQueue})
}

func newAPI(cfg config, tc client.Client, db *postgres.DB, log *slog.Logger) *api.Server {
	return api.New(db, tc, api.Config{TaskQueue: cfg.TaskQueue, NoticePeriod: cfg.NoticePeriod}, log)
}

// serveHTTP serves h on addr until ctx ends, then drains in-flight requests
// for up to 10 seconds.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

func runAPI(ctx context.Context, cfg config, log *slog.Logger) error {
	db, err := openStore(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	tc, err := dialTemporal(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer tc.Close()
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	log.Info("api listening", "addr", ln.Addr().String())
	return serveHTTP(ctx, ln, newAPI(cfg, tc, db, log).Handler())
}

func runWorker(ctx context.Context, cfg config, log *slog.Logger) error {
	if cfg.VerificationURL == "" {
		return errors.New("CIVICFLOW_VERIFICATION_URL is not set")
	}
	db, err := openStore(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	tc, err := dialTemporal(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer tc.Close()
	w := newWorker(cfg, tc, db, cfg.VerificationURL)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	log.Info("worker polling", "task_queue", cfg.TaskQueue)
	<-ctx.Done()
	w.Stop()
	return nil
}

func runMigrate(ctx context.Context, cfg config, out io.Writer) error {
	db, err := openStore(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := db.Migrate(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "applied %d migration(s) %v\n", len(applied), applied)
	return nil
}

func runSeed(ctx context.Context, cfg config, out io.Writer) error {
	db, err := openStore(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	password := cfg.DemoPassword
	if password == "" {
		password = demo.DefaultPassword
	}
	logins, err := demo.Seed(ctx, db, password)
	if err != nil {
		return err
	}
	printLogins(out, logins, password)
	return nil
}

func printLogins(out io.Writer, logins []demo.Login, password string) {
	fmt.Fprintf(out, "Demo officials (password %q):\n", password)
	for _, l := range logins {
		fmt.Fprintf(out, "  %-12s  %s\n", l.Username, l.Description)
	}
}

func runVerifier(ctx context.Context, cfg config, log *slog.Logger) error {
	ln, err := net.Listen("tcp", cfg.VerifierAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.VerifierAddr, err)
	}
	vs, err := verification.NewDevServer()
	if err != nil {
		return err
	}
	log.Info("verification platform stand-in listening", "addr", ln.Addr().String())
	return serveHTTP(ctx, ln, vs)
}
