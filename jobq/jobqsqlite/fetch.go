package jobqsqlite

import (
	"context"
	"strconv"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// maxPromote bounds the delayed jobs promoted by one fetch (as BullMQ);
// SQL text, see withLimit.
const maxPromote = "1000"

// withLimit returns q with " LIMIT n" appended, and its arguments.
// SQLite's planner reads the value of a bound LIMIT and so re-prepares
// the statement on every run (about 8% of a fetch's CPU); a literal keeps
// it prepared. Each distinct literal is its own cached statement, so only
// small limits are literals.
func withLimit(q string, n int, args ...any) (string, []any) {
	if n <= 64 {
		return q + " LIMIT " + strconv.Itoa(n), args
	}
	return q + " LIMIT ?", append(args, n)
}

// Fetch promotes due delayed jobs, then moves up to len(p.Tokens) ready
// jobs to active and locks them, in one transaction. It commits without
// an fsync when it can (writeNoSync): a fetch lost in a power failure
// leaves its jobs waiting, to run again (see "Durability" in the package
// doc).
func (d *Driver) Fetch(ctx context.Context, p jobqdriver.FetchParams) (jobqdriver.FetchResult, error) {
	var res jobqdriver.FetchResult
	err := d.writeNoSync(ctx, len(p.Tokens), func(t *wtx) error {
		var err error
		res, err = t.fetch(p)
		return err
	})
	return res, err
}

func (t *wtx) fetch(p jobqdriver.FetchParams) (jobqdriver.FetchResult, error) {
	var res jobqdriver.FetchResult
	m, err := t.meta(p.Queue)
	if err != nil {
		return res, err
	}
	if err := t.promoteDue(p.Queue, p.Now); err != nil {
		return res, err
	}
	if m.paused {
		res.Paused = true
		return res, t.nextDelayed(&res, p.Queue)
	}
	if m.rlUntil > p.Now {
		res.RateLimitDelay = m.rlUntil - p.Now
		return res, nil
	}
	limit := len(p.Tokens)
	lim := p.Limiter
	if lim != nil && lim.Max > 0 {
		if m.limCount > 0 && p.Now >= m.limStart+lim.Duration {
			m.limCount, m.limStart, m.dirty = 0, 0, true
		}
		if m.limCount >= int64(lim.Max) {
			res.RateLimitDelay = max(m.limStart+lim.Duration-p.Now, 1)
			return res, nil
		}
		limit = min(limit, lim.Max-int(m.limCount))
	}
	if limit <= 0 {
		return res, nil
	}
	q, args := withLimit(`SELECT id FROM jobs WHERE queue = ? AND state = 'waiting' ORDER BY score, ord`, limit, p.Queue)
	ids, err := t.strings(q, args...)
	if err != nil {
		return res, err
	}
	if len(ids) < limit {
		q, args := withLimit(`SELECT id FROM jobs WHERE queue = ? AND state = 'prioritized' ORDER BY score, ord`, limit-len(ids), p.Queue)
		more, err := t.strings(q, args...)
		if err != nil {
			return res, err
		}
		ids = append(ids, more...)
	}
	for i, id := range ids {
		jobs, err := t.queryJobs(`UPDATE jobs SET state = 'active', score = 0, ord = ?, lock_token = ?, lock_until = ?,
			processed_on = ?, pb = ?, ats = ats + 1, stalled = 0 WHERE queue = ? AND id = ? RETURNING `+jobCols,
			m.nextSeq(), p.Tokens[i], p.Now+p.LockDuration, p.Now, p.WorkerName, p.Queue, id)
		if err != nil {
			return res, err
		}
		if len(jobs) == 0 {
			continue
		}
		j := jobs[0]
		j.Token = p.Tokens[i]
		res.Jobs = append(res.Jobs, j)
		t.emit(p.Queue, "active", "jobId", id, "prev", "waiting")
		if lim != nil && lim.Max > 0 {
			if m.limCount == 0 {
				m.limStart = p.Now
			}
			m.limCount++
			m.dirty = true
		}
	}
	if len(res.Jobs) > 0 {
		if m.drained {
			m.drained, m.dirty = false, true
		}
		if len(res.Jobs) == len(p.Tokens) {
			return res, nil
		}
		return res, t.nextDelayed(&res, p.Queue)
	}
	if !m.drained {
		t.emit(p.Queue, "drained")
		m.drained, m.dirty = true, true
	}
	return res, t.nextDelayed(&res, p.Queue)
}

func (t *wtx) nextDelayed(res *jobqdriver.FetchResult, queue string) error {
	_, err := t.row(`SELECT score FROM jobs WHERE queue = ? AND state = 'delayed' ORDER BY score, ord LIMIT 1`,
		[]any{queue}, &res.NextDelayed)
	return err
}

// promoteDue moves delayed jobs whose run time has come to the back of
// waiting (or prioritized), in (run time, insertion) order.
func (t *wtx) promoteDue(queue string, now int64) error {
	rows, err := t.query(`SELECT id, priority FROM jobs WHERE queue = ? AND state = 'delayed' AND score <= ?
		ORDER BY score, ord LIMIT `+maxPromote, queue, now)
	if err != nil {
		return err
	}
	type due struct {
		id       string
		priority int
	}
	var list []due
	for rows.Next() {
		var x due
		if err := rows.Scan(&x.id, &x.priority); err != nil {
			rows.Close()
			return err
		}
		list = append(list, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(list) == 0 {
		return err
	}
	m, err := t.meta(queue)
	if err != nil {
		return err
	}
	for _, x := range list {
		state, score, ord := readyPlace(m, x.priority, false)
		if _, err := t.exec(`UPDATE jobs SET state = ?, score = ?, ord = ? WHERE queue = ? AND id = ?`,
			state, score, ord, queue, x.id); err != nil {
			return err
		}
		t.emit(queue, "waiting", "jobId", x.id, "prev", "delayed")
	}
	return t.wake(queue)
}
