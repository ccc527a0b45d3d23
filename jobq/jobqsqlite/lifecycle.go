package jobqsqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// deferredStalledFailure is the deferred failure set on jobs that stalled
// more than MaxStalledCount times (BullMQ's message).
const deferredStalledFailure = "job stalled more than allowable limit"

// lockedJob checks that id is active and locked by token, returning its
// priority.
func (t *wtx) lockedJob(queue, id, token string) (priority int, err error) {
	var state, lock string
	found, err := t.row(`SELECT state, lock_token, priority FROM jobs WHERE queue = ? AND id = ?`,
		[]any{queue, id}, &state, &lock, &priority)
	if err != nil {
		return 0, err
	}
	if !found {
		return 0, fmt.Errorf("jobqsqlite: job %s: %w", id, jobqdriver.ErrJobNotFound)
	}
	if state != jobqdriver.StateActive || lock != token {
		return 0, fmt.Errorf("jobqsqlite: job %s: %w", id, jobqdriver.ErrLockMismatch)
	}
	return priority, nil
}

// Retry moves an active job back for another attempt: to delayed at
// Now+Delay, else to the front of waiting (prioritized jobs to their
// priority). It counts the attempt and records the failure.
func (d *Driver) Retry(ctx context.Context, p jobqdriver.RetryParams) error {
	return d.write(ctx, func(t *wtx) error {
		prio, err := t.lockedJob(p.Queue, p.ID, p.Token)
		if err != nil {
			return err
		}
		m, err := t.meta(p.Queue)
		if err != nil {
			return err
		}
		st, err := stacktraceJSON(p.Stacktrace)
		if err != nil {
			return err
		}
		var state string
		var score, ord int64
		if p.Delay > 0 {
			state, score, ord = jobqdriver.StateDelayed, p.Now+p.Delay, m.nextSeq()
		} else {
			state, score, ord = readyPlace(m, prio, prio == 0)
		}
		if _, err := t.exec(`UPDATE jobs SET state = ?, score = ?, ord = ?, atm = atm + 1, failed_reason = ?, stacktrace = ?,
			lock_token = '', lock_until = 0, stalled = 0 WHERE queue = ? AND id = ?`,
			state, score, ord, p.FailedReason, st, p.Queue, p.ID); err != nil {
			return err
		}
		t.emitReady(p.Queue, p.ID, state, score, jobqdriver.StateFailed)
		return t.wake(p.Queue)
	})
}

// MoveToDelayed moves an active job to delayed until untilMs without
// counting an attempt.
func (d *Driver) MoveToDelayed(ctx context.Context, queue, id, token string, untilMs, now int64) error {
	return d.write(ctx, func(t *wtx) error {
		if _, err := t.lockedJob(queue, id, token); err != nil {
			return err
		}
		m, err := t.meta(queue)
		if err != nil {
			return err
		}
		if _, err := t.exec(`UPDATE jobs SET state = 'delayed', score = ?, ord = ?, lock_token = '', lock_until = 0,
			stalled = 0 WHERE queue = ? AND id = ?`, untilMs, m.nextSeq(), queue, id); err != nil {
			return err
		}
		t.emitReady(queue, id, jobqdriver.StateDelayed, untilMs, "")
		return t.wake(queue)
	})
}

// Release moves an active job back to the front of waiting (or of its
// priority) without counting an attempt.
func (d *Driver) Release(ctx context.Context, queue, id, token string, now int64) error {
	return d.write(ctx, func(t *wtx) error {
		prio, err := t.lockedJob(queue, id, token)
		if err != nil {
			return err
		}
		m, err := t.meta(queue)
		if err != nil {
			return err
		}
		state, score, ord := readyPlace(m, prio, true)
		if _, err := t.exec(`UPDATE jobs SET state = ?, score = ?, ord = ?, lock_token = '', lock_until = 0, stalled = 0
			WHERE queue = ? AND id = ?`, state, score, ord, queue, id); err != nil {
			return err
		}
		t.emitReady(queue, id, state, score, jobqdriver.StateActive)
		return t.wake(queue)
	})
}

// RateLimit blocks the queue's fetches for d, measured from the wall
// clock (the method takes no caller time).
func (d *Driver) RateLimit(ctx context.Context, queue string, dur time.Duration) error {
	until := time.Now().UnixMilli() + dur.Milliseconds()
	return d.write(ctx, func(t *wtx) error {
		m, err := t.meta(queue)
		if err != nil {
			return err
		}
		m.rlUntil, m.dirty = until, true
		return nil
	})
}

// ExtendLocks renews the locks held by the given tokens until now+duration
// and clears their stalled marks; it returns the ids whose lock was lost.
// It commits without an fsync when it can (writeNoSync): a lock matters
// only while its worker runs, and a power failure stops the worker too.
func (d *Driver) ExtendLocks(ctx context.Context, queue string, locks []jobqdriver.Lock, duration int64, now int64) ([]string, error) {
	var lost []string
	err := d.writeNoSync(ctx, len(locks), func(t *wtx) error {
		lost = lost[:0]
		for _, l := range locks {
			n, err := t.execN(`UPDATE jobs SET lock_until = ?, stalled = 0
				WHERE queue = ? AND id = ? AND state = 'active' AND lock_token = ?`, now+duration, queue, l.ID, l.Token)
			if err != nil {
				return err
			}
			if n == 0 {
				lost = append(lost, l.ID)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return lost, nil
}

// CheckStalled runs one stalled sweep unless one ran less than Interval
// ago. Phase 1: jobs marked by the previous sweep whose lock expired go
// to the front of waiting with stc+1 (past MaxStalledCount they also get
// a deferred failure). Phase 2: every active job is marked.
func (d *Driver) CheckStalled(ctx context.Context, p jobqdriver.StalledParams) (jobqdriver.StalledResult, error) {
	var res jobqdriver.StalledResult
	err := d.write(ctx, func(t *wtx) error {
		res = jobqdriver.StalledResult{}
		m, err := t.meta(p.Queue)
		if err != nil {
			return err
		}
		if m.stalledAt > 0 && p.Now < m.stalledAt+p.Interval {
			return nil
		}
		m.stalledAt, m.dirty = p.Now, true
		rows, err := t.query(`SELECT id, stc FROM jobs WHERE queue = ? AND state = 'active' AND stalled = 1 AND lock_until <= ?
			ORDER BY ord`, p.Queue, p.Now)
		if err != nil {
			return err
		}
		type stalled struct {
			id  string
			stc int
		}
		var list []stalled
		for rows.Next() {
			var s stalled
			if err := rows.Scan(&s.id, &s.stc); err != nil {
				rows.Close()
				return err
			}
			list = append(list, s)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, s := range list {
			defa := ""
			if s.stc+1 > p.MaxStalledCount {
				defa = deferredStalledFailure
				res.Failed = append(res.Failed, s.id)
			} else {
				res.Recovered = append(res.Recovered, s.id)
			}
			_, _, ord := readyPlace(m, 0, true)
			if _, err := t.exec(`UPDATE jobs SET state = 'waiting', score = 0, ord = ?, stc = stc + 1,
				defa = CASE WHEN ? <> '' THEN ? ELSE defa END, lock_token = '', lock_until = 0, stalled = 0
				WHERE queue = ? AND id = ?`, ord, defa, defa, p.Queue, s.id); err != nil {
				return err
			}
			t.emit(p.Queue, "waiting", "jobId", s.id, "prev", "active")
			t.emit(p.Queue, "stalled", "jobId", s.id)
		}
		if len(list) > 0 {
			if err := t.wake(p.Queue); err != nil {
				return err
			}
		}
		_, err = t.exec(`UPDATE jobs SET stalled = 1 WHERE queue = ? AND state = 'active' AND stalled = 0`, p.Queue)
		return err
	})
	return res, err
}
