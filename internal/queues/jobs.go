// Package queues connects Atlas to its job queues: it opens the jobq backend
// (embedded SQLite by default, Redis when a URL is set), holds each queue's
// settings (DESIGN section 1), lets domain packages register handlers per
// job name, and runs the workers as one component.
package queues

import (
	"time"

	"github.com/sevra/atlas/jobq"
)

// Queue names.
const (
	QueueMedia         = "media"
	QueueNotifications = "notifications"
	QueueAnalytics     = "analytics"
	QueueMaintenance   = "maintenance"
)

// Queues lists every Atlas queue.
var Queues = []string{QueueMedia, QueueNotifications, QueueAnalytics, QueueMaintenance}

// Settings are one queue's worker settings and job defaults.
type Settings struct {
	// Concurrency is the number of jobs one worker process runs at once.
	Concurrency int
	// Limiter caps job starts across all workers of the queue (nil = none).
	Limiter *jobq.Limiter
	// Defaults apply to every job added through a Producer unless the
	// caller's options set the field.
	Defaults jobq.JobOptions
}

// retention of finished jobs: completed for an hour, failed for a week
// (the dead-letter set, listed and retryable).
var (
	keepCompleted = jobq.KeepFor(time.Hour, 0)
	keepFailed    = jobq.KeepFor(7*24*time.Hour, 0)
)

// DefaultSettings returns DESIGN's defaults for queue; cpus is the CPU
// count used for CPU-bound queues.
func DefaultSettings(queue string, cpus int) Settings {
	exp := &jobq.Backoff{Type: jobq.BackoffExponential, Delay: time.Second}
	base := jobq.JobOptions{RemoveOnComplete: keepCompleted, RemoveOnFail: keepFailed}
	switch queue {
	case QueueMedia:
		base.Attempts, base.Backoff = 5, exp
		return Settings{Concurrency: max(cpus, 1), Limiter: &jobq.Limiter{Max: 10, Duration: time.Second}, Defaults: base}
	case QueueNotifications:
		base.Attempts, base.Backoff, base.Priority = 5, exp, 1
		return Settings{Concurrency: 2, Defaults: base}
	case QueueAnalytics:
		base.Attempts, base.Backoff, base.Priority = 3, exp, 10
		return Settings{Concurrency: 10, Defaults: base}
	case QueueMaintenance:
		base.Attempts, base.Backoff = 3, &jobq.Backoff{Type: jobq.BackoffExponential, Delay: 5 * time.Second}
		return Settings{Concurrency: 1, Defaults: base}
	default:
		base.Attempts, base.Backoff = 3, exp
		return Settings{Concurrency: 1, Defaults: base}
	}
}
