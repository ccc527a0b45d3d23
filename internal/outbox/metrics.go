package outbox

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	published *prometheus.CounterVec // path: fast, relay
	errors    *prometheus.CounterVec // kind: backend, permanent
	deferred  prometheus.Counter
	pruned    prometheus.Counter
	backlog   prometheus.Gauge
	oldestAge prometheus.Gauge
	alert     prometheus.Gauge
	backendUp prometheus.Gauge
	signals   *prometheus.CounterVec // queue, job, result: published, dropped
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		published: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "atlas_outbox_published_total",
			Help: "Outbox events published to their jobs, by path (fast: right after the commit; relay: later)."}, []string{"path"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "atlas_outbox_publish_errors_total",
			Help: "Relay publish failures, by kind (backend: the queue backend failed; permanent: no route or a bad payload)."}, []string{"kind"}),
		deferred: prometheus.NewCounter(prometheus.CounterOpts{Name: "atlas_outbox_deferred_total",
			Help: "Events the fast path left to the relay because the queue backend was unreachable."}),
		pruned: prometheus.NewCounter(prometheus.CounterOpts{Name: "atlas_outbox_pruned_total",
			Help: "Published outbox rows deleted after the retention period."}),
		backlog: prometheus.NewGauge(prometheus.GaugeOpts{Name: "atlas_outbox_backlog",
			Help: "Unpublished outbox rows at the last measurement."}),
		oldestAge: prometheus.NewGauge(prometheus.GaugeOpts{Name: "atlas_outbox_oldest_age_seconds",
			Help: "Age of the oldest unpublished outbox row at the last measurement (0 when none)."}),
		alert: prometheus.NewGauge(prometheus.GaugeOpts{Name: "atlas_outbox_backlog_alert",
			Help: "1 while the outbox backlog passes its row or age threshold, else 0."}),
		backendUp: prometheus.NewGauge(prometheus.GaugeOpts{Name: "atlas_outbox_backend_up",
			Help: "0 while the outbox treats the queue backend as unreachable, else 1."}),
		signals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "atlas_signals_total",
			Help: "Non-critical signals (TryPublish), by queue, job and result (published, dropped)."}, []string{"queue", "job", "result"}),
	}
	m.backendUp.Set(1)
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.published, m.errors, m.deferred, m.pruned, m.backlog, m.oldestAge, m.alert, m.backendUp, m.signals} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register outbox metrics: %w", err)
		}
	}
	return m, nil
}
