package jobqsqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// SQLite primary result codes the writer retries on.
const (
	sqliteBusy   = 5
	sqliteLocked = 6
)

// isBusy reports whether err is SQLITE_BUSY or SQLITE_LOCKED.
func isBusy(err error) bool {
	var se interface{ Code() int }
	if errors.As(err, &se) {
		c := se.Code() & 0xff
		return c == sqliteBusy || c == sqliteLocked
	}
	return false
}

// wtx is one write transaction on the process's write connection, which
// may carry the operations of several callers (group commit, see
// writer.go). It caches queue rows, buffers events and remembers which
// queues to wake; everything is flushed just before COMMIT.
type wtx struct {
	d        *Driver
	ctx      context.Context // for statements: never cancelled (see writer.go)
	metas    map[string]*meta
	order    []string // queues in first-use order, for deterministic flushes
	events   []pendingEvent
	wakes    map[string]bool
	wakeList []string // keys of wakes in insertion order, for rollbacks
	after    []func() // run after a successful commit
	saved    []meta   // queue rows at the last mark (writer.go)
}

type pendingEvent struct {
	queue  string
	name   string
	fields []string // key, value, key, value...
}

// checkConn replaces the write connection when database/sql reports it
// dead (e.g. after a driver.ErrBadConn). Called by the writer goroutine.
func (d *Driver) checkConn(err error) {
	if !errors.Is(err, sql.ErrConnDone) {
		return
	}
	for _, s := range d.stmts {
		s.Close()
	}
	d.stmts = map[string]*sql.Stmt{}
	d.wconn.Close()
	d.wNoSync = false // a new connection starts in the configured mode
	c, cerr := d.wdb.Conn(context.Background())
	if cerr != nil {
		d.log.Error("jobqsqlite: reopen write connection", "err", cerr)
		return
	}
	d.wconn = c
}

// stmt returns the prepared statement for q on the write connection.
func (t *wtx) stmt(q string) (*sql.Stmt, error) {
	if s, ok := t.d.stmts[q]; ok {
		return s, nil
	}
	s, err := t.d.wconn.PrepareContext(t.ctx, q)
	if err != nil {
		return nil, fmt.Errorf("jobqsqlite: prepare: %w", err)
	}
	t.d.stmts[q] = s
	return s, nil
}

func (t *wtx) exec(q string, args ...any) (sql.Result, error) {
	s, err := t.stmt(q)
	if err != nil {
		return nil, err
	}
	r, err := s.ExecContext(t.ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("jobqsqlite: exec: %w", err)
	}
	return r, nil
}

// execN runs q and returns the number of rows it changed.
func (t *wtx) execN(q string, args ...any) (int64, error) {
	r, err := t.exec(q, args...)
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

func (t *wtx) query(q string, args ...any) (*sql.Rows, error) {
	s, err := t.stmt(q)
	if err != nil {
		return nil, err
	}
	rows, err := s.QueryContext(t.ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("jobqsqlite: query: %w", err)
	}
	return rows, nil
}

// row runs q and scans its first row into dest; found is false when q
// returned no row.
func (t *wtx) row(q string, args []any, dest ...any) (found bool, err error) {
	rows, err := t.query(q, args...)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return false, rows.Err()
	}
	if err := rows.Scan(dest...); err != nil {
		return false, fmt.Errorf("jobqsqlite: scan: %w", err)
	}
	return true, rows.Close()
}

// strings runs q and returns its single text column.
func (t *wtx) strings(q string, args ...any) ([]string, error) {
	rows, err := t.query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("jobqsqlite: scan: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// emit buffers an event for queue; fields are key/value pairs.
func (t *wtx) emit(queue, name string, fields ...string) {
	t.events = append(t.events, pendingEvent{queue: queue, name: name, fields: fields})
}

// wake records that queue may have new work (waiting, prioritized or a
// new delayed job), so waiters are woken after commit.
func (t *wtx) wake(queue string) error {
	m, err := t.meta(queue)
	if err != nil {
		return err
	}
	if t.wakes == nil {
		t.wakes = map[string]bool{}
	}
	if !t.wakes[queue] {
		t.wakes[queue] = true
		t.wakeList = append(t.wakeList, queue)
		m.wakeGen++
		m.dirty = true
	}
	return nil
}

// onCommit registers f to run after a successful commit.
func (t *wtx) onCommit(f func()) { t.after = append(t.after, f) }

// flush writes buffered events and dirty queue rows.
func (t *wtx) flush() error {
	if err := t.flushEvents(); err != nil {
		return err
	}
	for _, q := range t.order {
		if err := t.metas[q].save(t); err != nil {
			return err
		}
	}
	return nil
}

// afterCommit wakes waiters and event readers of the queues the
// transaction touched.
func (d *Driver) afterCommit(t *wtx) {
	d.knownMu.Lock()
	for _, q := range t.order {
		m := t.metas[q]
		d.known[q] = queueGen{wake: m.wakeGen, evt: m.evtSeq}
	}
	d.knownMu.Unlock()
	for q := range t.wakes {
		d.jobsN.bump(q)
	}
	for _, q := range t.order {
		if t.metas[q].evtSeq != t.metas[q].evtStart {
			d.evtsN.bump(q)
		}
	}
	for _, f := range t.after {
		f()
	}
}
