package queues

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sevra/atlas/jobq"
)

// DepthStates are the states whose job counts DepthCollector exports.
var DepthStates = []jobq.State{jobq.StateWaiting, jobq.StatePrioritized, jobq.StateDelayed, jobq.StateActive,
	jobq.StateFailed, jobq.StateCompleted, jobq.StateWaitingChildren}

// DepthCollector exports, at each scrape, every queue's job count per
// state (atlas_queue_jobs) and the age of its oldest ready job
// (atlas_queue_oldest_ready_age_seconds), the signals to scale workers
// on. It reads them through jobq's public API without scanning jobs: per
// queue one pipelined round of LLEN/ZCARD and at most two job reads on
// Redis, indexed counts on SQLite. The values are the queue's, not this
// process's: every node exports the same figures, so aggregate with max.
type DepthCollector struct {
	drv     jobq.Backend
	queues  []*jobq.Queue
	log     *slog.Logger
	timeout time.Duration
	now     func() time.Time

	jobs, oldest, up *prometheus.Desc
}

// NewDepthCollector returns a collector of the named queues on backend;
// each scrape gives the backend timeout (0 = 2 s) before it reports
// atlas_queue_stats_up 0 for a queue.
func NewDepthCollector(backend jobq.Backend, names []string, timeout time.Duration, log *slog.Logger) *DepthCollector {
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &DepthCollector{drv: backend, log: log, timeout: timeout, now: time.Now,
		jobs: prometheus.NewDesc("atlas_queue_jobs",
			"Jobs in the queue by state, read from the queue backend at scrape time (the same on every node).",
			[]string{"queue", "state"}, nil),
		oldest: prometheus.NewDesc("atlas_queue_oldest_ready_age_seconds",
			"Seconds since the oldest job ready to run (next in waiting or first in prioritized) became ready; 0 when none waits.",
			[]string{"queue"}, nil),
		up: prometheus.NewDesc("atlas_queue_stats_up",
			"1 when the queue's depth could be read at this scrape, else 0 (then its other queue gauges are absent).",
			[]string{"queue"}, nil),
	}
	for _, n := range names {
		c.queues = append(c.queues, jobq.NewQueue(n, backend, nil))
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *DepthCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.jobs
	ch <- c.oldest
	ch <- c.up
}

// Collect implements prometheus.Collector.
func (c *DepthCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	for _, q := range c.queues {
		counts, err := q.GetJobCounts(ctx, DepthStates...)
		var at time.Time
		var found bool
		if err == nil {
			at, found, _, err = jobq.OldestReady(ctx, c.drv, q.Name())
		}
		if err != nil {
			c.log.Debug("queue depth", "queue", q.Name(), "err", err)
			ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0, q.Name())
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1, q.Name())
		for _, st := range DepthStates {
			ch <- prometheus.MustNewConstMetric(c.jobs, prometheus.GaugeValue, float64(counts[st]), q.Name(), string(st))
		}
		age := 0.0
		if found {
			age = max(c.now().Sub(at).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age, q.Name())
	}
}
