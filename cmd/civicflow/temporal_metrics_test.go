package main

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// TestPromMetrics: the SDK's counters, gauges and timers reach Prometheus
// with the label set of a name's first use (missing tags empty, extra
// ones dropped), and a name taken by another kind of metric becomes a
// no-op instead of a failure.
func TestPromMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newPromMetrics(reg)
	wf := h.WithTags(map[string]string{"namespace": "default", "task_queue": "civicflow"})
	wf.Counter("temporal_request").Inc(2)
	h.WithTags(map[string]string{"namespace": "default"}).Counter("temporal_request").Inc(1)
	h.WithTags(map[string]string{"namespace": "default", "task_queue": "civicflow", "extra": "x"}).Counter("temporal_request").Inc(4)
	wf.Gauge("temporal.worker-slots").Update(3)
	wf.Timer("temporal_latency").Record(250 * time.Millisecond)
	wf.Gauge("temporal_request").Update(9) // taken by a counter: ignored
	wf.Counter("temporal_latency_seconds").Inc(1)

	families, err := reg.Gather()
	require.NoError(t, err)
	got := map[string]map[string]float64{} // name -> task_queue label -> value
	for _, f := range families {
		got[f.GetName()] = map[string]float64{}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			require.NotContains(t, labels, "extra", "labels are fixed at a name's first use")
			var v float64
			switch {
			case m.Counter != nil:
				v = m.GetCounter().GetValue()
			case m.Gauge != nil:
				v = m.GetGauge().GetValue()
			case m.Histogram != nil:
				v = m.GetHistogram().GetSampleSum()
			}
			got[f.GetName()][labels["task_queue"]] = v
		}
	}
	require.Equal(t, map[string]map[string]float64{
		"temporal_request":         {"civicflow": 6, "": 1},
		"temporal_worker_slots":    {"civicflow": 3},
		"temporal_latency_seconds": {"civicflow": 0.25},
	}, got)
}
