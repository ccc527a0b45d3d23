package views

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults of the RedisBuffer's batcher.
const (
	// DefaultBatchQueue is how many views may wait for the batcher.
	DefaultBatchQueue = 4096
	// DefaultMaxBatch is the most views one round trip carries.
	DefaultMaxBatch = 1024
)

// errBatcherClosed is returned to a view the batcher refused because it
// was closing; RedisBuffer.Incr then sends the view itself.
var errBatcherClosed = errors.New("views buffer batcher closed")

// incrBatcher coalesces the single-field views of concurrent requests into
// pipelined round trips (auto-pipelining): one goroutine takes every view
// waiting in a bounded queue, adds them up per (key, field), sends one
// HINCRBY per pair in one pipeline and tells each caller the outcome. A
// caller waits at most until its own deadline: a view whose deadline
// passed before it was sent is not sent (the caller counted it dropped); a
// view sent in a round trip that its caller stopped waiting for may still
// reach Redis (so a drop count is an upper bound, as without batching).
//
// The goroutine starts with the first view and stops at Close, which
// finishes the views already queued.
type incrBatcher struct {
	client   redis.Cmdable
	timeout  time.Duration
	maxBatch int

	queue     chan *incrReq
	startOnce sync.Once
	mu        sync.RWMutex // closed and sends to queue
	closed    bool
	done      chan struct{} // closed when the goroutine has returned

	views, trips atomic.Int64
}

// incrReq is one view waiting for the batcher.
type incrReq struct {
	key, field string
	deadline   time.Time
	done       chan error // buffered, receives one outcome
}

func newIncrBatcher(client redis.Cmdable, timeout time.Duration, queue, maxBatch int) *incrBatcher {
	return &incrBatcher{client: client, timeout: timeout, maxBatch: maxBatch,
		queue: make(chan *incrReq, queue), done: make(chan struct{})}
}

// incr queues one HINCRBY key field 1 and waits for its round trip, or
// for ctx to end (the view then counts as dropped).
func (b *incrBatcher) incr(ctx context.Context, key, field string) error {
	b.startOnce.Do(func() { go b.run() })
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(b.timeout)
	}
	r := &incrReq{key: key, field: field, deadline: deadline, done: make(chan error, 1)}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return errBatcherClosed
	}
	select {
	case b.queue <- r:
		b.mu.RUnlock()
	case <-ctx.Done():
		b.mu.RUnlock()
		return fmt.Errorf("queue full: %w", ctx.Err())
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run is the batcher's goroutine.
func (b *incrBatcher) run() {
	defer close(b.done)
	batch := make([]*incrReq, 0, b.maxBatch)
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

// pair is one (key, field) of a batch and the views that add to it.
type pair struct{ key, field string }

// send runs one batch: one pipeline of HINCRBY key field n per distinct
// pair among the views whose deadline has not passed.
func (b *incrBatcher) send(batch []*incrReq) {
	now := time.Now()
	sums := make(map[pair][]*incrReq, 16)
	order := make([]pair, 0, 16)
	for _, r := range batch {
		if !now.Before(r.deadline) {
			r.done <- context.DeadlineExceeded // not sent: dropped exactly
			continue
		}
		p := pair{r.key, r.field}
		if sums[p] == nil {
			order = append(order, p)
		}
		sums[p] = append(sums[p], r)
	}
	if len(order) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	cmds := make([]*redis.IntCmd, len(order))
	_, err := b.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, pr := range order {
			cmds[i] = p.HIncrBy(ctx, pr.key, pr.field, int64(len(sums[pr])))
		}
		return nil
	})
	b.trips.Add(1)
	for i, pr := range order {
		e := err
		if e == nil {
			e = cmds[i].Err()
		}
		for _, r := range sums[pr] {
			r.done <- e
		}
		if e == nil {
			b.views.Add(int64(len(sums[pr])))
		}
	}
}

// close stops taking views, sends those queued, and waits for the
// goroutine (or ctx).
func (b *incrBatcher) close(ctx context.Context) error {
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
		return fmt.Errorf("close views buffer batcher: %w", ctx.Err())
	}
}
