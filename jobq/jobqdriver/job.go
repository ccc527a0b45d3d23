// Package jobqdriver is the contract between package jobq and its storage
// backends (jobqsqlite, jobqredis).
//
// The contract is UNSTABLE: it changes with jobq's needs and carries no
// compatibility promise. Application code uses package jobq; only backend
// authors import this package.
//
// Every method is one atomic step, shaped after BullMQ 6.7's scripts (add,
// move-to-active, move-to-finished with fetch-next, retry, move-to-delayed,
// extend-locks, stalled-check), so that the Redis backend can run each as one
// Lua script over BullMQ's layout and the SQLite backend as one transaction.
// All timestamps are Unix milliseconds taken from the caller's clock (BullMQ
// also timestamps from the client), which lets tests inject a clock.
package jobqdriver

import (
	"encoding/json"
	"errors"
)

// Job states, named as BullMQ names them.
const (
	StateWaiting         = "waiting"
	StatePrioritized     = "prioritized"
	StateDelayed         = "delayed"
	StateActive          = "active"
	StateCompleted       = "completed"
	StateFailed          = "failed"
	StateWaitingChildren = "waiting-children"
	StatePaused          = "paused" // reported by counts only, never stored
	StateUnknown         = "unknown"
)

// Sentinel errors that backends return (wrapped or bare).
var (
	// ErrJobNotFound: the job does not exist.
	ErrJobNotFound = errors.New("jobq: job not found")
	// ErrLockMismatch: the job is not locked by the given token (lost lock,
	// stalled and taken by another worker, or removed).
	ErrLockMismatch = errors.New("jobq: job lock mismatch")
	// ErrNotInState: the job is not in the state the operation needs
	// (e.g. Promote on a job that is not delayed).
	ErrNotInState = errors.New("jobq: job not in expected state")
	// ErrPendingChildren: a parent cannot finish while children are pending.
	ErrPendingChildren = errors.New("jobq: job has pending children")
	// ErrParentMissing: a child names a parent that does not exist.
	ErrParentMissing = errors.New("jobq: parent job missing")
	// ErrJobActive: the job is locked by a worker and cannot be removed.
	ErrJobActive = errors.New("jobq: job is active")
	// ErrQueueNotEmpty: Obliterate without force on a queue with active jobs.
	ErrQueueNotEmpty = errors.New("jobq: queue has active jobs")
	// ErrClosed: the backend is closed.
	ErrClosed = errors.New("jobq: backend closed")
)

// Job is one job as stored. Field names follow BullMQ's job hash; JSON
// fields hold raw JSON exactly as stored.
type Job struct {
	Queue           string          // queue name
	ID              string          // job id
	Name            string          // job name
	Data            json.RawMessage // "data"
	Opts            Opts            // "opts"
	Timestamp       int64           // creation time, ms
	Delay           int64           // ms, as given at add
	Priority        int             // 0 = none
	ProcessedOn     int64           // ms, 0 = never
	FinishedOn      int64           // ms, 0 = not finished
	AttemptsStarted int             // "ats"
	AttemptsMade    int             // "atm"
	StalledCounter  int             // "stc"
	Progress        json.RawMessage // "progress", nil when never set
	ReturnValue     json.RawMessage // "returnvalue"
	FailedReason    string          // "failedReason"
	Stacktrace      []string        // "stacktrace"
	ParentKey       string          // "parentKey": full key of the parent, e.g. "bull:q:id"
	Parent          *ParentRef      // "parent"
	ProcessedBy     string          // "pb": the worker name
	RepeatJobKey    string          // "rjk": the job scheduler id
	DeduplicationID string          // "deid"
	DeferredFailure string          // "defa": set by the stalled checker past maxStalledCount

	// Token is the lock token when the job was returned by Fetch; empty
	// otherwise.
	Token string
	// State is filled by GetJob/GetJobs when the backend knows it cheaply.
	State string
}

// ParentRef names a parent job, as BullMQ's "parent" hash field.
type ParentRef struct {
	ID       string `json:"id"`
	QueueKey string `json:"queueKey"` // e.g. "bull:parentQueue"
}

// Backoff is a retry backoff as stored in opts.backoff.
type Backoff struct {
	Type   string  `json:"type"`             // "fixed", "exponential" or a custom name
	Delay  int64   `json:"delay,omitempty"`  // ms
	Jitter float64 `json:"jitter,omitempty"` // 0..1
}

// Dedup is opts.de: deduplication id, optional TTL (ms) and BullMQ's
// extend and replace modes (see jobq.Deduplication).
type Dedup struct {
	ID      string `json:"id"`
	TTL     int64  `json:"ttl,omitempty"`
	Extend  bool   `json:"extend,omitempty"`
	Replace bool   `json:"replace,omitempty"`
}

// Opts is the job's options object, stored as the "opts" JSON with BullMQ's
// key names, so that Node BullMQ reads Go-written jobs.
//
// The JSON keys come in the order a Node producer's options reach BullMQ
// 6.7's add script (attempts first, as its Job constructor puts it there,
// always present, default 0); the Redis backend stores them re-encoded by
// Redis's cjson, as BullMQ does, so equal options give equal bytes.
type Opts struct {
	Attempts         int      `json:"attempts"`
	JobID            string   `json:"jobId,omitempty"`
	Delay            int64    `json:"delay,omitempty"`
	Priority         int      `json:"priority,omitempty"`
	LIFO             bool     `json:"lifo,omitempty"`
	Timestamp        int64    `json:"timestamp,omitempty"`
	Backoff          *Backoff `json:"backoff,omitempty"`
	RemoveOnComplete *Keep    `json:"removeOnComplete,omitempty"`
	RemoveOnFail     *Keep    `json:"removeOnFail,omitempty"`
	Dedup            *Dedup   `json:"de,omitempty"`
	KeepLogs         int      `json:"kl,omitempty"`
	// Parent is BullMQ's opts.parent of a child job: the parent's id and
	// its queue's qualified name ("bull:P").
	Parent *OptsParent `json:"parent,omitempty"`
	// Child failure policies (BullMQ short keys). At most one is set.
	FailParentOnFailure     bool `json:"fpof,omitempty"`
	ContinueParentOnFailure bool `json:"cpof,omitempty"`
	IgnoreDependencyOnFail  bool `json:"idof,omitempty"`
	RemoveDependencyOnFail  bool `json:"rdof,omitempty"`
	// Repeat is set on jobs created by a job scheduler.
	RepeatJobKey string `json:"repeatJobKey,omitempty"`
	// Extra keeps unknown keys written by other clients (e.g. Node BullMQ's
	// telemetry "tm"), so a round trip loses nothing.
	Extra map[string]json.RawMessage `json:"-"`
}

// OptsParent is opts.parent: a parent job's id and qualified queue name.
type OptsParent struct {
	ID    string `json:"id"`
	Queue string `json:"queue"` // e.g. "bull:parentQueue"
}

// Keep is a retention policy (removeOnComplete / removeOnFail).
// Count < 0 means no limit by count; Age 0 means no limit by age.
// Keep{Count: 0} removes the job at once (BullMQ's `true`).
//
// Object selects BullMQ's object form {age, count} in the stored JSON (a
// Node producer's `{count: 5}` rather than `5`); it does not change the
// policy.
type Keep struct {
	Count  int   // jobs to keep; -1 = unlimited
	Age    int64 // seconds, as BullMQ stores it; 0 = unlimited
	Object bool  // stored as {"age":…,"count":…}
}

// RemovesAll reports whether the policy deletes the job immediately.
func (k *Keep) RemovesAll() bool { return k != nil && k.Count == 0 && k.Age == 0 }
