package main

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/workflow"

	"civicflow"
	"civicflow/activities"
)

// caseInterceptor adds case_id to every log line a case's workflow or
// activities write (the SDK already adds WorkflowID, RunID and the
// activity type), and counts cases in RecordTransition.
type caseInterceptor struct {
	interceptor.ClientInterceptorBase
	interceptor.WorkerInterceptorBase
	metrics *caseMetrics
}

var _ interceptor.WorkerInterceptor = (*caseInterceptor)(nil)

// caseIDOf returns the case ID in a case workflow's ID.
func caseIDOf(workflowID string) (int64, bool) {
	rest, ok := strings.CutPrefix(workflowID, strings.TrimSuffix(civicflow.CaseWorkflowID(0), "0"))
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	return id, err == nil
}

func (ci *caseInterceptor) InterceptActivity(ctx context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &caseActivityInbound{ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}, metrics: ci.metrics}
}

func (ci *caseInterceptor) InterceptWorkflow(ctx workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &caseWorkflowInbound{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}}
}

type caseActivityInbound struct {
	interceptor.ActivityInboundInterceptorBase
	metrics *caseMetrics
}

func (a *caseActivityInbound) Init(outbound interceptor.ActivityOutboundInterceptor) error {
	return a.Next.Init(&caseActivityOutbound{ActivityOutboundInterceptorBase: interceptor.ActivityOutboundInterceptorBase{Next: outbound}})
}

func (a *caseActivityInbound) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	res, err := a.Next.ExecuteActivity(ctx, in)
	if err != nil || a.metrics == nil {
		return res, err
	}
	info := activity.GetInfo(ctx)
	if info.ActivityType.Name != "RecordTransition" || len(in.Args) != 1 {
		return res, err
	}
	if rec, ok := in.Args[0].(activities.RecordInput); ok {
		a.metrics.record(info.WorkflowType.Name, rec)
	}
	return res, err
}

func (m *caseMetrics) record(process string, rec activities.RecordInput) {
	t := rec.Transition
	m.transitions.WithLabelValues(process, string(t.Action), string(t.To)).Inc()
	if t.Seq == 1 {
		m.started.WithLabelValues(process).Inc()
	}
	if t.To.Terminal() && t.From != t.To {
		m.completed.WithLabelValues(process, string(t.To)).Inc()
	}
}

type caseActivityOutbound struct {
	interceptor.ActivityOutboundInterceptorBase
}

func (a *caseActivityOutbound) GetLogger(ctx context.Context) sdklog.Logger {
	l := a.Next.GetLogger(ctx)
	if id, ok := caseIDOf(activity.GetInfo(ctx).WorkflowExecution.ID); ok {
		return sdklog.With(l, "case_id", id)
	}
	return l
}

type caseWorkflowInbound struct {
	interceptor.WorkflowInboundInterceptorBase
}

func (w *caseWorkflowInbound) Init(outbound interceptor.WorkflowOutboundInterceptor) error {
	return w.Next.Init(&caseWorkflowOutbound{WorkflowOutboundInterceptorBase: interceptor.WorkflowOutboundInterceptorBase{Next: outbound}})
}

type caseWorkflowOutbound struct {
	interceptor.WorkflowOutboundInterceptorBase
}

func (w *caseWorkflowOutbound) GetLogger(ctx workflow.Context) sdklog.Logger {
	l := w.Next.GetLogger(ctx)
	if id, ok := caseIDOf(workflow.GetInfo(ctx).WorkflowExecution.ID); ok {
		return sdklog.With(l, "case_id", id)
	}
	return l
}

// promMetrics feeds the Temporal SDK's metrics (poll and task latencies,
// slots, sticky cache, request failures...) into a Prometheus registry.
// The SDK names a metric and gives tags; Prometheus needs one fixed label
// set per name, so the first label set seen for a name is kept, missing
// labels are empty and extra ones dropped. Timers become histograms in
// seconds named <name>_seconds.
type promMetrics struct {
	reg  *promMetricSet
	tags map[string]string
}

type promMetricSet struct {
	registerer prometheus.Registerer
	mu         sync.Mutex
	vecs       map[string]prometheus.Collector // *CounterVec, *GaugeVec or *HistogramVec by name
	labels     map[string][]string
}

func newPromMetrics(r prometheus.Registerer) client.MetricsHandler {
	return &promMetrics{reg: &promMetricSet{registerer: r, vecs: map[string]prometheus.Collector{}, labels: map[string][]string{}}}
}

func (p *promMetrics) WithTags(tags map[string]string) client.MetricsHandler {
	merged := make(map[string]string, len(p.tags)+len(tags))
	for k, v := range p.tags {
		merged[k] = v
	}
	for k, v := range tags {
		merged[k] = v
	}
	return &promMetrics{reg: p.reg, tags: merged}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// values returns the label values for name in the order fixed at its
// first use.
func (s *promMetricSet) values(name string, tags map[string]string) []string {
	names := s.labels[name]
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = tags[n]
	}
	return out
}

// metricName makes an SDK name a valid Prometheus name.
func metricName(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == ':' {
			return r
		}
		return '_'
	}, name)
}

// promVec returns the collector of kind V named name, made by mk with the
// label set of the name's first use and registered then, and the label
// values of p's tags in that order. ok is false when Prometheus refuses it
// (the name is taken, e.g. by a metric of another kind): the caller falls
// back to a no-op rather than fail the SDK.
func promVec[V prometheus.Collector](p *promMetrics, name string, mk func(labels []string) V) (v V, values []string, ok bool) {
	s := p.reg
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, found := s.vecs[name]; found {
		v, ok = c.(V)
		if !ok {
			return v, nil, false
		}
		return v, s.values(name, p.tags), true
	}
	labels := sortedKeys(p.tags)
	v = mk(labels)
	if err := s.registerer.Register(v); err != nil {
		return v, nil, false
	}
	s.vecs[name], s.labels[name] = v, labels
	return v, s.values(name, p.tags), true
}

func (p *promMetrics) Counter(name string) client.MetricsCounter {
	name = metricName(name)
	v, values, ok := promVec(p, name, func(l []string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: "Temporal SDK counter " + name + "."}, l)
	})
	if !ok {
		return client.MetricsNopHandler.Counter(name)
	}
	return promCounter{v.WithLabelValues(values...)}
}

func (p *promMetrics) Gauge(name string) client.MetricsGauge {
	name = metricName(name)
	v, values, ok := promVec(p, name, func(l []string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: "Temporal SDK gauge " + name + "."}, l)
	})
	if !ok {
		return client.MetricsNopHandler.Gauge(name)
	}
	return promGauge{v.WithLabelValues(values...)}
}

func (p *promMetrics) Timer(name string) client.MetricsTimer {
	name = metricName(name) + "_seconds"
	v, values, ok := promVec(p, name, func(l []string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: "Temporal SDK timer " + name + ".",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}}, l)
	})
	if !ok {
		return client.MetricsNopHandler.Timer(name)
	}
	return promTimer{v.WithLabelValues(values...)}
}

type promCounter struct{ c prometheus.Counter }

func (c promCounter) Inc(n int64) { c.c.Add(float64(n)) }

type promGauge struct{ g prometheus.Gauge }

func (g promGauge) Update(v float64) { g.g.Set(v) }

type promTimer struct{ o prometheus.Observer }

func (t promTimer) Record(d time.Duration) { t.o.Observe(d.Seconds()) }
