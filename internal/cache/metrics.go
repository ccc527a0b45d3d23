package cache

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sevra/atlas/internal/promreg"
)

// metrics are the counters described in the package documentation.
type metrics struct {
	requests *prometheus.CounterVec // result: hit, miss
	bypass   *prometheus.CounterVec // reason: timeout, error
	errors   *prometheus.CounterVec // op: delete, store
}

// newMetrics returns the counters, registered with reg unless reg is nil.
// Counters already registered by another cache are reused, so that every
// cache on one registry reports to the same series.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "atlas_cache_requests_total",
			Help: "Cache reads by result: hit, or miss (loaded, or shared a running load)."}, []string{"result"}),
		bypass: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "atlas_cache_bypass_total",
			Help: "Cache reads that loaded without the cache because Redis failed, by reason (timeout, error)."}, []string{"reason"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "atlas_cache_errors_total",
			Help: "Failed cache operations by op: delete (invalidation failed), store (loaded value not cached)."}, []string{"op"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	for _, c := range []**prometheus.CounterVec{&m.requests, &m.bypass, &m.errors} {
		if *c, err = promreg.Register(reg, *c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
