package jobq

import (
	"time"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// State is a job state, named as BullMQ names it.
type State string

// Job states.
const (
	StateWaiting         State = jobqdriver.StateWaiting
	StatePrioritized     State = jobqdriver.StatePrioritized
	StateDelayed         State = jobqdriver.StateDelayed
	StateActive          State = jobqdriver.StateActive
	StateCompleted       State = jobqdriver.StateCompleted
	StateFailed          State = jobqdriver.StateFailed
	StateWaitingChildren State = jobqdriver.StateWaitingChildren
	StatePaused          State = jobqdriver.StatePaused
	StateUnknown         State = jobqdriver.StateUnknown
)

// MaxPriority is the largest allowed priority (2^21-1).
const MaxPriority = 1<<21 - 1

// JobOptions are per-job options. The zero value (or nil) means BullMQ's
// defaults: no custom id, no delay, no priority, FIFO, one attempt, keep
// finished jobs forever.
type JobOptions struct {
	// JobID is a custom id. If a job with that id already exists, Add is a
	// no-op and returns the existing job. BullMQ 6.7's rules apply: it may
	// not be "0" nor start with "0:", may not be an integer string as
	// JavaScript prints one ("42", "-7"; "007" and "+5" are fine), and may
	// contain ':' only as exactly three parts.
	JobID string
	// Delay postpones the job; it is measured from the producer's clock.
	Delay time.Duration
	// Priority is 1 … MaxPriority; lower runs first. 0 means none, and jobs
	// without a priority run before prioritized ones.
	Priority int
	// LIFO puts the job at the front of the waiting list.
	LIFO bool
	// Attempts is the total number of tries (default 1).
	Attempts int
	// Backoff spaces retries; nil retries at once.
	Backoff *Backoff
	// RemoveOnComplete is the retention of completed jobs; nil keeps all.
	RemoveOnComplete *Keep
	// RemoveOnFail is the retention of failed jobs; nil keeps all.
	RemoveOnFail *Keep
	// Deduplication ignores adds while a job with the same dedup id is
	// alive (not yet finished), or until TTL passes when TTL > 0.
	Deduplication *Deduplication
	// Parent makes this job a child of an existing job (see also
	// FlowProducer, which adds whole trees).
	Parent *Parent
	// OnChildFailure says what this job's failure does to its parent.
	OnChildFailure ChildFailurePolicy
	// KeepLogs caps the number of log lines kept (0 = unlimited).
	KeepLogs int
}

// BackoffType names a backoff strategy.
type BackoffType string

// Built-in backoff strategies. Any other name is passed to
// WorkerConfig.BackoffStrategy.
const (
	BackoffFixed       BackoffType = "fixed"
	BackoffExponential BackoffType = "exponential"
)

// Backoff is a retry backoff: fixed waits Delay, exponential waits
// Delay·2^(attemptsMade−1). Jitter in (0, 1] randomises the wait down by up
// to that fraction.
type Backoff struct {
	Type   BackoffType
	Delay  time.Duration
	Jitter float64
}

// Keep is a retention policy: keep at most Count jobs (-1 = unlimited) and
// none older than Age seconds (0 = unlimited). Build it with RemoveAll,
// KeepLast, KeepFor.
type Keep = jobqdriver.Keep

// RemoveAll removes finished jobs at once (BullMQ's `true`).
func RemoveAll() *Keep { return &Keep{Count: 0} }

// KeepLast keeps the newest n finished jobs.
func KeepLast(n int) *Keep { return &Keep{Count: n} }

// KeepFor keeps finished jobs for age (whole seconds; 0 = no age limit)
// and, when maxCount > 0, at most maxCount of them. It is stored in BullMQ's
// object form, as a Node producer's {age, count}: KeepFor(0, 5) is
// {"count":5}, where KeepLast(5) is 5.
func KeepFor(age time.Duration, maxCount int) *Keep {
	k := &Keep{Count: -1, Age: int64(age / time.Second), Object: true}
	if maxCount > 0 {
		k.Count = maxCount
	}
	if k.Age == 0 && age > 0 {
		k.Age = 1
	}
	return k
}

// Deduplication drops adds that carry the same ID while the first job is
// alive, or, with TTL > 0, for TTL after the first add. The modes are
// BullMQ's:
//   - Extend (needs TTL): an add dropped within the TTL starts the TTL
//     again from that add, so a steady stream of adds keeps one job.
//   - Replace (debounce): while the job holding the ID is still delayed, a
//     new add removes it (a "removed" event) and takes its place, so the
//     job that finally runs carries the latest data. Once the holder is
//     waiting or running, adds are dropped as usual. Without Extend the
//     replacing job keeps the remaining TTL.
type Deduplication struct {
	ID      string
	TTL     time.Duration
	Extend  bool
	Replace bool
}

// Parent names an existing parent job.
type Parent struct {
	ID string
	// Queue is the parent's queue: its name ("P"), or its qualified name
	// as BullMQ writes it, prefix and name ("bull:P"), which may name a
	// queue under another prefix. A name containing ':' is taken as
	// qualified (queue names may not contain ':').
	Queue string
}

// ChildFailurePolicy says what a child's final failure does to its parent.
type ChildFailurePolicy int

// Child failure policies.
const (
	// ChildFailureWait (default, BullMQ's behaviour) leaves the parent
	// waiting for the failed child until the child is retried or removed.
	ChildFailureWait ChildFailurePolicy = iota
	// ChildFailureFailParent fails the parent at once.
	ChildFailureFailParent
	// ChildFailureIgnore records the failure and lets the parent run once
	// its other children complete.
	ChildFailureIgnore
	// ChildFailureContinue records the failure and runs the parent at once.
	ChildFailureContinue
	// ChildFailureRemove drops the dependency without recording it.
	ChildFailureRemove
)

// Limiter is a rate limit across all workers of a queue: at most Max jobs
// start per Duration.
type Limiter struct {
	Max      int
	Duration time.Duration
}
