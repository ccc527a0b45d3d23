package views

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sevra/atlas/internal/promreg"
)

type metrics struct {
	recorded *prometheus.CounterVec
	flushed  prometheus.Counter
	// rows counts post rows the flush updated (one per post per batch).
	rows    prometheus.Counter
	dropped *prometheus.CounterVec
	// cacheErrors counts failed invalidations of cached post pages.
	cacheErrors prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		recorded: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "atlas_views_recorded_total",
			Help: "Post views counted, by mode (sync: UPDATE, async: buffered, shadow: UPDATE and shadow buffer)."},
			[]string{"mode"}),
		flushed: prometheus.NewCounter(prometheus.CounterOpts{Name: "atlas_views_flushed_total",
			Help: "Buffered post views the flush added to posts.view_count."}),
		rows: prometheus.NewCounter(prometheus.CounterOpts{Name: "atlas_views_flushed_rows_total",
			Help: "Post rows the flush updated (one per post per applied batch): against atlas_views_flushed_total, the views per row update."}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "atlas_views_dropped_total",
			Help: "Post views not counted, by reason (buffer: the buffer failed or timed out; database: the sync UPDATE failed; shadow_buffer: the shadow tally failed)."},
			[]string{"reason"}),
		cacheErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "atlas_views_cache_errors_total",
			Help: "Flushed batches whose cached post pages could not be invalidated (they refresh with the cache TTL)."}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.recorded, err = promreg.Register(reg, m.recorded); err != nil {
		return nil, err
	}
	if m.flushed, err = promreg.Register(reg, m.flushed); err != nil {
		return nil, err
	}
	if m.rows, err = promreg.Register(reg, m.rows); err != nil {
		return nil, err
	}
	if m.dropped, err = promreg.Register(reg, m.dropped); err != nil {
		return nil, err
	}
	if m.cacheErrors, err = promreg.Register(reg, m.cacheErrors); err != nil {
		return nil, err
	}
	return m, nil
}

// batchStatser is a buffer that batches views into round trips
// (*RedisBuffer).
type batchStatser interface {
	BatchStats() (views, roundTrips int64)
}

// registerBatchStats exports a batching buffer's counts:
// atlas_views_buffer_batched_total / atlas_views_buffer_round_trips_total
// is the mean number of views per Redis round trip.
func registerBatchStats(reg prometheus.Registerer, bs batchStatser) error {
	if reg == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "atlas_views_buffer_batched_total",
			Help: "Post views the Redis buffer's batcher put in Redis."},
			func() float64 { v, _ := bs.BatchStats(); return float64(v) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "atlas_views_buffer_round_trips_total",
			Help: "Pipelined round trips the Redis buffer's batcher made."},
			func() float64 { _, t := bs.BatchStats(); return float64(t) }),
	} {
		// A second buffer on one registry (a test) keeps the first's.
		if _, err := promreg.Register(reg, c); err != nil {
			return err
		}
	}
	return nil
}
