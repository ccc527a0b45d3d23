package queues

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sevra/atlas/internal/tracing"
	"github.com/sevra/atlas/jobq"
)

// Workers runs one jobq.Worker per handled queue. It is a component of the
// atlas process: Start, then Close on shutdown.
type Workers struct {
	reg     *Registry
	drv     jobq.Backend
	log     *slog.Logger
	only    []string
	metrics *workerMetrics
	workers []*jobq.Worker
}

// WorkersConfig configures Workers.
type WorkersConfig struct {
	// Queues limits the workers to these queues; empty runs every queue
	// that has handlers.
	Queues []string
	Logger *slog.Logger
	// Registry receives job metrics (nil = none).
	Registry *prometheus.Registry
}

// NewWorkers returns the worker component.
func NewWorkers(reg *Registry, backend jobq.Backend, cfg WorkersConfig) (*Workers, error) {
	w := &Workers{reg: reg, drv: backend, log: cfg.Logger, only: cfg.Queues}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	for _, q := range cfg.Queues {
		if !slices.Contains(reg.HandledQueues(), q) {
			return nil, fmt.Errorf("no handlers for queue %q (known: %v)", q, reg.HandledQueues())
		}
	}
	if cfg.Registry != nil {
		m, err := newWorkerMetrics(cfg.Registry)
		if err != nil {
			return nil, err
		}
		w.metrics = m
	}
	return w, nil
}

// Name implements the component contract.
func (w *Workers) Name() string { return "queue workers" }

// Queues lists the queues these workers serve.
func (w *Workers) Queues() []string {
	if len(w.only) > 0 {
		return w.only
	}
	return w.reg.HandledQueues()
}

// Start starts a worker per queue.
func (w *Workers) Start(ctx context.Context) error {
	for _, q := range w.Queues() {
		s := w.reg.Settings(q)
		cfg := &jobq.WorkerConfig{
			Concurrency: s.Concurrency, Limiter: s.Limiter, Logger: w.log,
			RemoveOnComplete: s.Defaults.RemoveOnComplete, RemoveOnFail: s.Defaults.RemoveOnFail,
			MetricsMaxDataPoints: 60 * 24 * 7,
			OnError:              func(err error) { w.log.Warn("queue worker", "queue", q, "err", err) },
		}
		if m := w.metrics; m != nil {
			cfg.OnCompleted = func(j *jobq.Job, _ []byte) { m.observe(q, j, "completed") }
			cfg.OnFailed = func(j *jobq.Job, err error) {
				ctx := context.Background()
				if tc, ok := tracing.FromJobData(j.Data); ok {
					ctx = tracing.With(ctx, tc)
				}
				w.log.WarnContext(ctx, "job attempt failed", "queue", q, "job", j.ID, "name", j.Name, "attempt", j.AttemptsMade+1, "err", err)
				m.observe(q, j, "failed")
			}
		}
		proc := w.reg.dispatch(q)
		if m := w.metrics; m != nil {
			proc = m.timed(q, proc)
		}
		wk, err := jobq.NewWorker(q, w.drv, proc, cfg)
		if err == nil {
			err = wk.Start(ctx)
		}
		if err != nil {
			_ = w.Close(ctx)
			return fmt.Errorf("start worker for %s: %w", q, err)
		}
		w.workers = append(w.workers, wk)
		w.log.Info("queue worker started", "queue", q, "concurrency", s.Concurrency, "jobs", w.reg.JobNames(q))
	}
	return nil
}

// Close lets active jobs finish (within ctx) and stops every worker.
func (w *Workers) Close(ctx context.Context) error {
	errs := make([]error, len(w.workers))
	done := make(chan int, len(w.workers))
	for i, wk := range w.workers {
		go func() { errs[i] = wk.Close(ctx); done <- i }()
	}
	for range w.workers {
		<-done
	}
	w.workers = nil
	return errors.Join(errs...)
}

type workerMetrics struct {
	jobs     *prometheus.CounterVec
	duration *prometheus.HistogramVec
	wait     *prometheus.HistogramVec
}

func newWorkerMetrics(reg *prometheus.Registry) (*workerMetrics, error) {
	m := &workerMetrics{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "atlas_jobs_total", Help: "Job attempts finished by this process, by queue, job name and outcome.",
		}, []string{"queue", "name", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "atlas_job_duration_seconds", Help: "Time from an attempt's start to its end.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"queue", "name"}),
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "atlas_job_wait_seconds", Help: "Time a job's first attempt waited: from ready (added, plus its delay) to its start in this process.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"queue", "name"}),
	}
	for _, c := range []prometheus.Collector{m.jobs, m.duration, m.wait} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register job metrics: %w", err)
		}
	}
	return m, nil
}

func (m *workerMetrics) observe(queue string, j *jobq.Job, outcome string) {
	m.jobs.WithLabelValues(queue, j.Name, outcome).Inc()
	if !j.ProcessedOn.IsZero() {
		m.duration.WithLabelValues(queue, j.Name).Observe(time.Since(j.ProcessedOn).Seconds())
	}
}

// timed wraps a queue's processor to observe the wait of first attempts
// (retries waited for their backoff, which says nothing about capacity).
func (m *workerMetrics) timed(queue string, p jobq.Processor) jobq.Processor {
	return func(ctx context.Context, j *jobq.Job) (any, error) {
		if j.AttemptsMade == 0 && !j.Timestamp.IsZero() {
			m.wait.WithLabelValues(queue, j.Name).Observe(max(time.Since(j.Timestamp.Add(j.Delay)).Seconds(), 0))
		}
		return p(ctx, j)
	}
}
