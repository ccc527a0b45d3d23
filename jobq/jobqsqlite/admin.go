package jobqsqlite

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// SetPaused pauses or resumes the queue and emits "paused" / "resumed".
func (d *Driver) SetPaused(ctx context.Context, queue string, paused bool) error {
	return d.write(ctx, func(t *wtx) error {
		m, err := t.meta(queue)
		if err != nil {
			return err
		}
		m.paused, m.dirty = paused, true
		if paused {
			t.emit(queue, "paused")
			return nil
		}
		t.emit(queue, "resumed")
		return t.wake(queue)
	})
}

// Promote moves a delayed job to the back of waiting (or prioritized) now.
func (d *Driver) Promote(ctx context.Context, queue, id string, now int64) error {
	return d.write(ctx, func(t *wtx) error {
		var state string
		var prio int
		found, err := t.row(`SELECT state, priority FROM jobs WHERE queue = ? AND id = ?`, []any{queue, id}, &state, &prio)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("jobqsqlite: promote %s: %w", id, jobqdriver.ErrJobNotFound)
		}
		if state != jobqdriver.StateDelayed {
			return fmt.Errorf("jobqsqlite: promote %s (%s): %w", id, state, jobqdriver.ErrNotInState)
		}
		m, err := t.meta(queue)
		if err != nil {
			return err
		}
		st, score, ord := readyPlace(m, prio, false)
		if _, err := t.exec(`UPDATE jobs SET state = ?, score = ?, ord = ?, delay = 0 WHERE queue = ? AND id = ?`,
			st, score, ord, queue, id); err != nil {
			return err
		}
		t.emitReady(queue, id, st, score, jobqdriver.StateDelayed)
		return t.wake(queue)
	})
}

// Reprocess moves a job in state (failed or completed) back to waiting
// with its attempts, result, failure and stalled counter reset.
func (d *Driver) Reprocess(ctx context.Context, queue, id, state string, now int64) error {
	return d.write(ctx, func(t *wtx) error {
		var cur string
		var prio int
		found, err := t.row(`SELECT state, priority FROM jobs WHERE queue = ? AND id = ?`, []any{queue, id}, &cur, &prio)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("jobqsqlite: reprocess %s: %w", id, jobqdriver.ErrJobNotFound)
		}
		if cur != normState(state) {
			return fmt.Errorf("jobqsqlite: reprocess %s (%s, want %s): %w", id, cur, state, jobqdriver.ErrNotInState)
		}
		return t.reprocess(queue, id, cur, prio)
	})
}

func (t *wtx) reprocess(queue, id, prev string, prio int) error {
	m, err := t.meta(queue)
	if err != nil {
		return err
	}
	st, score, ord := readyPlace(m, prio, false)
	if _, err := t.exec(`UPDATE jobs SET state = ?, score = ?, ord = ?, atm = 0, ats = 0, stc = 0, defa = '',
		returnvalue = NULL, failed_reason = '', stacktrace = NULL, finished_on = 0, processed_on = 0,
		lock_token = '', lock_until = 0, stalled = 0 WHERE queue = ? AND id = ?`, st, score, ord, queue, id); err != nil {
		return err
	}
	t.emitReady(queue, id, st, score, prev)
	return t.wake(queue)
}

// ReprocessAll reprocesses up to count (0 = all) jobs of state, oldest
// first, and returns how many moved.
func (d *Driver) ReprocessAll(ctx context.Context, queue, state string, count int, now int64) (int, error) {
	state = normState(state)
	var n int
	err := d.write(ctx, func(t *wtx) error {
		n = 0
		limit := count
		if limit <= 0 {
			limit = -1
		}
		rows, err := t.query(`SELECT id, priority FROM jobs WHERE queue = ? AND state = ? ORDER BY score, ord LIMIT ?`,
			queue, state, limit)
		if err != nil {
			return err
		}
		type item struct {
			id   string
			prio int
		}
		var items []item
		for rows.Next() {
			var it item
			if err := rows.Scan(&it.id, &it.prio); err != nil {
				rows.Close()
				return err
			}
			items = append(items, it)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, it := range items {
			if err := t.reprocess(queue, it.id, state, it.prio); err != nil {
				return err
			}
		}
		n = len(items)
		return nil
	})
	return n, err
}

// UpdateProgress stores the job's progress and emits "progress".
func (d *Driver) UpdateProgress(ctx context.Context, queue, id string, progress json.RawMessage) error {
	return d.write(ctx, func(t *wtx) error {
		n, err := t.execN(`UPDATE jobs SET progress = ? WHERE queue = ? AND id = ?`, nullJSON(progress), queue, id)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("jobqsqlite: progress %s: %w", id, jobqdriver.ErrJobNotFound)
		}
		t.emit(queue, "progress", "jobId", id, "data", string(progress))
		return nil
	})
}

// AddLog appends a log line, keeps the newest keep lines when keep > 0,
// and returns the number of lines.
func (d *Driver) AddLog(ctx context.Context, queue, id, line string, keep int) (int, error) {
	var total int
	err := d.write(ctx, func(t *wtx) error {
		var one int
		found, err := t.row(`SELECT 1 FROM jobs WHERE queue = ? AND id = ?`, []any{queue, id}, &one)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("jobqsqlite: add log %s: %w", id, jobqdriver.ErrJobNotFound)
		}
		if _, err := t.exec(`INSERT INTO logs (queue, job_id, line) VALUES (?, ?, ?)`, queue, id, line); err != nil {
			return err
		}
		if keep > 0 {
			if _, err := t.exec(`DELETE FROM logs WHERE queue = ? AND job_id = ? AND lid <= (
				SELECT lid FROM logs WHERE queue = ? AND job_id = ? ORDER BY lid DESC LIMIT 1 OFFSET ?)`,
				queue, id, queue, id, keep); err != nil {
				return err
			}
		}
		_, err = t.row(`SELECT count(*) FROM logs WHERE queue = ? AND job_id = ?`, []any{queue, id}, &total)
		return err
	})
	return total, err
}
