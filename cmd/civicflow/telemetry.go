package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
)

// telemetry is one process's metrics registry and tracer. Nothing here is
// global: each process (and each test) builds its own.
type telemetry struct {
	registry   *prometheus.Registry
	tracer     trace.TracerProvider
	propagator propagation.TextMapPropagator
	tracing    bool
	shutdown   func(context.Context) error

	httpRequests *prometheus.CounterVec
	httpLatency  *prometheus.HistogramVec
	httpInFlight prometheus.Gauge
	cases        *caseMetrics
}

// newTelemetry builds the registry and, when tracing is on, the tracer
// provider exporting to CIVICFLOW_TRACING_ENDPOINT. A non-nil exporter
// overrides the configured one (tests use an in-memory exporter).
func newTelemetry(ctx context.Context, cfg config, service string, exporter sdktrace.SpanExporter) (*telemetry, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	t := &telemetry{
		registry:   reg,
		tracer:     noop.NewTracerProvider(),
		propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		shutdown:   func(context.Context) error { return nil },
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "civicflow_http_requests_total",
			Help: "HTTP requests answered, by method, route template and status code.",
		}, []string{"method", "route", "status"}),
		httpLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "civicflow_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by method and route template.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"method", "route"}),
		httpInFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "civicflow_http_requests_in_flight",
			Help: "HTTP requests being answered now.",
		}),
		cases: newCaseMetrics(),
	}
	reg.MustRegister(t.httpRequests, t.httpLatency, t.httpInFlight, t.cases.started, t.cases.completed, t.cases.transitions)

	if exporter == nil && cfg.TracingExporter == "otlp" {
		var err error
		exporter, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(cfg.TracingEndpoint))
		if err != nil {
			return nil, fmt.Errorf("tracing exporter for %s: %w", cfg.TracingEndpoint, err)
		}
	}
	if exporter != nil {
		ratio := cfg.TracingSampleRatio
		if cfg.TracingExporter == "" && ratio == 0 {
			ratio = 1 // a config built in a test, not by loadConfig
		}
		res, err := telemetryResource(ctx, service)
		if err != nil {
			return nil, err
		}
		tp := sdktrace.NewTracerProvider(
			sdktrace.WithBatcher(exporter),
			sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
			sdktrace.WithResource(res),
		)
		t.tracer, t.tracing, t.shutdown = tp, true, tp.Shutdown
	}
	return t, nil
}

// telemetryResource describes the process to the collector: the SDK's
// defaults (telemetry.sdk.*, and service.name unknown_service:…), then
// service.name civicflow-<service>, then what the environment says
// (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES), each over the one
// before, so that an operator's OTEL_SERVICE_NAME is honoured.
func telemetryResource(ctx context.Context, service string) (*resource.Resource, error) {
	env, err := resource.New(ctx, resource.WithFromEnv())
	if err != nil {
		return nil, fmt.Errorf("telemetry resource from the environment: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(semconv.ServiceName("civicflow-"+service)))
	if err != nil {
		return nil, fmt.Errorf("telemetry resource: %w", err)
	}
	if res, err = resource.Merge(res, env); err != nil {
		return nil, fmt.Errorf("telemetry resource: %w", err)
	}
	return res, nil
}

// temporalInterceptors are the client interceptors: tracing through
// workflows and activities (when on) and case IDs on workflow and activity
// log lines, plus the case counters.
func (t *telemetry) temporalInterceptors() ([]interceptor.ClientInterceptor, error) {
	out := []interceptor.ClientInterceptor{&caseInterceptor{metrics: t.cases}}
	if !t.tracing {
		return out, nil
	}
	ti, err := temporalotel.NewTracingInterceptor(temporalotel.TracerOptions{
		Tracer:            t.tracer.Tracer("go.temporal.io/sdk"),
		TextMapPropagator: t.propagator,
	})
	if err != nil {
		return nil, fmt.Errorf("temporal tracing interceptor: %w", err)
	}
	return append(out, ti), nil
}

// echoMiddleware counts and times requests by route template (never by raw
// path: references would make the series unbounded) and names the request's
// span after the route.
func (t *telemetry) echoMiddleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			t.httpInFlight.Inc()
			defer t.httpInFlight.Dec()
			route := c.Path()
			if route == "" {
				route = "unmatched"
			}
			trace.SpanFromContext(c.Request().Context()).SetName(c.Request().Method + " " + route)
			err := next(c)
			if err != nil {
				c.Error(err) // write the error now so that the status is known
			}
			method := c.Request().Method
			t.httpRequests.WithLabelValues(method, route, strconv.Itoa(c.Response().Status)).Inc()
			t.httpLatency.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
			return nil
		}
	}
}

// wrapHTTP puts the tracing handler around h. No ServeMux here: its
// pattern ("/") would become every span's name, where the API's middleware
// names spans after the route. /metrics is not on this handler: the API
// serves it on a listener of its own (metricsHandlerOnly).
func (t *telemetry) wrapHTTP(h http.Handler) http.Handler {
	if t.tracing {
		h = otelhttp.NewHandler(h, "http", otelhttp.WithTracerProvider(t.tracer), otelhttp.WithPropagators(t.propagator))
	}
	return h
}

// metricsOnly is the API's metrics listener: GET /metrics and nothing else,
// so that what Prometheus scrapes never shares a port with what the load
// balancer exposes.
func (t *telemetry) metricsOnly() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", t.metricsHandler())
	return mux
}

func (t *telemetry) metricsHandler() http.Handler {
	return promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{Registry: t.registry})
}

// caseMetrics count cases by process (the workflow type) and stage. They
// are counted where the read model is written, in RecordTransition, after
// it succeeded; a retry after a lost completion can count a step twice,
// which a rate over minutes does not notice.
type caseMetrics struct {
	started     *prometheus.CounterVec
	completed   *prometheus.CounterVec
	transitions *prometheus.CounterVec
}

func newCaseMetrics() *caseMetrics {
	return &caseMetrics{
		started: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "civicflow_cases_started_total",
			Help: "Cases whose workflow recorded its first step, by process.",
		}, []string{"process"}),
		completed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "civicflow_cases_completed_total",
			Help: "Cases that reached a terminal stage, by process and stage.",
		}, []string{"process", "stage"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "civicflow_case_transitions_total",
			Help: "Steps recorded by case workflows, by process, action and the stage reached.",
		}, []string{"process", "action", "stage"}),
	}
}

// logger builds the process logger: JSON (the default) or text, on w.
func logger(w io.Writer, level, format string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: l}
	if strings.EqualFold(format, "text") {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// opsHandler is the worker's own HTTP endpoint: /metrics for Prometheus and
// /healthz, /readyz for probes (the worker serves no API).
func opsHandler(t *telemetry, ready func(context.Context) error) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", t.metricsHandler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		if err := ready(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = fmt.Fprintf(w, `{"ready":false,"error":%q}`, err.Error())
			return
		}
		_, _ = io.WriteString(w, `{"ready":true}`)
	})
	return mux
}
