package main

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestTracingOneTraceAcrossAPIWorkflowActivity submits an application
// through an API and a worker built with tracing on (an in-memory exporter
// in place of OTLP) and checks that the HTTP request, the workflow start,
// the workflow run and its activities are one trace.
func TestTracingOneTraceAcrossAPIWorkflowActivity(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	exporter := tracetest.NewInMemoryExporter()
	cfg := e.cfg
	cfg.TaskQueue = "civicflow-tracing-test"
	tel, err := newTelemetry(ctx, cfg, "test", exporter)
	require.NoError(t, err)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tc, err := dialTemporalWith(ctx, cfg, log, tel)
	require.NoError(t, err)
	defer tc.Close()
	w := newWorker(cfg, tc, e.db, e.verifierURL)
	require.NoError(t, w.Start())
	defer w.Stop()
	apiSrv := httptest.NewServer(tel.wrapHTTP(newAPIWith(cfg, tc, e.db, log, tel).Handler()))
	defer apiSrv.Close()
	te := &e2eSystem{cfg: cfg, db: e.db, tc: tc, api: apiSrv, verifierURL: e.verifierURL}

	c := te.submit(t, application(newIDNumber(t), "610113001", "dependent"), "")
	ts := te.login(t, "ts.xiaozhai")
	te.mustAct(t, ts, c.Ref, "accept", map[string]any{}, "investigation")

	// Spans end asynchronously in the worker; wait for the activity's.
	names := func() map[string]map[string]bool { // span name -> trace IDs
		out := map[string]map[string]bool{}
		for _, s := range exporter.GetSpans() {
			if out[s.Name] == nil {
				out[s.Name] = map[string]bool{}
			}
			out[s.Name][s.SpanContext.TraceID().String()] = true
		}
		return out
	}
	hasPrefix := func(m map[string]map[string]bool, p string) (string, bool) {
		for n := range m {
			if strings.HasPrefix(n, p) {
				return n, true
			}
		}
		return "", false
	}
	only := func(ids map[string]bool) string {
		require.Len(t, ids, 1)
		for id := range ids {
			return id
		}
		return ""
	}
	deadline := time.Now().Add(20 * time.Second)
	var spans map[string]map[string]bool
	for {
		require.NoError(t, tel.tracer.(interface{ ForceFlush(context.Context) error }).ForceFlush(ctx))
		spans = names()
		_, recorded := hasPrefix(spans, "RunActivity:RecordTransition")
		_, checked := hasPrefix(spans, "RunActivity:CheckHousehold")
		if recorded && checked {
			break
		}
		require.True(t, time.Now().Before(deadline), "no activity span; spans: %v", spans)
		time.Sleep(100 * time.Millisecond)
	}
	// The submission: HTTP request -> StartWorkflow -> the workflow's
	// activities, in the worker, all one trace.
	require.Contains(t, spans, "POST /api/v1/applications", "the HTTP span is named after the route")
	submitTrace := only(spans["POST /api/v1/applications"])
	for _, name := range []string{"StartWorkflow:CentralisedCare", "StartActivity:CheckHousehold", "RunActivity:CheckHousehold"} {
		require.True(t, spans[name][submitTrace], "%s in the submission's trace; spans: %v", name, spans)
	}
	// An official's action: HTTP request -> update -> the workflow's
	// update handler -> the activity recording the step, one trace.
	require.Contains(t, spans, "POST /api/v1/cases/:ref/actions/:action")
	actTrace := only(spans["POST /api/v1/cases/:ref/actions/:action"])
	require.NotEqual(t, submitTrace, actTrace)
	for _, name := range []string{"UpdateWorkflow:accept", "HandleUpdate:accept", "RunActivity:RecordTransition"} {
		require.True(t, spans[name][actTrace], "%s in the action's trace; spans: %v", name, spans)
	}
	require.NoError(t, tel.shutdown(ctx))
}

// TestTelemetryResourceHonoursEnvironment: OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES win over civicflow's own name, which wins over
// the SDK's unknown_service; the SDK's attributes stay.
func TestTelemetryResourceHonoursEnvironment(t *testing.T) {
	attr := func(res *resource.Resource, key string) string {
		v, _ := res.Set().Value(attribute.Key(key))
		return v.String()
	}
	t.Setenv("OTEL_SERVICE_NAME", "")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "")
	res, err := telemetryResource(context.Background(), "api")
	require.NoError(t, err)
	require.Equal(t, "civicflow-api", attr(res, "service.name"))
	require.Equal(t, "go", attr(res, "telemetry.sdk.language"), "merged with resource.Default()")

	t.Setenv("OTEL_SERVICE_NAME", "civicflow-api-blue")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=staging")
	res, err = telemetryResource(context.Background(), "api")
	require.NoError(t, err)
	require.Equal(t, "civicflow-api-blue", attr(res, "service.name"))
	require.Equal(t, "staging", attr(res, "deployment.environment"))
}
