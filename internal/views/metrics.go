package views

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	recorded *prometheus.CounterVec
	flushed  prometheus.Counter
	dropped  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		recorded: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "atlas_views_recorded_total",
			Help: "Post views counted, by mode (sync: UPDATE, async: buffered, shadow: UPDATE and shadow buffer)."},
			[]string{"mode"}),
		flushed: prometheus.NewCounter(prometheus.CounterOpts{Name: "atlas_views_flushed_total",
			Help: "Buffered post views the flush added to posts.view_count."}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "atlas_views_dropped_total",
			Help: "Post views not counted, by reason (buffer: the buffer failed or timed out; database: the sync UPDATE failed; shadow_buffer: the shadow tally failed)."},
			[]string{"reason"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.recorded, err = register(reg, m.recorded); err != nil {
		return nil, err
	}
	if m.flushed, err = register(reg, m.flushed); err != nil {
		return nil, err
	}
	if m.dropped, err = register(reg, m.dropped); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c with reg; when an equal collector is already
// registered (a second Service on one registry) it returns that one, so
// the counts of every Service reach the registry.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("register views metrics: %w", err)
}
