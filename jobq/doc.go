// Package jobq is a job queue with BullMQ's model: named queues; waiting,
// prioritized, delayed, active, completed, failed and waiting-children
// states; retries with backoff; retention of finished jobs; custom job ids
// (idempotent adds); deduplication; a global rate limiter; per-worker
// concurrency; lock renewal and stalled-job recovery; parent/child flows;
// job schedulers (every N ms or cron with time zone); queue events; progress
// and logs; per-minute metrics.
//
// Storage is pluggable: a Backend implements the contract in package
// jobqdriver. Two backends exist:
//
//   - jobqredis: Redis, byte-compatible with BullMQ 6.7.0, so Node BullMQ
//     producers and workers and bull-board share queues with Go workers;
//   - jobqsqlite: an embedded, durable SQLite file for single-machine use.
//
// Both run the same conformance suite (package jobqtest). A backend may
// also have optional abilities, found by type assertion as database/sql
// finds its drivers' (Pinger, HealthReporter); Ping and Health use them.
//
// # Use
//
//	q := jobq.NewQueue("media", backend, nil)
//	job, err := q.Add(ctx, "generate-variants", payload, &jobq.JobOptions{
//		JobID:    "media-42",
//		Attempts: 5,
//		Backoff:  &jobq.Backoff{Type: jobq.BackoffExponential, Delay: time.Second},
//	})
//
//	w, err := jobq.NewWorker("media", backend, func(ctx context.Context, j *jobq.Job) (any, error) {
//		var p Payload
//		if err := j.Decode(&p); err != nil {
//			return nil, jobq.Unrecoverable(err)
//		}
//		return process(ctx, p)
//	}, &jobq.WorkerConfig{Concurrency: 4})
//	err = w.Start(ctx)
//	defer w.Close(shutdownCtx)
//
// # Delivery
//
// Delivery is at least once. A worker holds a lock on each active job and
// renews it every LockRenewTime; when a worker dies, the stalled check of
// any other worker returns its jobs to waiting after the lock lapses (and
// fails them once they stalled more than MaxStalledCount times). Processors
// should therefore be idempotent; job ids derived from the resource
// ("media-42") make producers idempotent too.
//
// # Clocks
//
// As in BullMQ, timestamps and delays come from the producer's and the
// worker's clocks, which QueueConfig.Clock and WorkerConfig.Clock can
// replace in tests.
package jobq
