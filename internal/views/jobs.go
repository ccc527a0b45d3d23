package views

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/jobq"
)

// Register adds the flush-post-views handler (queue analytics) to reg.
func (s *Service) Register(reg *queues.Registry) {
	reg.Handle(queues.QueueAnalytics, JobFlush, s.handleFlush)
}

// handleFlush runs one flush; the result, reported as progress after
// each batch too, is a FlushResult. A failed flush leaves its batch
// sealed; the job's retry, or the next scheduled job, finishes it.
func (s *Service) handleFlush(ctx context.Context, job *jobq.Job) (any, error) {
	res, err := s.flush(ctx, func(r FlushResult) { _ = job.UpdateProgress(ctx, r) })
	if err != nil {
		return nil, err
	}
	return res, nil
}

// EnsureSchedule upserts the flush-post-views job scheduler on the
// analytics queue of jobs, adding a flush every every (rounded to whole
// milliseconds), or removes it when every is 0. Upserting the same
// schedule again (a restart, several processes starting) is harmless: the
// scheduler id is fixed. Keep the schedule whatever the mode: a flush
// with nothing buffered costs two Redis calls and one DELETE, and it
// drains what an earlier async or shadow period left.
func (s *Service) EnsureSchedule(ctx context.Context, jobs *queues.Producer, every time.Duration) error {
	q := jobs.Queue(queues.QueueAnalytics)
	if every == 0 {
		removed, err := q.RemoveJobScheduler(ctx, SchedulerID)
		if err != nil {
			return fmt.Errorf("remove views flush schedule: %w", err)
		}
		s.log.InfoContext(ctx, "post views flush schedule removed", "removed", removed)
		return nil
	}
	if every < time.Millisecond {
		return fmt.Errorf("views flush schedule: every %v: want 0 or at least 1ms", every)
	}
	// A flush every 10 s keeps 360 completed jobs an hour; the last 100
	// are enough to see what the flushes did.
	j, err := q.UpsertJobScheduler(ctx, SchedulerID, jobq.Repeat{Every: every.Truncate(time.Millisecond)},
		&jobq.JobTemplate{Name: JobFlush, Data: map[string]string{"source": "schedule"},
			Opts: &jobq.JobOptions{RemoveOnComplete: jobq.KeepFor(time.Hour, 100)}})
	if err != nil {
		return fmt.Errorf("views flush schedule: %w", err)
	}
	s.log.InfoContext(ctx, "post views flush scheduled", "every", every, "next_job", j.ID)
	return nil
}

// Flusher flushes a service's buffer in this process: every interval, and
// once more on Close. It is for the in-process buffer, which only the
// process that counted the views can flush (`atlas serve` runs no
// workers) and which a graceful stop would otherwise lose; with Redis, use
// the job schedule instead. It is a component (Name, Start, Close).
type Flusher struct {
	s     *Service
	every time.Duration

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// Flusher returns a component that flushes s every every (default
// DefaultFlushEvery).
func (s *Service) Flusher(every time.Duration) *Flusher {
	if every <= 0 {
		every = DefaultFlushEvery
	}
	return &Flusher{s: s, every: every}
}

// Name implements the component contract.
func (f *Flusher) Name() string { return "post views flusher" }

// Start starts the periodic flush.
func (f *Flusher) Start(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done != nil {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel, f.done = cancel, make(chan struct{})
	go func() {
		defer close(f.done)
		t := time.NewTicker(f.every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, err := f.s.Flush(ctx); err != nil && ctx.Err() == nil {
					f.s.log.WarnContext(ctx, "post views flush", "err", err)
				}
			}
		}
	}()
	return nil
}

// Close stops the periodic flush and flushes once more within ctx.
func (f *Flusher) Close(ctx context.Context) error {
	f.mu.Lock()
	cancel, done := f.cancel, f.done
	f.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	if _, err := f.s.Flush(ctx); err != nil {
		return fmt.Errorf("final post views flush: %w", err)
	}
	return nil
}
