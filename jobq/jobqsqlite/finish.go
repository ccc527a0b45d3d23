package jobqsqlite

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// Finish completes or fails a batch of active jobs in one transaction and,
// when next is set, fetches in the same transaction.
func (d *Driver) Finish(ctx context.Context, items []jobqdriver.FinishParams, next *jobqdriver.FetchParams) ([]error, jobqdriver.FetchResult, error) {
	errs := make([]error, len(items))
	var fetched jobqdriver.FetchResult
	weight := len(items)
	if next != nil {
		weight += len(next.Tokens)
	}
	err := d.writeN(ctx, weight, func(t *wtx) error {
		clear(errs)
		fetched = jobqdriver.FetchResult{}
		ret := map[retentionKey]int64{}
		mets := map[metricsKey]*metricsRow{}
		for i := range items {
			itemErr, err := t.finishOne(&items[i], ret, mets)
			if err != nil {
				return err
			}
			errs[i] = itemErr
		}
		if err := t.applyRetention(ret); err != nil {
			return err
		}
		if err := t.saveMetrics(mets); err != nil {
			return err
		}
		if next != nil {
			var err error
			fetched, err = t.fetch(*next)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, jobqdriver.FetchResult{}, err
	}
	return errs, fetched, nil
}

type retentionKey struct {
	queue, state string
	count        int
	age          int64
}

// finishedRow is what finishing returns about the job.
type finishedRow struct {
	atm       int
	parentKey string
	parent    []byte
	deid      string
	opts      []byte
}

// finishOne finishes one job. itemErr is a per-item sentinel; err aborts
// the transaction.
func (t *wtx) finishOne(p *jobqdriver.FinishParams, ret map[retentionKey]int64, mets map[metricsKey]*metricsRow) (itemErr, err error) {
	m, err := t.meta(p.Queue)
	if err != nil {
		return nil, err
	}
	state := jobqdriver.StateCompleted
	if p.Failed {
		state = jobqdriver.StateFailed
	}
	st, err := stacktraceJSON(p.Stacktrace)
	if err != nil {
		return nil, err
	}
	remove := p.Keep.RemovesAll()
	var q string
	var args []any
	const cond = ` WHERE queue = ? AND id = ? AND state = 'active' AND lock_token = ? AND (has_deps = 0 OR ?)
		RETURNING atm, parent_key, parent, deid, opts`
	switch {
	case remove:
		q = `DELETE FROM jobs` + cond
	case p.Failed:
		q = `UPDATE jobs SET state = 'failed', score = ?, ord = ?, finished_on = ?, atm = atm + 1, failed_reason = ?,
			stacktrace = ?, lock_token = '', lock_until = 0, stalled = 0` + cond
		args = []any{p.Now, m.nextSeq(), p.Now, p.FailedReason, st}
	default:
		q = `UPDATE jobs SET state = 'completed', score = ?, ord = ?, finished_on = ?, atm = atm + 1, returnvalue = ?,
			lock_token = '', lock_until = 0, stalled = 0` + cond
		args = []any{p.Now, m.nextSeq(), p.Now, nullJSON(p.ReturnValue)}
	}
	var r finishedRow
	// Pending children block completing a parent, not failing it (as in
	// BullMQ): a parent started early that fails keeps its dependencies,
	// and children finishing later leave it failed.
	found, err := t.row(q, append(args, p.Queue, p.ID, p.Token, p.Failed), &r.atm, &r.parentKey, &r.parent, &r.deid, &r.opts)
	if err != nil {
		return nil, err
	}
	if !found {
		if itemErr, err := t.checkFinishable(p.Queue, p.ID, p.Token); itemErr != nil || err != nil {
			return itemErr, err
		}
		found, err = t.row(q, append(args, p.Queue, p.ID, p.Token, true), &r.atm, &r.parentKey, &r.parent, &r.deid, &r.opts)
		if err != nil {
			return nil, err
		}
		if !found {
			return jobqdriver.ErrLockMismatch, nil
		}
	}
	if remove {
		r.atm++ // the DELETE returned the old value
	}
	if p.Failed {
		t.emit(p.Queue, "failed", "jobId", p.ID, "failedReason", p.FailedReason, "prev", "active")
		if p.RetriesExhausted {
			t.emit(p.Queue, "retries-exhausted", "jobId", p.ID, "attemptsMade", itoa(int64(r.atm)))
		}
	} else {
		rv := string(p.ReturnValue)
		if rv == "" {
			rv = "null"
		}
		t.emit(p.Queue, "completed", "jobId", p.ID, "returnvalue", rv, "prev", "active")
	}
	if r.deid != "" {
		if err := t.releaseDedup(p.Queue, r.deid, p.ID); err != nil {
			return nil, err
		}
	}
	if r.parentKey != "" {
		if p.Failed {
			var o jobqdriver.Opts
			if len(r.opts) > 0 {
				if err := json.Unmarshal(r.opts, &o); err != nil {
					return nil, fmt.Errorf("jobqsqlite: job %s opts: %w", p.ID, err)
				}
			}
			err = t.childFailed(p.Queue, p.ID, r.parentKey, r.parent, o, p.FailedReason, p.Now)
		} else {
			err = t.childCompleted(p.Queue, p.ID, r.parentKey, r.parent, p.ReturnValue, p.Now)
		}
		if err != nil {
			return nil, err
		}
	}
	if !remove && p.Keep != nil && (p.Keep.Count > 0 || p.Keep.Age > 0) {
		k := retentionKey{queue: p.Queue, state: state, count: p.Keep.Count, age: p.Keep.Age}
		ret[k] = max(ret[k], p.Now)
	}
	if p.MetricsMaxDataPoints > 0 {
		if err := t.recordMetric(mets, p.Queue, state, p.MetricsMaxDataPoints, p.Now); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// checkFinishable explains why an active job could not be finished: not
// found, lock mismatch or pending children. (nil, nil) means the job has
// children that are all resolved, so it may finish.
func (t *wtx) checkFinishable(queue, id, token string) (itemErr, err error) {
	var state, lock string
	var hasDeps bool
	found, err := t.row(`SELECT state, lock_token, has_deps FROM jobs WHERE queue = ? AND id = ?`,
		[]any{queue, id}, &state, &lock, &hasDeps)
	if err != nil {
		return nil, err
	}
	switch {
	case !found:
		return jobqdriver.ErrJobNotFound, nil
	case state != jobqdriver.StateActive || lock != token:
		return jobqdriver.ErrLockMismatch, nil
	case !hasDeps:
		return jobqdriver.ErrLockMismatch, nil
	}
	var pending int
	if _, err := t.row(`SELECT count(*) FROM deps WHERE parent_queue = ? AND parent_id = ? AND state IN ('pending', 'unsuccessful')`,
		[]any{queue, id}, &pending); err != nil {
		return nil, err
	}
	if pending > 0 {
		return jobqdriver.ErrPendingChildren, nil
	}
	return nil, nil
}

// releaseDedup deletes a deduplication key without TTL owned by the job
// (a key with a TTL lives until it expires, as in BullMQ).
func (t *wtx) releaseDedup(queue, dedupID, jobID string) error {
	_, err := t.exec(`DELETE FROM dedup WHERE queue = ? AND dedup_id = ? AND job_id = ? AND expires_at = 0`,
		queue, dedupID, jobID)
	return err
}

// applyRetention trims completed/failed sets after a batch: keep the
// newest Count, and none finished more than Age seconds before now.
func (t *wtx) applyRetention(ret map[retentionKey]int64) error {
	for k, now := range ret {
		if k.age > 0 {
			if _, err := t.exec(`DELETE FROM jobs WHERE queue = ? AND state = ? AND score <= ?`,
				k.queue, k.state, now-k.age*1000); err != nil {
				return err
			}
		}
		if k.count > 0 {
			var score, ord int64
			found, err := t.row(`SELECT score, ord FROM jobs WHERE queue = ? AND state = ?
				ORDER BY score DESC, ord DESC LIMIT 1 OFFSET ?`, []any{k.queue, k.state, k.count}, &score, &ord)
			if err != nil {
				return err
			}
			if found {
				if _, err := t.exec(`DELETE FROM jobs WHERE queue = ? AND state = ? AND (score < ? OR (score = ? AND ord <= ?))`,
					k.queue, k.state, score, score, ord); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
