package jobqredis

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// Auto-batching of single adds.
//
// Producers usually add one job per call from many goroutines. Each such
// Add used to be one EVALSHA round trip; Redis then spent most of its time
// per add on the call itself: reading and answering a small request,
// setting up the script's KEYS and ARGV, reading the queue's counter and
// pause state, and setting the wake-up marker. Instead, single adds go to
// a few batch runners owned by the driver: a runner takes whatever adds
// are queued when it is free (it never waits for more) and stores the
// adds of each queue with one addmany script call, which stores every job
// exactly as the add script would, in order, with the per-queue reads and
// writes done once per call (auto-batching at the script level, the way
// rueidis auto-pipelines commands at the command level). Each add keeps
// its own result and error. The runners start with the first single add
// and stop on Close.

const (
	addRunners  = 2       // batches in flight at most
	maxAddBatch = 256     // adds per batch (and per addmany call) at most
	maxAddBytes = 1 << 20 // argument bytes per addmany call, about
)

// addItem is one job to add: its queue and its 13 script arguments, and
// after the run its reply ({code, id, dedupBy}) or its own error.
type addItem struct {
	queue string
	args  []any
	reply []any
	err   error
}

// addReq is one caller's single add.
type addReq struct {
	ctx  context.Context
	item *addItem
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

// submitAdd runs item in a batch and waits for it (or for ctx, or Close).
func (d *Driver) submitAdd(ctx context.Context, item *addItem) error {
	b := &d.adds
	b.start.Do(func() {
		b.reqs = make(chan *addReq, maxAddBatch)
		b.stop = make(chan struct{})
		for range addRunners {
			b.wg.Add(1)
			go d.runAdds()
		}
	})
	r := &addReq{ctx: ctx, item: item, done: make(chan error, 1)}
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
	items := make([]*addItem, 0, maxAddBatch)
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
		items = items[:0]
		live := batch[:0:0]
		for _, r := range batch {
			// an add whose caller gave up before it was sent is not sent
			if err := r.ctx.Err(); err != nil {
				r.done <- err
				continue
			}
			items = append(items, r.item)
			live = append(live, r)
		}
		if len(items) == 0 {
			continue
		}
		ctx, cancel := batchContext(live)
		err := d.runAddItems(ctx, items)
		cancel()
		for _, r := range live {
			r.done <- err
		}
	}
}

// runAddItems stores items in one pipeline: the items of each queue, in
// their order, in addmany calls of at most maxAddBatch jobs and about
// maxAddBytes of arguments (an item alone in its call uses add). It
// returns an error when the pipeline failed as a whole; otherwise each
// item has its reply entry or its own error.
func (d *Driver) runAddItems(ctx context.Context, items []*addItem) error {
	type group struct {
		call  *pipedCall
		items []*addItem
		bytes int
	}
	var groups []*group
	open := map[string]*group{} // the queue's call being filled
	for _, it := range items {
		n := argBytes(it.args)
		g := open[it.queue]
		if g == nil || len(g.items) >= maxAddBatch || g.bytes+n > maxAddBytes {
			g = &group{}
			groups = append(groups, g)
			open[it.queue] = g
		}
		g.items = append(g.items, it)
		g.bytes += n
	}
	calls := make([]*pipedCall, len(groups))
	for i, g := range groups {
		q := g.items[0].queue
		if len(g.items) == 1 {
			g.call = &pipedCall{name: "add", queue: q, args: g.items[0].args}
		} else {
			g.call = &pipedCall{name: "addmany", queue: q, args: addManyArgv(g.items)}
		}
		calls[i] = g.call
	}
	if err := d.runPiped(ctx, calls); err != nil {
		return err
	}
	for _, g := range groups {
		// add replies {code, id, dedupBy}; addmany those three per job
		v, err := g.call.cmd.Slice()
		if err == nil && len(v) != 3*len(g.items) {
			err = fmt.Errorf("%s returned %d replies for %d jobs", g.call.name, len(v), len(g.items))
		}
		for i, it := range g.items {
			if err != nil {
				it.err = err
				continue
			}
			it.reply = v[3*i : 3*i+3]
		}
	}
	return nil
}

// argBytes is the size of a job's string arguments.
func argBytes(args []any) int {
	n := 0
	for _, a := range args {
		if s, ok := a.(string); ok {
			n += len(s)
		}
	}
	return n
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

// addManyArgv returns addmany.lua's ARGV from [2] for items (13 jobArgv
// entries each): the number of jobs, the number of profiles m, m
// profiles (name, opts, delay, priority, LIFO, repeat job key), then per
// job without parent or deduplication its profile's number, id,
// timestamp and data, and per other job "0" and its 13 entries. The jobs
// of a batch mostly share a profile, which then goes once per call: a
// script argument costs Redis an object and a Lua string each.
func addManyArgv(items []*addItem) []any {
	type profile struct{ name, opts, delay, prio, lifo, rjk any }
	var profs []profile
	index := map[profile]int{}
	jobs := make([]any, 0, 4*len(items))
	for _, it := range items {
		a := it.args
		if a[8] != "" || a[11] != "" { // parentKey, deduplication id
			jobs = append(append(jobs, "0"), a...)
			continue
		}
		p := profile{a[1], a[4], a[5], a[6], a[7], a[10]}
		n, ok := index[p]
		if !ok {
			n = len(profs) + 1
			index[p] = n
			profs = append(profs, p)
		}
		jobs = append(jobs, strconv.Itoa(n), a[0], a[2], a[3])
	}
	args := make([]any, 0, 2+6*len(profs)+len(jobs))
	args = append(args, strconv.Itoa(len(items)), strconv.Itoa(len(profs)))
	for _, p := range profs {
		args = append(args, p.name, p.opts, p.delay, p.prio, p.lifo, p.rjk)
	}
	return append(args, jobs...)
}
