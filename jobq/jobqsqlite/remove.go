package jobqsqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// removeJob deletes one job, the dedup key pointing at it and its pending
// dependency on its parent (releasing the parent when that was the last
// one). It reports the job's state, or "" when the job did not exist.
func (t *wtx) removeJob(queue, id string, now int64, emitRemoved bool) (string, error) {
	var state, parentKey, deid string
	var parent []byte
	found, err := t.row(`DELETE FROM jobs WHERE queue = ? AND id = ? RETURNING state, parent_key, parent, deid`,
		[]any{queue, id}, &state, &parentKey, &parent, &deid)
	if err != nil || !found {
		return "", err
	}
	if err := t.afterRemoval(queue, id, parentKey, parent, deid, now); err != nil {
		return "", err
	}
	if emitRemoved {
		t.emit(queue, "removed", "jobId", id, "prev", state)
	}
	return state, nil
}

// afterRemoval cleans what points at a deleted job.
func (t *wtx) afterRemoval(queue, id, parentKey string, parent []byte, deid string, now int64) error {
	if deid != "" {
		if _, err := t.exec(`DELETE FROM dedup WHERE queue = ? AND dedup_id = ? AND job_id = ?`, queue, deid, id); err != nil {
			return err
		}
	}
	if parentKey == "" {
		return nil
	}
	pq, pid, ok := t.d.parentOfJSON(parentKey, parent)
	if !ok {
		return nil
	}
	n, err := t.execN(`DELETE FROM deps WHERE parent_queue = ? AND parent_id = ? AND child_key = ? AND state = 'pending'`,
		pq, pid, t.d.jobKey(queue, id))
	if err != nil || n == 0 {
		return err
	}
	return t.maybeReleaseParent(pq, pid, now)
}

// Remove deletes a job, its logs and dependency records, and with
// removeChildren its whole subtree. A job (or, with removeChildren, a
// descendant) that is active and locked makes it fail with ErrJobActive.
// A job whose lock expired but that no stalled sweep has recovered yet
// still counts as locked.
func (d *Driver) Remove(ctx context.Context, queue, id string, removeChildren bool) error {
	now := time.Now().UnixMilli()
	return d.write(ctx, func(t *wtx) error {
		type ref struct{ queue, id string }
		tree := []ref{{queue, id}}
		for i := 0; i < len(tree); i++ {
			var state, lock string
			found, err := t.row(`SELECT state, lock_token FROM jobs WHERE queue = ? AND id = ?`,
				[]any{tree[i].queue, tree[i].id}, &state, &lock)
			if err != nil {
				return err
			}
			if !found {
				if i == 0 {
					return fmt.Errorf("jobqsqlite: remove %s: %w", id, jobqdriver.ErrJobNotFound)
				}
				continue
			}
			if state == jobqdriver.StateActive && lock != "" {
				return fmt.Errorf("jobqsqlite: remove %s: %w", tree[i].id, jobqdriver.ErrJobActive)
			}
			if !removeChildren {
				break
			}
			rows, err := t.query(`SELECT child_queue, child_id FROM deps WHERE parent_queue = ? AND parent_id = ?`,
				tree[i].queue, tree[i].id)
			if err != nil {
				return err
			}
			for rows.Next() {
				var r ref
				if err := rows.Scan(&r.queue, &r.id); err != nil {
					rows.Close()
					return err
				}
				tree = append(tree, r)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		if !removeChildren {
			tree = tree[:1]
		}
		for _, r := range tree {
			if _, err := t.removeJob(r.queue, r.id, now, true); err != nil {
				return err
			}
		}
		return nil
	})
}

// Clean deletes up to limit (0 = no limit) jobs of state finished (or,
// for unfinished states, created) at least grace ms before now, oldest
// first, skipping locked active jobs; it emits "cleaned" and returns the
// ids.
func (d *Driver) Clean(ctx context.Context, queue string, grace int64, limit int, state string, now int64) ([]string, error) {
	state = normState(state)
	var ids []string
	err := d.write(ctx, func(t *wtx) error {
		ids = nil
		if !storedStates[state] {
			t.emit(queue, "cleaned", "count", "0")
			return nil
		}
		field := "ts"
		if state == jobqdriver.StateCompleted || state == jobqdriver.StateFailed {
			field = "finished_on"
		}
		lim := limit
		if lim <= 0 {
			lim = -1
		}
		list, err := t.strings(`SELECT id FROM jobs WHERE queue = ? AND state = ? AND `+field+` <= ? AND lock_token = ''
			ORDER BY score, ord LIMIT ?`, queue, state, now-grace, lim)
		if err != nil {
			return err
		}
		for _, id := range list {
			if _, err := t.removeJob(queue, id, now, false); err != nil {
				return err
			}
		}
		ids = list
		t.emit(queue, "cleaned", "count", itoa(int64(len(list))))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if ids == nil {
		ids = []string{}
	}
	return ids, nil
}

// Drain deletes waiting and prioritized jobs, and delayed ones when
// delayed is true.
func (d *Driver) Drain(ctx context.Context, queue string, delayed bool) error {
	now := time.Now().UnixMilli()
	return d.write(ctx, func(t *wtx) error {
		q := `DELETE FROM jobs WHERE queue = ? AND state IN ('waiting', 'prioritized') RETURNING id, parent_key, parent, deid`
		if delayed {
			q = `DELETE FROM jobs WHERE queue = ? AND state IN ('waiting', 'prioritized', 'delayed') RETURNING id, parent_key, parent, deid`
		}
		rows, err := t.query(q, queue)
		if err != nil {
			return err
		}
		type gone struct {
			id, parentKey, deid string
			parent              []byte
		}
		var list []gone
		for rows.Next() {
			var g gone
			if err := rows.Scan(&g.id, &g.parentKey, &g.parent, &g.deid); err != nil {
				rows.Close()
				return err
			}
			if g.parentKey != "" || g.deid != "" {
				list = append(list, g)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, g := range list {
			if err := t.afterRemoval(queue, g.id, g.parentKey, g.parent, g.deid, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// Obliterate deletes the queue and everything in it. With active jobs it
// returns ErrQueueNotEmpty unless force.
func (d *Driver) Obliterate(ctx context.Context, queue string, force bool) error {
	err := d.write(ctx, func(t *wtx) error {
		// Earlier operations of the same transaction may have buffered
		// events and queue rows of this queue: write them now, so that
		// the deletes below cover them, and reload the row afterwards.
		if err := t.flush(); err != nil {
			return err
		}
		defer t.forget(queue)
		if !force {
			var one int
			found, err := t.row(`SELECT 1 FROM jobs WHERE queue = ? AND state = 'active' LIMIT 1`, []any{queue}, &one)
			if err != nil {
				return err
			}
			if found {
				return fmt.Errorf("jobqsqlite: obliterate %s: %w", queue, jobqdriver.ErrQueueNotEmpty)
			}
		}
		for _, q := range []string{
			`DELETE FROM jobs WHERE queue = ?`,
			`DELETE FROM logs WHERE queue = ?`,
			`DELETE FROM deps WHERE parent_queue = ?`,
			`DELETE FROM dedup WHERE queue = ?`,
			`DELETE FROM schedulers WHERE queue = ?`,
			`DELETE FROM events WHERE queue = ?`,
			`DELETE FROM metrics WHERE queue = ?`,
			`DELETE FROM workers WHERE queue = ?`,
			`DELETE FROM queues WHERE queue = ?`,
		} {
			if _, err := t.exec(q, queue); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	d.knownMu.Lock()
	delete(d.known, queue)
	d.knownMu.Unlock()
	return nil
}
