package jobqdriver

import "context"

// A backend may implement the optional interfaces below in addition to
// Driver. Callers find them with a type assertion, as database/sql finds
// the optional interfaces of database/sql/driver; package jobq wraps the
// assertions (jobq.Ping, jobq.Health).

// Pinger is a Driver that can check, cheaply, that its storage answers.
type Pinger interface {
	// Ping makes one round trip to the storage (a Redis PING, a trivial
	// SQL query) and returns its error, or ErrClosed after Close.
	Ping(ctx context.Context) error
}

// HealthReporter is a Driver that can check whether its storage is
// configured to keep jobs safely.
type HealthReporter interface {
	// Health inspects the storage server's version and settings. Settings
	// that make jobs unsafe are reported as warnings, not as an error; the
	// error is for a server that cannot be asked at all.
	Health(ctx context.Context) (HealthReport, error)
}

// HealthReport describes how safe a backend's storage is for queues.
type HealthReport struct {
	// Version is the storage server's version, e.g. "7.0.15" for Redis.
	Version string
	// Settings holds the server settings that matter for durability, by
	// name as the server spells them (for Redis "maxmemory-policy" and
	// "appendonly"); a value is "" when the setting could not be read.
	Settings map[string]string
	// Warnings describe each problem found; empty when everything is as
	// required.
	Warnings []string
}

// OK reports whether there are no warnings.
func (h HealthReport) OK() bool { return len(h.Warnings) == 0 }

// WorkerInfo describes one worker as a backend knows it. Fields a backend
// cannot know are zero (on Redis: Pid and Concurrency of Node workers).
type WorkerInfo struct {
	// Name is the worker's name ("" for a BullMQ worker started without one).
	Name string
	// Host is the worker's host name, or its client address on Redis.
	Host string
	// Pid is the worker's process id (0: unknown).
	Pid int
	// Concurrency is the worker's concurrency (0: unknown).
	Concurrency int
	// Started is when the worker (or its connection) started, ms.
	Started int64
	// LastSeen is when the worker last showed it was alive, ms.
	LastSeen int64
}

// WorkerLister is a Driver that can list the workers online for a queue:
// jobqredis from CLIENT LIST connection names (as BullMQ's getWorkers
// does), jobqsqlite from the heartbeats WorkerHeartbeater records.
type WorkerLister interface {
	// Workers lists the workers of queue seen alive at or after since (ms).
	Workers(ctx context.Context, queue string, since int64) ([]WorkerInfo, error)
}

// WorkerHeartbeater is a Driver that needs workers to record heartbeats
// for WorkerLister (jobqsqlite). Workers call Heartbeat every few seconds
// while they run and RemoveWorker when they close.
type WorkerHeartbeater interface {
	// Heartbeat records that w is alive at now (ms), keeping w.Started of
	// the first heartbeat, and forgets workers of any queue not seen since
	// now minus an hour.
	Heartbeat(ctx context.Context, queue string, w WorkerInfo, now int64) error
	// RemoveWorker forgets a worker that stopped.
	RemoveWorker(ctx context.Context, queue, name string) error
}
