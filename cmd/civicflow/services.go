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
	"civicflow/codec"
	"civicflow/demo"
	"civicflow/postgres"
	"civicflow/verification"
	"civicflow/worker"
)

func openStore(ctx context.Context, url string, opts ...postgres.Option) (*postgres.DB, error) {
	if url == "" {
		return nil, errors.New("CIVICFLOW_DATABASE_URL is not set")
	}
	return postgres.Open(ctx, url, opts...)
}

// dialTemporal connects to Temporal with civicflow's payload codec and
// makes sure the namespace has civicflow's search attributes.
func dialTemporal(ctx context.Context, cfg config, log *slog.Logger) (client.Client, error) {
	return dialTemporalWith(ctx, cfg, log, nil)
}

// dialTemporalWith is dialTemporal with, when tel is set, the SDK's metrics
// into tel's registry and its interceptors (tracing, case IDs in logs, case
// counters). Every client the binary makes for its own workflows comes from
// here, so every payload it writes is sealed (package codec): the keys
// are required. Start-up only checks the search attributes; `civicflow
// temporal setup` creates them.
func dialTemporalWith(ctx context.Context, cfg config, log *slog.Logger, tel *telemetry) (client.Client, error) {
	keys, err := cfg.keyring()
	if err != nil {
		return nil, err
	}
	if keys == nil {
		return nil, errors.New("CIVICFLOW_DATA_KEYS and CIVICFLOW_LOOKUP_KEY are not set: they also seal the payloads civicflow writes to Temporal (docs/security.md)")
	}
	cdc, err := codec.New(keys)
	if err != nil {
		return nil, err
	}
	opts, err := temporalOptions(cfg, log)
	if err != nil {
		return nil, err
	}
	opts.DataConverter = codec.DataConverter(cdc)
	if tel != nil {
		opts.MetricsHandler = newPromMetrics(tel.registry)
		if opts.Interceptors, err = tel.temporalInterceptors(); err != nil {
			return nil, err
		}
	}
	tc, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to temporal at %s: %w", cfg.TemporalAddress, err)
	}
	if err := worker.CheckSearchAttributes(ctx, tc, cfg.TemporalNamespace); err != nil {
		tc.Close()
		return nil, err
	}
	return tc, nil
}

// temporalOptions are the client options every connection to Temporal
// shares: address, namespace, logger, TLS or API key, compression.
func temporalOptions(cfg config, log *slog.Logger) (client.Options, error) {
	if cfg.TemporalAddress == "" {
		return client.Options{}, errors.New("CIVICFLOW_TEMPORAL_ADDRESS is not set")
	}
	opts := client.Options{
		HostPort:  cfg.TemporalAddress,
		Namespace: cfg.TemporalNamespace,
		Logger:    sdklog.NewStructuredLogger(log.With("component", "temporal-sdk")),
	}
	tlsCfg, err := cfg.temporalTLS()
	if err != nil {
		return client.Options{}, err
	}
	opts.ConnectionOptions.TLS = tlsCfg
	if cfg.TemporalCompression == "none" {
		// Saves the CPU of gzip on both ends where the link is fast
		// (docs/performance.md); gzip is the SDK's default.
		opts.ConnectionOptions.GrpcCompression = &client.GrpcCompressionNone{}
	}
	if cfg.TemporalAPIKey != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(cfg.TemporalAPIKey)
	}
	return opts, nil
}

func newWorker(cfg config, tc client.Client, db *postgres.DB, verificationURL string) sdkworker.Worker {
	timeout := cfg.VerificationTimeout
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	acts := &activities.Activities{Store: db, Platform: verification.NewClient(verificationURL, timeout)}
	// A bad mail setting is reported by startDispatcher, which runs with the worker.
	acts.Notifier, _ = newNotifier(cfg)
	return worker.New(tc, acts, worker.Options{TaskQueue: cfg.TaskQueue,
		MaxConcurrentActivities:    cfg.WorkerMaxConcurrentActivities,
		MaxConcurrentWorkflowTasks: cfg.WorkerMaxConcurrentWorkflowTasks,
		StopTimeout:                cfg.WorkerStopTimeout})
}

func newAPI(cfg config, tc client.Client, db *postgres.DB, log *slog.Logger) *api.Server {
	return newAPIWith(cfg, tc, db, log, nil)
}

// newAPIWith is newAPI with request metrics and span names from tel.
func newAPIWith(cfg config, tc client.Client, db *postgres.DB, log *slog.Logger, tel *telemetry) *api.Server {
	ac := api.Config{TaskQueue: cfg.TaskQueue, NoticePeriod: cfg.NoticePeriod, ActionTimeout: cfg.ActionTimeout,
		StageSearchAttributes: cfg.TemporalStageAttrs,
		CORSOrigins:           cfg.corsOrigins(), TrustedProxies: cfg.trustedProxies(), StuckScanInterval: cfg.StuckScanInterval}
	if tel != nil {
		ac.Middleware = append(ac.Middleware, tel.echoMiddleware())
	}
	return api.New(db, tc, ac, log)
}

// serveHTTP serves h on addr until ctx ends, then drains in-flight requests
// for up to 10 seconds.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler) error {
	return serveHTTPWith(ctx, ln, h, config{HTTPShutdownTimeout: 10 * time.Second})
}

// serveHTTPWith serves h on ln with cfg's timeouts until ctx ends, then
// stops accepting connections and waits up to cfg.HTTPShutdownTimeout for
// in-flight requests to finish (zero timeouts take serveHTTP's values).
func serveHTTPWith(ctx context.Context, ln net.Listener, h http.Handler, cfg config) error {
	or := func(d, def time.Duration) time.Duration {
		if d > 0 {
			return d
		}
		return def
	}
	srv := &http.Server{Handler: h,
		ReadHeaderTimeout: or(cfg.HTTPReadHeaderTimeout, 10*time.Second),
		ReadTimeout:       or(cfg.HTTPReadTimeout, time.Minute),
		WriteTimeout:      or(cfg.HTTPWriteTimeout, 2*time.Minute),
		IdleTimeout:       or(cfg.HTTPIdleTimeout, 2*time.Minute)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), or(cfg.HTTPShutdownTimeout, 10*time.Second))
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("drain http requests: %w", err)
	}
	return nil
}

// runtime is what the api and worker processes share: telemetry, the
// store, the Temporal client and the optional pprof listener.
type runtime struct {
	tel *telemetry
	db  *postgres.DB
	tc  client.Client
	log *slog.Logger
}

func startRuntime(ctx context.Context, cfg config, log *slog.Logger, service string) (_ *runtime, err error) {
	log.Info("starting "+service, "version", currentBuild().String(), "config", cfg.logValue())
	rt := &runtime{log: log}
	defer func() {
		if err != nil {
			rt.close()
		}
	}()
	if rt.tel, err = newTelemetry(ctx, cfg, service, nil); err != nil {
		return nil, err
	}
	if rt.db, err = openStore(ctx, cfg.poolURL(), cfg.withKeys()); err != nil {
		return nil, err
	}
	if rt.tc, err = dialTemporalWith(ctx, cfg, log, rt.tel); err != nil {
		return nil, err
	}
	if err = startPprof(ctx, cfg.PprofAddr, log); err != nil {
		return nil, err
	}
	return rt, nil
}

// close releases in the reverse order of startRuntime.
func (rt *runtime) close() {
	if rt.tc != nil {
		rt.tc.Close()
	}
	if rt.db != nil {
		rt.db.Close()
	}
	if rt.tel != nil {
		flushTelemetry(rt.tel, rt.log)
	}
}

func runAPI(ctx context.Context, cfg config, log *slog.Logger) error {
	rt, err := startRuntime(ctx, cfg, log, "api")
	if err != nil {
		return err
	}
	defer rt.close()
	tel, db, tc := rt.tel, rt.db, rt.tc
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	metricsLn, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		ln.Close()
		return fmt.Errorf("listen on %s (CIVICFLOW_METRICS_ADDR): %w", cfg.MetricsAddr, err)
	}
	// Metrics outlive the drain of the API, so that its last requests are
	// counted; they stop with the process.
	metricsCtx, stopMetrics := context.WithCancel(context.Background())
	metricsDone := make(chan error, 1)
	go func() { metricsDone <- serveHTTP(metricsCtx, metricsLn, tel.metricsOnly()) }()
	defer func() {
		stopMetrics()
		if err := <-metricsDone; err != nil {
			log.Warn("metrics listener", "err", err)
		}
	}()
	log.Info("api listening", "addr", ln.Addr().String(), "metrics_addr", metricsLn.Addr().String())
	defer startStuckScan(ctx, cfg, tc, db, log)()
	h, err := apiHandler(cfg, tc, db, log, tel)
	if err != nil {
		return err
	}
	err = serveHTTPWith(ctx, ln, tel.wrapHTTP(h), cfg)
	log.Info("api stopped", "err", err)
	return err
}

// apiHandler is everything the API's listener serves: the API, the web
// console and the codec server.
func apiHandler(cfg config, tc client.Client, db *postgres.DB, log *slog.Logger, tel *telemetry) (http.Handler, error) {
	a := newAPIWith(cfg, tc, db, log, tel)
	// Years open deadlines run into without a holiday calendar: in the
	// log at start, then whenever /readyz sees them change.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	a.CheckCalendar(ctx)
	cancel()
	h, err := withConsole(a, log)
	if err != nil {
		return nil, err
	}
	return withCodec(h, cfg, db, log)
}

func runWorker(ctx context.Context, cfg config, log *slog.Logger) error {
	if cfg.VerificationURL == "" {
		return errors.New("CIVICFLOW_VERIFICATION_URL is not set")
	}
	rt, err := startRuntime(ctx, cfg, log, "worker")
	if err != nil {
		return err
	}
	defer rt.close()
	tel, db, tc := rt.tel, rt.db, rt.tc
	opsLn, err := net.Listen("tcp", cfg.WorkerMetricsAddr)
	if err != nil {
		return fmt.Errorf("listen on %s (CIVICFLOW_WORKER_METRICS_ADDR): %w", cfg.WorkerMetricsAddr, err)
	}
	opsCtx, stopOps := context.WithCancel(context.Background())
	opsDone := make(chan error, 1)
	go func() {
		opsDone <- serveHTTP(opsCtx, opsLn, opsHandler(tel, func(ctx context.Context) error {
			if err := db.Ping(ctx); err != nil {
				return fmt.Errorf("postgres: %w", err)
			}
			if _, err := tc.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
				return fmt.Errorf("temporal: %w", err)
			}
			return nil
		}))
	}()
	defer func() {
		stopOps()
		if err := <-opsDone; err != nil {
			log.Warn("worker metrics listener", "err", err)
		}
	}()
	log.Info("worker metrics listening", "addr", opsLn.Addr().String())

	w := newWorker(cfg, tc, db, cfg.VerificationURL)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	log.Info("worker polling", "task_queue", cfg.TaskQueue)
	stopDispatcher, err := startDispatcher(ctx, cfg, tc, db, log)
	if err != nil {
		w.Stop()
		return err
	}
	defer stopDispatcher()
	<-ctx.Done()
	// Stop stops polling at once, then waits up to WorkerStopTimeout for
	// running activities; those still running then are cancelled and
	// retried elsewhere after their timeouts. Workflow tasks need no
	// hand-back: the server gives them to another worker.
	start := time.Now()
	log.Info("worker stopping", "stop_timeout", cfg.WorkerStopTimeout.String())
	w.Stop()
	log.Info("worker stopped", "took", time.Since(start).String())
	return nil
}

// flushTelemetry sends the spans still buffered, bounded so that a dead
// collector cannot hold up the exit.
func flushTelemetry(tel *telemetry, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tel.shutdown(ctx); err != nil {
		log.Warn("flush traces", "err", err)
	}
}

func runMigrate(ctx context.Context, cfg config, out io.Writer) error {
	db, err := openStore(ctx, cfg.DatabaseURL, cfg.withKeys())
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
