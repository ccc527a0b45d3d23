package jobqsqlite

import (
	"encoding/json"
	"fmt"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// childCompleted stores a completed child's return value on its parent
// and releases the parent when nothing is pending any more.
func (t *wtx) childCompleted(queue, id, parentKey string, parentJSON []byte, rv json.RawMessage, now int64) error {
	pq, pid, ok := t.d.parentOfJSON(parentKey, parentJSON)
	if !ok {
		return nil
	}
	if len(rv) == 0 {
		rv = json.RawMessage("null")
	}
	n, err := t.execN(`UPDATE deps SET state = 'processed', value = ? WHERE parent_queue = ? AND parent_id = ? AND child_key = ?`,
		string(rv), pq, pid, t.d.jobKey(queue, id))
	if err != nil || n == 0 {
		return err
	}
	return t.maybeReleaseParent(pq, pid, now)
}

// childFailed applies the child's failure policy to its parent:
// fpof fails the parent, idof records the failure and resolves the
// dependency, cpof records it and releases the parent at once, rdof drops
// the dependency; without a policy the dependency stays pending.
func (t *wtx) childFailed(queue, id, parentKey string, parentJSON []byte, o jobqdriver.Opts, reason string, now int64) error {
	pq, pid, ok := t.d.parentOfJSON(parentKey, parentJSON)
	if !ok {
		return nil
	}
	childKey := t.d.jobKey(queue, id)
	switch {
	case o.FailParentOnFailure:
		n, err := t.execN(`UPDATE deps SET state = 'unsuccessful', value = ? WHERE parent_queue = ? AND parent_id = ? AND child_key = ?`,
			reason, pq, pid, childKey)
		if err != nil || n == 0 {
			return err
		}
		return t.failParent(pq, pid, fmt.Sprintf("child %s failed", childKey), now)
	case o.IgnoreDependencyOnFail, o.ContinueParentOnFailure:
		n, err := t.execN(`UPDATE deps SET state = 'failed', value = ? WHERE parent_queue = ? AND parent_id = ? AND child_key = ?`,
			reason, pq, pid, childKey)
		if err != nil || n == 0 {
			return err
		}
		if o.ContinueParentOnFailure {
			return t.releaseParent(pq, pid, now)
		}
		return t.maybeReleaseParent(pq, pid, now)
	case o.RemoveDependencyOnFail:
		n, err := t.execN(`DELETE FROM deps WHERE parent_queue = ? AND parent_id = ? AND child_key = ?`, pq, pid, childKey)
		if err != nil || n == 0 {
			return err
		}
		return t.maybeReleaseParent(pq, pid, now)
	}
	return nil
}

// maybeReleaseParent moves a parent in waiting-children on when none of
// its dependencies is pending.
func (t *wtx) maybeReleaseParent(pq, pid string, now int64) error {
	var pending int
	if _, err := t.row(`SELECT count(*) FROM deps WHERE parent_queue = ? AND parent_id = ? AND state IN ('pending', 'unsuccessful')`,
		[]any{pq, pid}, &pending); err != nil {
		return err
	}
	if pending > 0 {
		return nil
	}
	return t.releaseParent(pq, pid, now)
}

// releaseParent moves a parent from waiting-children to delayed (when it
// has a delay), prioritized or the back of waiting.
func (t *wtx) releaseParent(pq, pid string, now int64) error {
	var priority int
	var delay int64
	found, err := t.row(`SELECT priority, delay FROM jobs WHERE queue = ? AND id = ? AND state = 'waiting-children'`,
		[]any{pq, pid}, &priority, &delay)
	if err != nil || !found {
		return err
	}
	m, err := t.meta(pq)
	if err != nil {
		return err
	}
	var state string
	var score, ord int64
	if delay > 0 {
		state, score, ord = jobqdriver.StateDelayed, now+delay, m.nextSeq()
	} else {
		state, score, ord = readyPlace(m, priority, false)
	}
	if _, err := t.exec(`UPDATE jobs SET state = ?, score = ?, ord = ? WHERE queue = ? AND id = ?`,
		state, score, ord, pq, pid); err != nil {
		return err
	}
	t.emitReady(pq, pid, state, score, jobqdriver.StateWaitingChildren)
	return t.wake(pq)
}

// failParent fails a parent waiting for its children (fpof) and applies
// the parent's own policy to its parent in turn.
func (t *wtx) failParent(pq, pid, reason string, now int64) error {
	m, err := t.meta(pq)
	if err != nil {
		return err
	}
	var r finishedRow
	found, err := t.row(`UPDATE jobs SET state = 'failed', score = ?, ord = ?, finished_on = ?, failed_reason = ?
		WHERE queue = ? AND id = ? AND state = 'waiting-children' RETURNING parent_key, parent, deid, opts`,
		[]any{now, m.nextSeq(), now, reason, pq, pid}, &r.parentKey, &r.parent, &r.deid, &r.opts)
	if err != nil || !found {
		return err
	}
	t.emit(pq, "failed", "jobId", pid, "failedReason", reason, "prev", jobqdriver.StateWaitingChildren)
	if r.deid != "" {
		if err := t.releaseDedup(pq, r.deid, pid); err != nil {
			return err
		}
	}
	if r.parentKey == "" {
		return nil
	}
	var o jobqdriver.Opts
	if len(r.opts) > 0 {
		if err := json.Unmarshal(r.opts, &o); err != nil {
			return fmt.Errorf("jobqsqlite: job %s opts: %w", pid, err)
		}
	}
	return t.childFailed(pq, pid, r.parentKey, r.parent, o, reason, now)
}
