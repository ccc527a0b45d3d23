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

// ReadyAger is a Driver that can tell cheaply, without scanning jobs, since
// when the jobs next in line have been ready to run.
type ReadyAger interface {
	// OldestReady returns the earliest ready time, in ms (the job's
	// timestamp plus its delay), of the job next in line in waiting and of
	// the one first in prioritized, whichever is earlier; 0 when both
	// are empty. It reads at most two jobs.
	OldestReady(ctx context.Context, queue string) (int64, error)
}
