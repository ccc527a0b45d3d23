package jobq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// Event names, as BullMQ names them.
const (
	EventAdded            = "added"
	EventWaiting          = "waiting"
	EventWaitingChildren  = "waiting-children"
	EventDelayed          = "delayed"
	EventActive           = "active"
	EventProgress         = "progress"
	EventCompleted        = "completed"
	EventFailed           = "failed"
	EventRetriesExhausted = "retries-exhausted"
	EventStalled          = "stalled"
	EventRemoved          = "removed"
	EventCleaned          = "cleaned"
	EventDrained          = "drained"
	EventPaused           = "paused"
	EventResumed          = "resumed"
	EventDuplicated       = "duplicated"
	EventDeduplicated     = "deduplicated"
)

// Event is one queue event.
type Event struct {
	ID     string            // position in the queue's event log
	Name   string            // one of the Event* names
	JobID  string            // the job concerned, if any
	Fields map[string]string // all fields, e.g. "returnvalue", "failedReason", "prev"
}

// QueueEventsConfig configures a QueueEvents. The zero value is valid.
type QueueEventsConfig struct {
	// LastEventID starts reading after this event id. Default: after the
	// newest event at Start.
	LastEventID string
	// BlockTimeout bounds each blocking read. Default: 1s.
	BlockTimeout time.Duration
	// Logger receives read errors. Default: discarding.
	Logger *slog.Logger
}

// QueueEvents subscribes to a queue's events. Start it, register handlers
// with On, and Close it when done.
type QueueEvents struct {
	queue string
	drv   jobqdriver.Driver
	cfg   QueueEventsConfig

	mu       sync.Mutex
	handlers map[int]handler
	nextH    int
	cancel   context.CancelFunc
	done     chan struct{}
}

type handler struct {
	name string
	fn   func(Event)
}

// NewQueueEvents returns a subscriber for queue on backend.
func NewQueueEvents(queue string, backend Backend, cfg *QueueEventsConfig) *QueueEvents {
	e := &QueueEvents{queue: queue, drv: backend, handlers: map[int]handler{}}
	if cfg != nil {
		e.cfg = *cfg
	}
	if e.cfg.BlockTimeout <= 0 {
		e.cfg.BlockTimeout = time.Second
	}
	if e.cfg.Logger == nil {
		e.cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return e
}

// On registers fn for events named name ("" for all) and returns a
// function that unregisters it. Handlers run one at a time on the
// subscriber's goroutine and must not block for long.
func (e *QueueEvents) On(name string, fn func(Event)) (off func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	id := e.nextH
	e.nextH++
	e.handlers[id] = handler{name: name, fn: fn}
	return func() {
		e.mu.Lock()
		delete(e.handlers, id)
		e.mu.Unlock()
	}
}

// Start begins reading events. Events appended after Start returns are
// delivered.
func (e *QueueEvents) Start(ctx context.Context) error {
	from := e.cfg.LastEventID
	if from == "" {
		id, err := e.drv.LastEventID(ctx, e.queue)
		if err != nil {
			return fmt.Errorf("jobq: events of %s: %w", e.queue, err)
		}
		from = id
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e.mu.Lock()
	if e.cancel != nil {
		e.mu.Unlock()
		cancel()
		return fmt.Errorf("jobq: events of %s already started", e.queue)
	}
	e.cancel = cancel
	e.done = make(chan struct{})
	e.mu.Unlock()
	go e.loop(ctx, from)
	return nil
}

func (e *QueueEvents) loop(ctx context.Context, from string) {
	defer close(e.done)
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		evs, err := e.drv.ReadEvents(ctx, e.queue, from, 500, e.cfg.BlockTimeout)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			e.cfg.Logger.Warn("jobq: reading events", "queue", e.queue, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		for _, de := range evs {
			from = de.ID
			ev := Event{ID: de.ID, Name: de.Name, JobID: de.Fields["jobId"], Fields: de.Fields}
			e.dispatch(ev)
		}
	}
}

func (e *QueueEvents) dispatch(ev Event) {
	e.mu.Lock()
	hs := make([]handler, 0, len(e.handlers))
	for _, h := range e.handlers {
		if h.name == "" || h.name == ev.Name {
			hs = append(hs, h)
		}
	}
	e.mu.Unlock()
	for _, h := range hs {
		h.fn(ev)
	}
}

// Close stops reading and waits for the reader goroutine to end: it
// returns once any backend read in progress has been cancelled and the
// handler running, if any, has returned. When ctx ends first, Close
// returns ctx's error and the reader ends on its own once that handler
// returns. Close on a subscriber that was never started returns nil.
func (e *QueueEvents) Close(ctx context.Context) error {
	e.mu.Lock()
	cancel, done := e.cancel, e.done
	e.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("jobq: close events of %s: %w", e.queue, ctx.Err())
	}
}

// WaitUntilFinished waits until job completes or fails and returns its
// return value, or an error wrapping ErrJobFailed with the failure reason.
// The QueueEvents must be started.
func (e *QueueEvents) WaitUntilFinished(ctx context.Context, job *Job) (json.RawMessage, error) {
	type result struct {
		value  json.RawMessage
		reason string
		failed bool
	}
	ch := make(chan result, 1)
	send := func(r result) {
		select {
		case ch <- r:
		default:
		}
	}
	off := e.On("", func(ev Event) {
		if ev.JobID != job.ID {
			return
		}
		switch ev.Name {
		case EventCompleted:
			send(result{value: json.RawMessage(ev.Fields["returnvalue"])})
		case EventFailed:
			send(result{reason: ev.Fields["failedReason"], failed: true})
		}
	})
	defer off()
	// The job may have finished before the handler was registered.
	cur, err := e.drv.GetJob(ctx, job.Queue, job.ID)
	switch {
	case errors.Is(err, jobqdriver.ErrJobNotFound):
	case err != nil:
		return nil, fmt.Errorf("jobq: wait for job %s: %w", job.ID, err)
	default:
		state := cur.State
		if state == "" {
			if state, err = e.drv.JobState(ctx, job.Queue, job.ID); err != nil {
				return nil, fmt.Errorf("jobq: wait for job %s: %w", job.ID, err)
			}
		}
		switch state {
		case jobqdriver.StateCompleted:
			return cur.ReturnValue, nil
		case jobqdriver.StateFailed:
			return nil, fmt.Errorf("%w: job %s: %s", ErrJobFailed, job.ID, cur.FailedReason)
		}
	}
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("jobq: wait for job %s: %w", job.ID, ctx.Err())
	case r := <-ch:
		if r.failed {
			return nil, fmt.Errorf("%w: job %s: %s", ErrJobFailed, job.ID, r.reason)
		}
		return r.value, nil
	}
}
