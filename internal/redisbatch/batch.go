// Package redisbatch sends the Redis commands of concurrent callers in
// shared pipelines (auto-pipelining): one goroutine takes every command
// waiting in a bounded queue, sends them in one round trip and hands each
// caller its reply. Under concurrent load a request then costs a share of
// a round trip instead of one of its own (fewer system calls in the client
// and in Redis); alone, a command waits for at most the round trip in
// flight before its own.
package redisbatch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults of [Config].
const (
	DefaultQueue    = 4096
	DefaultMaxBatch = 1024
	DefaultTimeout  = 100 * time.Millisecond
)

// ErrClosed is returned by Do after Close; the caller may send the
// command itself.
var ErrClosed = errors.New("redisbatch: closed")

// Config configures a [Batcher].
type Config struct {
	// Queue is how many commands may wait for a round trip; default
	// DefaultQueue (4096). A command that finds the queue full waits for
	// room until its context ends.
	Queue int
	// MaxBatch is the most commands one round trip carries; default
	// DefaultMaxBatch (1024).
	MaxBatch int
	// Timeout bounds one round trip; default DefaultTimeout (100 ms). It
	// applies through the pipeline's context, so give the client
	// ContextTimeoutEnabled (or read/write timeouts of its own).
	Timeout time.Duration
}

// Batcher pipelines the commands of concurrent callers. Its goroutine
// starts with the first command and stops at Close. Safe for concurrent
// use.
type Batcher struct {
	client   redis.Cmdable
	timeout  time.Duration
	maxBatch int

	queue     chan *request
	startOnce sync.Once
	mu        sync.RWMutex // closed, and sends to queue
	closed    bool
	done      chan struct{} // closed when the goroutine has returned

	cmds, trips atomic.Int64
}

// request is one command waiting for its round trip.
type request struct {
	cmd      redis.Cmder
	deadline time.Time  // zero: none
	done     chan error // buffered, receives one outcome
}

// New returns a batcher sending through client (which the caller owns).
func New(client redis.Cmdable, cfg Config) *Batcher {
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultQueue
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	return &Batcher{client: client, timeout: cfg.Timeout, maxBatch: cfg.MaxBatch,
		queue: make(chan *request, cfg.Queue), done: make(chan struct{})}
}

// Do queues cmd for the next round trip and waits until its reply is in
// cmd (read it with cmd's Result once Do returns nil or a Redis error), or
// until ctx ends. A command whose ctx deadline passed while it was queued
// is not sent; one sent in a round trip that its caller stopped waiting
// for may still run in Redis. After ctx ends the caller must not read cmd.
// Do returns ErrClosed after Close.
func (b *Batcher) Do(ctx context.Context, cmd redis.Cmder) error {
	b.startOnce.Do(func() { go b.run() })
	deadline, _ := ctx.Deadline()
	r := &request{cmd: cmd, deadline: deadline, done: make(chan error, 1)}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return ErrClosed
	}
	select {
	case b.queue <- r:
		b.mu.RUnlock()
	case <-ctx.Done():
		b.mu.RUnlock()
		return fmt.Errorf("redisbatch: queue full: %w", ctx.Err())
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats returns how many commands the batcher sent and in how many round
// trips.
func (b *Batcher) Stats() (cmds, roundTrips int64) { return b.cmds.Load(), b.trips.Load() }

// run is the batcher's goroutine.
func (b *Batcher) run() {
	defer close(b.done)
	batch := make([]*request, 0, b.maxBatch)
	for r := range b.queue {
		batch = append(batch[:0], r)
	fill:
		for len(batch) < b.maxBatch {
			select {
			case r, ok := <-b.queue:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		b.send(batch)
		clear(batch)
	}
}

// send runs one round trip with the batch's commands whose deadline has
// not passed.
func (b *Batcher) send(batch []*request) {
	now := time.Now()
	live := batch[:0:0]
	for _, r := range batch {
		if !r.deadline.IsZero() && !now.Before(r.deadline) {
			r.done <- context.DeadlineExceeded // not sent
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	_, err := b.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, r := range live {
			_ = p.Process(ctx, r.cmd) // queued; the reply comes with Exec
		}
		return nil
	})
	b.trips.Add(1)
	b.cmds.Add(int64(len(live)))
	for _, r := range live {
		e := r.cmd.Err()
		if e == nil && err != nil && !errors.Is(err, redis.Nil) {
			e = err
		}
		r.done <- e
	}
}

// Close stops taking commands, sends those queued and waits for the
// goroutine, or for ctx.
func (b *Batcher) Close(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	close(b.queue)
	b.mu.Unlock()
	started := true
	b.startOnce.Do(func() { started = false; close(b.done) })
	if !started {
		return nil
	}
	select {
	case <-b.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("redisbatch: close: %w", ctx.Err())
	}
}
