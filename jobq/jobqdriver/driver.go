package jobqdriver

import (
	"context"
	"encoding/json"
	"time"
)

// Driver is a jobq storage backend. Every method is atomic on its own (one
// Lua script, one SQL transaction); batch methods may be atomic per item.
// Methods that change state append the matching BullMQ events to the queue's
// event log within the same atomic step.
type Driver interface {
	// QueueKey returns the key that identifies a queue in ParentRef.QueueKey
	// and in parent keys ("<prefix>:<queue>"); a parent key is
	// QueueKey(queue)+":"+id.
	QueueKey(queue string) string

	// Add adds jobs to one queue, each atomically. A job with an empty ID
	// gets the next value of the queue's id counter. For each job, in order:
	// an existing job with the same ID makes the add a no-op (event
	// "duplicated", Result.Duplicate); a live deduplication key makes it a
	// no-op (event "deduplicated", Result.DeduplicatedBy); otherwise the job
	// is stored and routed to delayed (Delay > 0), prioritized (Priority > 0)
	// or waiting (LIFO pushes to the front), registering with its parent
	// (ParentKey) when set. Events: added, then waiting or delayed.
	Add(ctx context.Context, queue string, jobs []*Job, now int64) ([]AddResult, error)

	// AddFlow adds a tree of jobs, possibly across queues, in one atomic
	// step. Nodes with children go to waiting-children and keep a dependency
	// on each child's key; leaves are routed as in Add. IDs left empty are
	// generated and written back into the tree, as are ParentKey and Parent.
	AddFlow(ctx context.Context, root *FlowNode, now int64) error

	// Fetch moves up to p.Max ready jobs to active and locks them (see
	// FetchParams). It first promotes due delayed jobs. It takes waiting
	// jobs first, then prioritized ones by (priority, insertion order).
	Fetch(ctx context.Context, p FetchParams) (FetchResult, error)

	// NewWaiter returns a waiter that blocks until a queue may have work.
	// Each worker owns one; on Redis it is a dedicated, named connection.
	NewWaiter(ctx context.Context, queue, workerName string) (Waiter, error)

	// Finish moves active jobs to completed or failed (see FinishParams),
	// each checked against its lock token; errs[i] is the error for
	// items[i] (ErrLockMismatch, ErrJobNotFound, ErrPendingChildren). When
	// next is non-nil it also fetches, as Fetch would, in the same round trip.
	Finish(ctx context.Context, items []FinishParams, next *FetchParams) (errs []error, fetched FetchResult, err error)

	// Retry moves an active job back for another attempt: to delayed at
	// p.Now+p.Delay when Delay > 0, else to the front of waiting. It
	// increments attemptsMade, records the failure reason and stacktrace,
	// and releases the lock.
	Retry(ctx context.Context, p RetryParams) error

	// MoveToDelayed moves an active job to delayed until untilMs without
	// counting an attempt (the processor asked for a delay).
	MoveToDelayed(ctx context.Context, queue, id, token string, untilMs, now int64) error

	// Release moves an active job back to the front of waiting without
	// counting an attempt (the processor hit a rate limit).
	Release(ctx context.Context, queue, id, token string, now int64) error

	// RateLimit blocks the queue's fetches for d (a manual rate limit).
	RateLimit(ctx context.Context, queue string, d time.Duration) error

	// ExtendLocks renews the locks of active jobs for duration ms and clears
	// them from the stalled set. It returns the ids whose lock was lost.
	ExtendLocks(ctx context.Context, queue string, locks []Lock, duration int64, now int64) (lost []string, err error)

	// CheckStalled runs one stalled sweep unless another ran less than
	// p.Interval ago (then it returns an empty result). Jobs marked in the
	// previous sweep and still unlocked go back to waiting with their
	// stalled counter incremented, or, past MaxStalledCount, get a deferred
	// failure; then every active job is marked for the next sweep.
	CheckStalled(ctx context.Context, p StalledParams) (StalledResult, error)

	// UpdateProgress stores progress (JSON) and emits "progress".
	UpdateProgress(ctx context.Context, queue, id string, progress json.RawMessage) error
	// AddLog appends a log line, keeping at most keep lines when keep > 0,
	// and returns the number of lines.
	AddLog(ctx context.Context, queue, id, line string, keep int) (int, error)
	// Logs returns log lines [start, end] (end -1 = all) and the total.
	Logs(ctx context.Context, queue, id string, start, end int, asc bool) ([]string, int, error)

	// GetJob returns a job or ErrJobNotFound.
	GetJob(ctx context.Context, queue, id string) (*Job, error)
	// JobState returns the job's state, or StateUnknown.
	JobState(ctx context.Context, queue, id string) (string, error)
	// GetJobs lists jobs in the given states, positions [start, end]
	// (end -1 = all) of each state's natural order, asc or newest first.
	GetJobs(ctx context.Context, queue string, states []string, start, end int, asc bool) ([]*Job, error)
	// Counts returns the number of jobs per requested state.
	Counts(ctx context.Context, queue string, states []string) (map[string]int64, error)
	// ChildrenValues returns the return values of a parent's completed
	// children, keyed by child key.
	ChildrenValues(ctx context.Context, queue, id string) (map[string]json.RawMessage, error)
	// ChildrenFailures returns the failure reasons recorded for children
	// that failed with ignore/continue policies, keyed by child key.
	ChildrenFailures(ctx context.Context, queue, id string) (map[string]string, error)

	// SetPaused pauses or resumes the queue (events paused / resumed).
	SetPaused(ctx context.Context, queue string, paused bool) error
	// IsPaused reports whether the queue is paused.
	IsPaused(ctx context.Context, queue string) (bool, error)
	// Promote moves a delayed job to waiting now.
	Promote(ctx context.Context, queue, id string, now int64) error
	// Reprocess moves a failed (or completed) job back to waiting with its
	// attempts, result and failure reset.
	Reprocess(ctx context.Context, queue, id, state string, now int64) error
	// ReprocessAll moves up to count jobs (0 = all) of state back to waiting
	// and returns how many moved.
	ReprocessAll(ctx context.Context, queue, state string, count int, now int64) (int, error)
	// Remove deletes a job (ErrJobActive when it is locked), its logs and
	// dependency records; with children it also removes its children.
	Remove(ctx context.Context, queue, id string, removeChildren bool) error
	// Clean deletes up to limit (0 = no limit) jobs of state finished (or
	// created, for waiting/delayed/prioritized) at least grace ms before
	// now, returning their ids.
	Clean(ctx context.Context, queue string, grace int64, limit int, state string, now int64) ([]string, error)
	// Drain removes waiting and prioritized jobs, and delayed ones too when
	// delayed is true.
	Drain(ctx context.Context, queue string, delayed bool) error
	// Obliterate deletes the whole queue; with active jobs it returns
	// ErrQueueNotEmpty unless force.
	Obliterate(ctx context.Context, queue string, force bool) error

	// UpsertScheduler stores a job scheduler and, atomically, replaces its
	// pending job with first (a delayed job whose ID is
	// "repeat:<id>:<millis>").
	UpsertScheduler(ctx context.Context, queue string, s Scheduler, first *Job, now int64) error
	// ScheduleNext adds a scheduler's next job if the scheduler still
	// exists and next is later than the scheduler's stored next run; it
	// bumps the iteration count. A duplicate job ID makes it a no-op, which
	// is what gives exactly one job per tick.
	ScheduleNext(ctx context.Context, queue, schedulerID string, next *Job, now int64) (bool, error)
	// RemoveScheduler deletes a scheduler and its pending delayed job.
	RemoveScheduler(ctx context.Context, queue, id string) (bool, error)
	// GetScheduler returns one scheduler or ErrJobNotFound.
	GetScheduler(ctx context.Context, queue, id string) (*Scheduler, error)
	// ListSchedulers lists schedulers ordered by next run.
	ListSchedulers(ctx context.Context, queue string) ([]Scheduler, error)

	// ReadEvents returns up to count events after afterID, blocking up to
	// block for the first one. afterID "$" means "only new events"; "0"
	// means from the start.
	ReadEvents(ctx context.Context, queue, afterID string, count int, block time.Duration) ([]Event, error)
	// LastEventID returns the id of the queue's newest event ("0" when the
	// log is empty), so a subscriber can start reading after it without a
	// gap.
	LastEventID(ctx context.Context, queue string) (string, error)
	// Metrics returns the per-minute metrics of kind "completed" or
	// "failed"; points [start, end] of the data, newest first.
	Metrics(ctx context.Context, queue, kind string, start, end int) (Metrics, error)

	// Close releases the backend's resources.
	Close() error
}

// Waiter blocks until a queue may have work.
type Waiter interface {
	// Wait returns when a job may be ready, at the latest after timeout,
	// except that a backend may keep a waiter waiting past timeout when
	// another waiter of the same queue in the process woke for that moment
	// (its fetch covers both; jobqredis does so to avoid a wake-up storm).
	Wait(ctx context.Context, timeout time.Duration) error
	// Close releases the waiter.
	Close() error
}

// AddResult is the outcome of adding one job.
type AddResult struct {
	ID             string // the new job's id, or the existing job's id
	Duplicate      bool   // a job with this ID existed; nothing was added
	DeduplicatedBy string // non-empty: a live dedup key pointed at this job id
}

// FlowNode is one job in a flow tree.
type FlowNode struct {
	Job      *Job // Queue must be set
	Children []*FlowNode
}

// Limiter is a queue-wide rate limit: at most Max jobs per Duration ms.
type Limiter struct {
	Max      int
	Duration int64
}

// FetchParams asks for up to Max jobs.
type FetchParams struct {
	Queue        string
	WorkerName   string
	Tokens       []string // one lock token per job that may be fetched; len = Max
	LockDuration int64    // ms
	Limiter      *Limiter // nil = none
	Now          int64
}

// FetchResult is what a fetch returned.
type FetchResult struct {
	Jobs []*Job
	// RateLimitDelay > 0: the limiter is exhausted for that many ms.
	RateLimitDelay int64
	// NextDelayed is the time (ms) of the earliest delayed job, 0 if none.
	NextDelayed int64
	// Paused reports that the queue is paused.
	Paused bool
}

// FinishParams completes or fails one active job.
type FinishParams struct {
	Queue        string
	ID           string
	Token        string
	Failed       bool
	ReturnValue  json.RawMessage // completed
	FailedReason string          // failed
	Stacktrace   []string        // failed
	// Keep is the retention for the target set; nil keeps everything.
	Keep *Keep
	// RetriesExhausted makes the backend emit "retries-exhausted".
	RetriesExhausted bool
	// MetricsMaxDataPoints > 0 records per-minute metrics.
	MetricsMaxDataPoints int
	Now                  int64
	// Plain, set by the worker that fetched the job, says the job has no
	// parent and no deduplication id, and AttemptsMade is its attempts
	// made as fetched. Neither can change while the worker holds the
	// lock, so a backend may use them instead of reading the job again.
	Plain        bool
	AttemptsMade int
}

// RetryParams moves a failed attempt back for another one.
type RetryParams struct {
	Queue        string
	ID           string
	Token        string
	Delay        int64 // ms; 0 = back to waiting at once
	FailedReason string
	Stacktrace   []string
	Now          int64
}

// Lock names an active job's lock.
type Lock struct {
	ID    string
	Token string
}

// StalledParams configures one stalled sweep.
type StalledParams struct {
	Queue           string
	MaxStalledCount int
	Interval        int64 // ms
	Now             int64
}

// StalledResult lists what a sweep did.
type StalledResult struct {
	Recovered []string // moved back to waiting
	Failed    []string // got a deferred failure (stalled too often)
}

// Scheduler is a job scheduler (BullMQ's repeat:<id> hash).
type Scheduler struct {
	ID         string
	Name       string // job name
	Every      int64  // ms; 0 when Pattern is set
	Pattern    string // cron pattern
	TZ         string
	Limit      int   // max iterations, 0 = unlimited
	StartDate  int64 // ms, 0 = none
	EndDate    int64 // ms, 0 = none
	Offset     int64 // ms
	Iterations int   // "ic"
	Next       int64 // ms of the next run
	Data       json.RawMessage
	Opts       Opts
}

// Event is one entry of a queue's event log.
type Event struct {
	ID     string            // monotonically increasing, stream-id-like
	Name   string            // BullMQ event name ("completed", ...)
	Fields map[string]string // e.g. jobId, returnvalue, failedReason, prev
}

// Metrics are BullMQ-style per-minute counters.
type Metrics struct {
	Count     int64   // total since the metrics started
	PrevTS    int64   // ms of the last recorded minute
	PrevCount int64   // count at PrevTS
	Data      []int64 // per-minute deltas, newest first
}
