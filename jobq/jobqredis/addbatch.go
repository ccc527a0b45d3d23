package jobqredis

import (
	"context"
	"sync"
	"time"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// Auto-batching of single adds.
//
// Producers usually add one job per call from many goroutines. Each such
// Add used to be one EVALSHA round trip on a connection of its own; Redis
// then spends much of its time per add reading and answering one small
// request. Instead, single adds go to a few batch runners owned by the
// driver: a runner takes whatever adds are queued when it is free (it
// never waits for more) and sends them as one pipeline, so concurrent
// adds share a write and a read on the server, the way rueidis
// auto-pipelines commands. Each add is still its own script call, with its
// own result and error. The runners start with the first single add and
// stop on Close.

const (
	addRunners  = 4   // pipelines in flight at most
	maxAddBatch = 256 // adds per pipeline at most
)

// addReq is one caller's single add.
type addReq struct {
	ctx  context.Context
	call *pipedCall
	done chan error
}

// addBatcher is the driver's queue of single adds and its runners.
type addBatcher struct {
	start  sync.Once
	mu     sync.RWMutex // held (read) while sending to reqs; Close takes it to set closed
	closed bool
	reqs   chan *addReq
	stop   chan struct{}
	wg     sync.WaitGroup
}

// submitAdd runs call in a batch and waits for it (or for ctx, or Close).
func (d *Driver) submitAdd(ctx context.Context, call *pipedCall) error {
	b := &d.adds
	b.start.Do(func() {
		b.reqs = make(chan *addReq, maxAddBatch)
		b.stop = make(chan struct{})
		for range addRunners {
			b.wg.Add(1)
			go d.runAdds()
		}
	})
	r := &addReq{ctx: ctx, call: call, done: make(chan error, 1)}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return jobqdriver.ErrClosed
	}
	select {
	case b.reqs <- r:
	case <-ctx.Done():
		b.mu.RUnlock()
		return ctx.Err()
	}
	b.mu.RUnlock()
	// Every queued request is answered, by a runner or by closeAdds (done
	// is buffered, so nobody blocks on a caller that left). A caller whose
	// context ends first returns at once, as with any Redis command that
	// timed out: the add may still have landed (its job id decides).
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// runAdds is one runner: it takes the queued adds and pipelines them.
func (d *Driver) runAdds() {
	b := &d.adds
	defer b.wg.Done()
	batch := make([]*addReq, 0, maxAddBatch)
	calls := make([]*pipedCall, 0, maxAddBatch)
	for {
		var first *addReq
		select {
		case first = <-b.reqs:
		case <-b.stop:
			return
		}
		batch = append(batch[:0], first)
	more:
		for len(batch) < maxAddBatch {
			select {
			case r := <-b.reqs:
				batch = append(batch, r)
			default:
				break more
			}
		}
		calls = calls[:0]
		live := batch[:0:0]
		for _, r := range batch {
			// an add whose caller gave up before it was sent is not sent
			if err := r.ctx.Err(); err != nil {
				r.done <- err
				continue
			}
			calls = append(calls, r.call)
			live = append(live, r)
		}
		if len(calls) == 0 {
			continue
		}
		ctx, cancel := batchContext(live)
		err := d.runPiped(ctx, calls)
		cancel()
		for _, r := range live {
			r.done <- err
		}
	}
}

// closeAdds stops the runners after their batches in flight.
func (d *Driver) closeAdds() {
	b := &d.adds
	b.start.Do(func() {}) // never started: nothing to stop
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	if b.stop == nil {
		return
	}
	close(b.stop)
	b.wg.Wait()
	for {
		select {
		case r := <-b.reqs:
			r.done <- jobqdriver.ErrClosed
		default:
			return
		}
	}
}

// batchContext bounds a batch's round trip by its callers' deadlines: the
// latest of them, or none when any caller has none. A stalled Redis then
// holds a runner no longer than its last caller waits.
func batchContext(batch []*addReq) (context.Context, context.CancelFunc) {
	var latest time.Time
	for _, r := range batch {
		d, ok := r.ctx.Deadline()
		if !ok {
			return context.WithCancel(context.Background())
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(context.Background(), latest)
}
