package jobqsqlite

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// queueGen is what the poller compares to notice other processes' work.
type queueGen struct {
	wake int64 // queues.wake_gen
	evt  int64 // queues.evt_seq
}

// notifier is a per-queue broadcast: bump closes the queue's current
// channel and bumps its generation.
type notifier struct {
	mu sync.Mutex
	m  map[string]*gate
}

type gate struct {
	gen uint64
	ch  chan struct{}
}

func newNotifier() *notifier { return &notifier{m: map[string]*gate{}} }

func (n *notifier) gate(queue string) *gate {
	g, ok := n.m[queue]
	if !ok {
		g = &gate{ch: make(chan struct{})}
		n.m[queue] = g
	}
	return g
}

// watch returns the queue's generation and a channel closed on the next
// bump.
func (n *notifier) watch(queue string) (uint64, <-chan struct{}) {
	n.mu.Lock()
	defer n.mu.Unlock()
	g := n.gate(queue)
	return g.gen, g.ch
}

func (n *notifier) bump(queue string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	g := n.gate(queue)
	g.gen++
	close(g.ch)
	g.ch = make(chan struct{})
}

// block waits until n bumps queue past gen, timeout passes, ctx ends or
// the driver closes.
func (d *Driver) block(ctx context.Context, n *notifier, queue string, gen uint64, timeout time.Duration) error {
	cur, ch := n.watch(queue)
	if cur != gen || timeout <= 0 {
		return nil
	}
	d.watchers.Add(1)
	defer d.watchers.Add(-1)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-ch:
		return nil
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-d.closing:
		return jobqdriver.ErrClosed
	}
}

// poll watches the file for commits by other connections (PRAGMA
// data_version) while someone is blocked, and bumps the notifiers of the
// queues whose counters changed.
func (d *Driver) poll(ctx context.Context, conn *sql.Conn) {
	defer close(d.pollDone)
	defer conn.Close()
	ticker := time.NewTicker(d.cfg.PollInterval)
	defer ticker.Stop()
	var lastVersion int64 = -1
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		if d.watchers.Load() == 0 {
			continue
		}
		var v int64
		if err := conn.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil {
			if ctx.Err() == nil {
				d.log.Warn("jobqsqlite: poll data_version", "err", err)
			}
			continue
		}
		if v == lastVersion {
			continue
		}
		lastVersion = v
		if err := d.pollQueues(ctx, conn); err != nil && ctx.Err() == nil {
			d.log.Warn("jobqsqlite: poll queues", "err", err)
		}
	}
}

func (d *Driver) pollQueues(ctx context.Context, conn *sql.Conn) error {
	rows, err := conn.QueryContext(ctx, `SELECT queue, wake_gen, evt_seq FROM queues`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var wakes, evts []string
	d.knownMu.Lock()
	for rows.Next() {
		var q string
		var g queueGen
		if err := rows.Scan(&q, &g.wake, &g.evt); err != nil {
			d.knownMu.Unlock()
			return err
		}
		k := d.known[q]
		if k.wake != g.wake {
			wakes = append(wakes, q)
		}
		if k.evt != g.evt {
			evts = append(evts, q)
		}
		d.known[q] = g
	}
	d.knownMu.Unlock()
	for _, q := range wakes {
		d.jobsN.bump(q)
	}
	for _, q := range evts {
		d.evtsN.bump(q)
	}
	return rows.Err()
}

// waiter implements jobqdriver.Waiter.
type waiter struct {
	d      *Driver
	queue  string
	seen   uint64
	closed atomic.Bool
}

// NewWaiter returns a waiter for queue. Its Wait returns as soon as work
// is committed for the queue by this process, within about PollInterval
// when another process commits it, and at the latest after the timeout.
func (d *Driver) NewWaiter(ctx context.Context, queue, workerName string) (jobqdriver.Waiter, error) {
	if d.closed.Load() {
		return nil, jobqdriver.ErrClosed
	}
	gen, _ := d.jobsN.watch(queue)
	return &waiter{d: d, queue: queue, seen: gen}, nil
}

// Wait blocks until the queue may have work or timeout passes. Work
// committed since the previous Wait returned makes it return at once.
func (w *waiter) Wait(ctx context.Context, timeout time.Duration) error {
	if w.closed.Load() || w.d.closed.Load() {
		return jobqdriver.ErrClosed
	}
	err := w.d.block(ctx, w.d.jobsN, w.queue, w.seen, timeout)
	w.seen, _ = w.d.jobsN.watch(w.queue)
	return err
}

// Close releases the waiter.
func (w *waiter) Close() error {
	w.closed.Store(true)
	return nil
}
