package jobqsqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// Group commit.
//
// Every write of this process goes through one writer goroutine, which
// owns the write connection. A caller submits its operation (a closure
// over *wtx) and waits. The writer takes everything queued at that moment
// (at most maxBatchOps operations; it never waits for more work), runs
// BEGIN IMMEDIATE, runs each operation inside its own SAVEPOINT, so that
// an operation's error rolls back only that operation, and then flushes
// the buffered events and queue rows and COMMITs once: one fsync for the
// whole batch. Only then are waiters woken and callers released, each
// with its own result, or all with the error when the commit fails. So a
// write is durable when it returns, as before, but concurrent writers
// (several workers' Fetch and Finish, producers' Add) share a commit.
//
// Under synchronous=FULL, operations submitted with writeNoSync (Fetch,
// ExtendLocks) are the exception: a batch of them alone commits at
// synchronous=NORMAL, without an fsync, and a batch that mixes them with
// other operations runs as two transactions, the no-sync ones first (see
// runSplit, and "Durability" in the package doc for why this is safe).
//
// When the batch has to be retried (SQLITE_BUSY from another process),
// every operation runs again from scratch in a new transaction, so an
// operation must be a function of the database state and its arguments
// only: it resets whatever results it writes and never keeps state from a
// previous run (Add restores the jobs it writes generated ids into).
// Results are read only after the successful attempt.
//
// Statements run under a context that is never cancelled: interrupting a
// statement can roll back the whole transaction, and with it the other
// callers' operations. A caller's context is checked before its
// operation starts; an operation whose context has ended by then is not
// run and returns the context's error.

// A transaction carries at most maxBatchOps operations and, beyond its
// first operation, at most maxBatchWeight items (jobs added or finished):
// a huge batch would not save more fsyncs, only delay its callers.
const (
	maxBatchOps    = 128
	maxBatchWeight = 4096
)

// maxBusyRetries bounds the retries of a batch on SQLITE_BUSY, each after
// the busy timeout.
const maxBusyRetries = 20

// writeOp is one caller's operation.
type writeOp struct {
	ctx      context.Context
	weight   int  // items the op handles, for maxBatchWeight
	noSync   bool // the op may commit without an fsync (see writeNoSync)
	fn       func(t *wtx) error
	err      error
	panicked any // a panic raised by fn, re-raised in the caller
	done     chan struct{}
}

func (o *writeOp) finish(err error) {
	o.err = err
	close(o.done)
}

// writeQueue is what callers hand to the writer goroutine.
type writeQueue struct {
	mu      sync.Mutex
	ops     []*writeOp
	stopped bool
	kick    chan struct{} // capacity 1: work was queued
	exited  chan struct{} // closed when the writer goroutine returns
}

// startWriter starts the writer goroutine.
func (d *Driver) startWriter() {
	d.wq.kick = make(chan struct{}, 1)
	d.wq.exited = make(chan struct{})
	go d.writeLoop()
}

// stopWriter fails the queued operations with ErrClosed, lets the batch
// in progress finish and waits for the writer goroutine to return.
func (d *Driver) stopWriter() {
	q := &d.wq
	q.mu.Lock()
	q.stopped = true
	pending := q.ops
	q.ops = nil
	q.mu.Unlock()
	for _, o := range pending {
		o.finish(jobqdriver.ErrClosed)
	}
	select {
	case q.kick <- struct{}{}:
	default:
	}
	<-q.exited
}

// write runs fn in a write transaction of the writer goroutine, possibly
// shared with other callers' operations, and returns once that
// transaction has committed (or fn failed and was rolled back).
func (d *Driver) write(ctx context.Context, fn func(t *wtx) error) error {
	return d.writeN(ctx, 1, fn)
}

// writeN is write for an operation that handles n items.
func (d *Driver) writeN(ctx context.Context, n int, fn func(t *wtx) error) error {
	return d.submit(ctx, &writeOp{ctx: ctx, weight: max(n, 1), fn: fn, done: make(chan struct{})})
}

// writeNoSync is writeN for an operation whose loss in a power failure
// or OS crash is harmless (see "Durability" in the package doc): a batch
// made only of such operations commits with synchronous=NORMAL, so
// without an fsync, even when Config.Synchronous is FULL. It is as
// durable as any other write against a process crash.
func (d *Driver) writeNoSync(ctx context.Context, n int, fn func(t *wtx) error) error {
	return d.submit(ctx, &writeOp{ctx: ctx, weight: max(n, 1), noSync: true, fn: fn, done: make(chan struct{})})
}

// submit queues o for the writer goroutine and waits for its result.
func (d *Driver) submit(ctx context.Context, o *writeOp) error {
	if d.closed.Load() {
		return jobqdriver.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	q := &d.wq
	q.mu.Lock()
	if q.stopped {
		q.mu.Unlock()
		return jobqdriver.ErrClosed
	}
	q.ops = append(q.ops, o)
	q.mu.Unlock()
	select {
	case q.kick <- struct{}{}:
	default:
	}
	<-o.done
	if o.panicked != nil {
		panic(o.panicked)
	}
	return o.err
}

// writeLoop is the writer goroutine.
func (d *Driver) writeLoop() {
	q := &d.wq
	defer close(q.exited)
	defer func() {
		if d.ws != nil {
			d.ws.stop()
		}
	}()
	var batch []*writeOp
	for range q.kick {
		for {
			q.mu.Lock()
			n, weight := 0, 0
			for n < len(q.ops) && n < maxBatchOps && (n == 0 || weight+q.ops[n].weight <= maxBatchWeight) {
				weight += q.ops[n].weight
				n++
			}
			batch = append(batch[:0], q.ops[:n]...)
			rest := copy(q.ops, q.ops[n:])
			clear(q.ops[rest:])
			q.ops = q.ops[:rest]
			stopped := q.stopped
			q.mu.Unlock()
			if n == 0 {
				if stopped {
					return
				}
				break
			}
			d.runSplit(batch)
			clear(batch)
		}
	}
}

// runSplit runs a batch that mixes no-sync and other operations as two
// transactions when the configured mode is FULL: the no-sync ones first,
// committed without an fsync, so that their callers (workers' fetches)
// do not wait for the other ones' fsync, then the others. Every
// operation of the batch was pending at once, so running the no-sync
// ones first is as valid an order as the queue's.
func (d *Driver) runSplit(ops []*writeOp) {
	if d.cfg.Synchronous != "FULL" || d.ws != nil {
		d.runBatch(ops)
		return
	}
	noSync, n := make([]*writeOp, 0, len(ops)), 0
	for _, o := range ops {
		if o.noSync {
			noSync = append(noSync, o)
		} else {
			ops[n] = o
			n++
		}
	}
	if len(noSync) > 0 {
		d.runBatch(noSync)
	}
	if n > 0 {
		d.runBatch(ops[:n])
	}
}

// runBatch runs ops in one transaction, retrying it while the database is
// busy, and releases every caller.
func (d *Driver) runBatch(ops []*writeOp) {
	live := ops[:0:0]
	for _, o := range ops {
		if err := o.ctx.Err(); err != nil {
			o.finish(err)
			continue
		}
		live = append(live, o)
	}
	if d.ws != nil {
		if err := d.ws.err(); err != nil {
			finishAll(live, err)
			return
		}
	}
	for attempt := 0; len(live) > 0; {
		if d.closed.Load() {
			finishAll(live, jobqdriver.ErrClosed)
			return
		}
		t, committed, poisoned, err := d.runAttempt(live)
		switch {
		case err == nil:
			ws := d.ws // nil: this commit ran SQLite's own fsync
			if committed {
				d.afterCommit(t)
				if !d.wsTried {
					d.trySync()
				}
			}
			if committed && ws != nil {
				// Committed without an fsync: the syncer releases the
				// callers that need one (walsync.go).
				ws.release(live)
			} else {
				for _, o := range live {
					o.finish(o.err)
				}
			}
			return
		case poisoned >= 0:
			// The operation's error left no transaction to roll back to:
			// it fails alone, the others run again.
			o := live[poisoned]
			live = slices.Delete(live, poisoned, poisoned+1)
			o.finish(o.err)
		case isBusy(err) && attempt < maxBusyRetries:
			backoff := time.Duration(1<<min(attempt, 6))*time.Millisecond + rand.N(time.Millisecond)
			d.log.Debug("jobqsqlite: database busy, retrying", "attempt", attempt+1, "ops", len(live), "backoff", backoff)
			select {
			case <-d.closing:
			case <-time.After(backoff):
			}
			attempt++
			kept := live[:0]
			for _, o := range live {
				if o.ctx.Err() != nil {
					o.finish(err)
					continue
				}
				kept = append(kept, o)
			}
			live = kept
		default:
			finishAll(live, err)
			return
		}
	}
}

func finishAll(ops []*writeOp, err error) {
	for _, o := range ops {
		o.finish(err)
	}
}

// fatal reports whether an operation's error ends the whole transaction.
func fatal(err error) bool { return isBusy(err) || errors.Is(err, sql.ErrConnDone) }

// runAttempt runs ops in one transaction. Each op's own error is left in
// op.err. err is an error of the transaction itself (every op gets it,
// or the batch is retried when it is busy); poisoned >= 0 names an op
// whose error could not be rolled back alone (err is then its error).
// committed is false when nothing was committed (a single op failed).
func (d *Driver) runAttempt(ops []*writeOp) (t *wtx, committed bool, poisoned int, err error) {
	t = &wtx{d: d, ctx: context.Background()}
	noSync := d.cfg.Synchronous == "FULL"
	for _, o := range ops {
		noSync = noSync && o.noSync
	}
	noSync = noSync || d.ws != nil
	if err := d.setNoSync(t, noSync); err != nil {
		return t, false, -1, err
	}
	if _, err := t.exec("BEGIN IMMEDIATE"); err != nil {
		d.checkConn(err)
		return t, false, -1, fmt.Errorf("jobqsqlite: begin: %w", err)
	}
	rollback := func(cause error) {
		d.checkConn(cause)
		if _, rerr := d.wconn.ExecContext(context.Background(), "ROLLBACK"); rerr != nil {
			d.checkConn(rerr)
		}
	}
	if len(ops) == 1 {
		// No savepoint needed: the transaction is the op's.
		o := ops[0]
		if ferr := runOp(t, o); ferr != nil {
			rollback(ferr)
			if fatal(ferr) && o.panicked == nil {
				return t, false, -1, ferr
			}
			o.err = ferr
			return t, false, -1, nil
		}
	} else {
		for i, o := range ops {
			mk := t.mark()
			if _, err := t.exec("SAVEPOINT op"); err != nil {
				rollback(err)
				return t, false, -1, err
			}
			ferr := runOp(t, o)
			if ferr != nil && fatal(ferr) && o.panicked == nil {
				rollback(ferr)
				return t, false, -1, ferr
			}
			if ferr != nil {
				o.err = ferr
				if _, err := t.exec("ROLLBACK TO op"); err != nil {
					rollback(err)
					return t, false, i, ferr
				}
				t.restore(mk)
			}
			if _, err := t.exec("RELEASE op"); err != nil {
				rollback(err)
				if ferr != nil {
					return t, false, i, ferr
				}
				return t, false, -1, err
			}
		}
	}
	if err := t.flush(); err != nil {
		rollback(err)
		return t, false, -1, err
	}
	if d.beforeCommit != nil {
		if err := d.beforeCommit(); err != nil {
			rollback(err)
			return t, false, -1, err
		}
	}
	if _, err := t.exec("COMMIT"); err != nil {
		rollback(err)
		return t, false, -1, fmt.Errorf("jobqsqlite: commit: %w", err)
	}
	d.commits.Add(1)
	d.committedOps.Add(int64(len(ops)))
	if noSync {
		d.noSyncCommits.Add(1)
	}
	return t, true, -1, nil
}

// trySync starts the pipelined fsync (walsync.go) after the first
// commit, which created the WAL file, when the mode is FULL. If the WAL
// file cannot be opened, commits keep SQLite's fsync inside COMMIT.
func (d *Driver) trySync() {
	d.wsTried = true
	if d.cfg.Synchronous != "FULL" || d.cfg.inlineSync {
		return
	}
	ws, err := d.startSync(d.dbPath)
	if err != nil {
		d.log.Warn("jobqsqlite: commits fsync inline", "err", err)
		return
	}
	d.ws = ws
}

// setNoSync switches the write connection to synchronous=NORMAL for a
// batch that may skip the fsync (on), or back to the configured mode.
// PRAGMA synchronous applies to the connection's next commits; it is set
// between transactions, never inside one. d.wNoSync remembers the mode,
// so the pragma runs only when the mode changes.
func (d *Driver) setNoSync(t *wtx, on bool) error {
	if on == d.wNoSync {
		return nil
	}
	mode := d.cfg.Synchronous
	if on {
		mode = "NORMAL"
	}
	if _, err := t.exec("PRAGMA synchronous = " + mode); err != nil {
		d.checkConn(err)
		return fmt.Errorf("jobqsqlite: synchronous %s: %w", mode, err)
	}
	d.wNoSync = on
	return nil
}

// runOp runs one op, turning a panic into an error (re-raised in the
// caller by write).
func runOp(t *wtx, o *writeOp) (err error) {
	o.err, o.panicked = nil, nil
	defer func() {
		if r := recover(); r != nil {
			o.panicked = r
			err = fmt.Errorf("jobqsqlite: panic in write: %v\n%s", r, debug.Stack())
		}
	}()
	return o.fn(t)
}

// txMark is the in-memory state of a transaction before an op, restored
// when the op is rolled back to its savepoint.
type txMark struct {
	metas  int // len(t.saved) at the mark
	events []pendingEvent
	wakes  int
	after  int
}

// mark records the in-memory state before an op.
func (t *wtx) mark() txMark {
	t.saved = t.saved[:0]
	for _, q := range t.order {
		t.saved = append(t.saved, *t.metas[q])
	}
	return txMark{metas: len(t.saved), events: t.events, wakes: len(t.wakeList), after: len(t.after)}
}

// restore puts back the state recorded by mark.
func (t *wtx) restore(mk txMark) {
	clear(t.metas)
	t.order = t.order[:0]
	for _, m := range t.saved[:mk.metas] {
		mp := new(meta)
		*mp = m
		t.metas[m.queue] = mp
		t.order = append(t.order, m.queue)
	}
	t.events = mk.events
	for _, q := range t.wakeList[mk.wakes:] {
		delete(t.wakes, q)
	}
	t.wakeList = t.wakeList[:mk.wakes]
	t.after = t.after[:mk.after]
}

// forget drops the cached row of queue (after the op deleted it).
func (t *wtx) forget(queue string) {
	if _, ok := t.metas[queue]; !ok {
		return
	}
	delete(t.metas, queue)
	t.order = slices.DeleteFunc(t.order, func(q string) bool { return q == queue })
}
