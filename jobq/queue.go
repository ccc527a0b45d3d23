package jobq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// QueueConfig configures a Queue. The zero value is valid.
type QueueConfig struct {
	// DefaultJobOptions apply to every Add whose options leave a field
	// unset (Attempts, Backoff, RemoveOnComplete, RemoveOnFail, Priority,
	// Delay, KeepLogs). Default: none.
	DefaultJobOptions *JobOptions
	// Clock is the producer's clock; timestamps and delays are taken from
	// it. Default: time.Now.
	Clock func() time.Time
	// Logger receives diagnostics. Default: a discarding logger.
	Logger *slog.Logger
}

// Queue adds and manages the jobs of one named queue. It is safe for
// concurrent use and holds no goroutines.
type Queue struct {
	name string
	drv  jobqdriver.Driver
	cfg  QueueConfig
}

// NewQueue returns a handle on queue name stored in backend.
func NewQueue(name string, backend Backend, cfg *QueueConfig) *Queue {
	q := &Queue{name: name, drv: backend}
	if cfg != nil {
		q.cfg = *cfg
	}
	if q.cfg.Clock == nil {
		q.cfg.Clock = time.Now
	}
	if q.cfg.Logger == nil {
		q.cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return q
}

// Name returns the queue's name.
func (q *Queue) Name() string { return q.name }

// Backend returns the queue's backend.
func (q *Queue) Backend() Backend { return q.drv }

// BulkJob is one job for AddBulk.
type BulkJob struct {
	Name string
	Data any
	Opts *JobOptions
}

// Add adds one job. data is encoded as JSON (a json.RawMessage or []byte
// holding JSON is stored as is). If opts.JobID names an existing job, or
// opts.Deduplication matches a live job, nothing is added and the existing
// job is returned.
func (q *Queue) Add(ctx context.Context, name string, data any, opts *JobOptions) (*Job, error) {
	jobs, err := q.AddBulk(ctx, []BulkJob{{Name: name, Data: data, Opts: opts}})
	if err != nil {
		return nil, err
	}
	return jobs[0], nil
}

// AddBulk adds several jobs in one round trip, each atomically.
func (q *Queue) AddBulk(ctx context.Context, jobs []BulkJob) ([]*Job, error) {
	if err := validQueueName(q.name); err != nil {
		return nil, err
	}
	now := q.cfg.Clock()
	recs := make([]*jobqdriver.Job, len(jobs))
	for i, b := range jobs {
		rec, err := q.build(b, now)
		if err != nil {
			return nil, err
		}
		recs[i] = rec
	}
	res, err := q.drv.Add(ctx, q.name, recs, now.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("jobq: add to %s: %w", q.name, err)
	}
	out := make([]*Job, len(recs))
	for i, r := range res {
		if r.Duplicate || r.DeduplicatedBy != "" {
			existing, err := q.drv.GetJob(ctx, q.name, r.ID)
			if err == nil {
				out[i] = fromDriver(q.drv, existing)
				continue
			}
			if !errors.Is(err, ErrJobNotFound) {
				return nil, fmt.Errorf("jobq: read existing job %s: %w", r.ID, err)
			}
		}
		recs[i].ID = r.ID
		out[i] = fromDriver(q.drv, recs[i])
	}
	return out, nil
}

func (q *Queue) build(b BulkJob, now time.Time) (*jobqdriver.Job, error) {
	o := mergeDefaults(b.Opts, q.cfg.DefaultJobOptions)
	if err := o.validate(); err != nil {
		return nil, err
	}
	data, err := encodeData(b.Data)
	if err != nil {
		return nil, err
	}
	return toDriver(q.drv, q.name, b.Name, data, o, now), nil
}

func encodeData(v any) ([]byte, error) {
	switch d := v.(type) {
	case nil:
		return []byte("{}"), nil
	case []byte:
		if !json.Valid(d) {
			return nil, fmt.Errorf("%w: job data is not valid JSON", ErrInvalidOption)
		}
		return d, nil
	}
	b, err := jobqdriver.MarshalJSON(v)
	if err != nil {
		return nil, fmt.Errorf("%w: encode job data: %v", ErrInvalidOption, err)
	}
	return b, nil
}

// GetJob returns a job, or ErrJobNotFound.
func (q *Queue) GetJob(ctx context.Context, id string) (*Job, error) {
	r, err := q.drv.GetJob(ctx, q.name, id)
	if err != nil {
		return nil, fmt.Errorf("jobq: get job %s: %w", id, err)
	}
	return fromDriver(q.drv, r), nil
}

// GetJobs lists jobs in the given states, positions start…end (inclusive;
// end -1 = all) of each state's order; asc lists oldest first.
func (q *Queue) GetJobs(ctx context.Context, states []State, start, end int, asc bool) ([]*Job, error) {
	ss := make([]string, len(states))
	for i, s := range states {
		ss[i] = string(s)
	}
	rs, err := q.drv.GetJobs(ctx, q.name, ss, start, end, asc)
	if err != nil {
		return nil, fmt.Errorf("jobq: get jobs: %w", err)
	}
	out := make([]*Job, len(rs))
	for i, r := range rs {
		out[i] = fromDriver(q.drv, r)
	}
	return out, nil
}

// AllStates lists every state GetJobCounts reports by default.
var AllStates = []State{StateWaiting, StatePrioritized, StateDelayed, StateActive, StateCompleted, StateFailed, StateWaitingChildren, StatePaused}

// GetJobCounts counts jobs per state (all states when none are given).
func (q *Queue) GetJobCounts(ctx context.Context, states ...State) (map[State]int64, error) {
	if len(states) == 0 {
		states = AllStates
	}
	ss := make([]string, len(states))
	for i, s := range states {
		ss[i] = string(s)
	}
	m, err := q.drv.Counts(ctx, q.name, ss)
	if err != nil {
		return nil, fmt.Errorf("jobq: counts: %w", err)
	}
	out := make(map[State]int64, len(m))
	for _, s := range states {
		out[s] = m[string(s)]
	}
	return out, nil
}

// Pause stops workers from taking new jobs; active ones finish.
func (q *Queue) Pause(ctx context.Context) error {
	return q.wrap("pause", q.drv.SetPaused(ctx, q.name, true))
}

// Resume undoes Pause.
func (q *Queue) Resume(ctx context.Context) error {
	return q.wrap("resume", q.drv.SetPaused(ctx, q.name, false))
}

// IsPaused reports whether the queue is paused.
func (q *Queue) IsPaused(ctx context.Context) (bool, error) {
	p, err := q.drv.IsPaused(ctx, q.name)
	return p, q.wrap("is paused", err)
}

// Promote moves a delayed job to waiting now. A job in another state
// gives a *StateError.
func (q *Queue) Promote(ctx context.Context, id string) error {
	err := q.drv.Promote(ctx, q.name, id, q.cfg.Clock().UnixMilli())
	return q.wrap("promote "+id, q.stateErr(ctx, err, id, "promote", "delayed jobs"))
}

// Retry moves a failed job back to waiting with its attempts reset. A job
// in another state gives a *StateError.
func (q *Queue) Retry(ctx context.Context, id string) error {
	err := q.drv.Reprocess(ctx, q.name, id, string(StateFailed), q.cfg.Clock().UnixMilli())
	return q.wrap("retry "+id, q.stateErr(ctx, err, id, "retry", "failed jobs"))
}

// RetryAll moves every failed job back to waiting and returns how many.
func (q *Queue) RetryAll(ctx context.Context) (int, error) {
	n, err := q.drv.ReprocessAll(ctx, q.name, string(StateFailed), 0, q.cfg.Clock().UnixMilli())
	return n, q.wrap("retry all", err)
}

// Remove deletes a job (ErrJobActive if a worker holds it); with children
// true it also removes the job's children.
func (q *Queue) Remove(ctx context.Context, id string, children bool) error {
	err := q.drv.Remove(ctx, q.name, id, children)
	return q.wrap("remove "+id, q.stateErr(ctx, err, id, "remove", "jobs no worker holds"))
}

// Clean deletes up to limit (0 = all) jobs in state that are older than
// grace, and returns their ids.
func (q *Queue) Clean(ctx context.Context, grace time.Duration, limit int, state State) ([]string, error) {
	ids, err := q.drv.Clean(ctx, q.name, grace.Milliseconds(), limit, string(state), q.cfg.Clock().UnixMilli())
	return ids, q.wrap("clean", err)
}

// Drain removes all waiting and prioritized jobs, and delayed ones when
// delayed is true.
func (q *Queue) Drain(ctx context.Context, delayed bool) error {
	return q.wrap("drain", q.drv.Drain(ctx, q.name, delayed))
}

// Obliterate deletes the queue and all its jobs. With active jobs it fails
// with ErrQueueNotEmpty unless force is true.
func (q *Queue) Obliterate(ctx context.Context, force bool) error {
	return q.wrap("obliterate", q.drv.Obliterate(ctx, q.name, force))
}

// MetricsKind selects completed or failed metrics.
type MetricsKind string

// Metrics kinds.
const (
	MetricsCompleted MetricsKind = "completed"
	MetricsFailed    MetricsKind = "failed"
)

// Metrics are per-minute counts, newest first, as BullMQ keeps them.
type Metrics = jobqdriver.Metrics

// GetMetrics returns per-minute metrics; points start…end, newest first.
// Workers record them when WorkerConfig.MetricsMaxDataPoints > 0.
func (q *Queue) GetMetrics(ctx context.Context, kind MetricsKind, start, end int) (Metrics, error) {
	m, err := q.drv.Metrics(ctx, q.name, string(kind), start, end)
	return m, q.wrap("metrics", err)
}

// JobLogs returns a job's log lines start…end (end -1 = all) and the total.
func (q *Queue) JobLogs(ctx context.Context, id string, start, end int, asc bool) ([]string, int, error) {
	l, n, err := q.drv.Logs(ctx, q.name, id, start, end, asc)
	return l, n, q.wrap("logs", err)
}

func (q *Queue) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("jobq: %s on %s: %w", op, q.name, err)
}
