package jobqsqlite

import (
	"context"
	"fmt"
	"strconv"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// Add adds jobs to queue in one transaction (see jobqdriver.Driver.Add).
// Generated ids are written back into the jobs.
func (d *Driver) Add(ctx context.Context, queue string, jobs []*jobqdriver.Job, now int64) ([]jobqdriver.AddResult, error) {
	out := make([]jobqdriver.AddResult, len(jobs))
	orig := saveJobs(jobs)
	err := d.writeN(ctx, len(jobs), func(t *wtx) error {
		restoreJobs(orig)
		for i, j := range jobs {
			r, err := t.addJob(queue, j, now, false)
			if err != nil {
				return err
			}
			out[i] = r
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// AddFlow adds a tree of jobs in one transaction: parents first (to
// waiting-children), then their children, registered as dependencies.
func (d *Driver) AddFlow(ctx context.Context, root *jobqdriver.FlowNode, now int64) error {
	var orig []savedJob
	var walk func(n *jobqdriver.FlowNode)
	walk = func(n *jobqdriver.FlowNode) {
		if n == nil {
			return
		}
		if n.Job != nil {
			orig = append(orig, savedJob{n.Job, *n.Job})
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(root)
	return d.writeN(ctx, len(orig), func(t *wtx) error {
		restoreJobs(orig)
		return t.addNode(root, nil, now)
	})
}

// savedJob is a job as the caller passed it. Adding a job writes into it
// (generated id, state, parent...); a write operation may run more than
// once (see writer.go), so each run starts from the caller's values.
type savedJob struct {
	j *jobqdriver.Job
	v jobqdriver.Job
}

func saveJobs(jobs []*jobqdriver.Job) []savedJob {
	out := make([]savedJob, 0, len(jobs))
	for _, j := range jobs {
		if j != nil {
			out = append(out, savedJob{j, *j})
		}
	}
	return out
}

func restoreJobs(saved []savedJob) {
	for _, s := range saved {
		*s.j = s.v
	}
}

func (t *wtx) addNode(n *jobqdriver.FlowNode, parent *jobqdriver.Job, now int64) error {
	if n == nil || n.Job == nil {
		return fmt.Errorf("jobqsqlite: flow node without a job")
	}
	j := n.Job
	if parent != nil {
		j.ParentKey = t.d.jobKey(parent.Queue, parent.ID)
		j.Parent = &jobqdriver.ParentRef{ID: parent.ID, QueueKey: t.d.QueueKey(parent.Queue)}
	}
	r, err := t.addJob(j.Queue, j, now, len(n.Children) > 0)
	if err != nil {
		return err
	}
	if r.Duplicate || r.DeduplicatedBy != "" || len(n.Children) == 0 {
		return nil
	}
	for _, c := range n.Children {
		if err := t.addNode(c, j, now); err != nil {
			return err
		}
	}
	// Every child may have been a duplicate that already finished.
	return t.maybeReleaseParent(j.Queue, j.ID, now)
}

// addJob adds one job: duplicate check, deduplication, insert, routing,
// parent registration, events.
func (t *wtx) addJob(queue string, j *jobqdriver.Job, now int64, hasChildren bool) (jobqdriver.AddResult, error) {
	if queue == "" {
		queue = j.Queue
	}
	if queue == "" {
		return jobqdriver.AddResult{}, fmt.Errorf("jobqsqlite: add: job without a queue")
	}
	j.Queue = queue
	m, err := t.meta(queue)
	if err != nil {
		return jobqdriver.AddResult{}, err
	}
	counter := m.nextID()
	id := j.ID
	if id == "" {
		id = j.Opts.JobID
	}
	custom := id != ""
	if !custom {
		id = itoa(counter)
	}
	j.ID = id

	pq, pid, hasParent := t.d.parentOf(j.ParentKey, j.Parent)
	if hasParent {
		var one int
		found, err := t.row(`SELECT 1 FROM jobs WHERE queue = ? AND id = ?`, []any{pq, pid}, &one)
		if err != nil {
			return jobqdriver.AddResult{}, err
		}
		if !found {
			return jobqdriver.AddResult{}, fmt.Errorf("jobqsqlite: add %s: parent %s: %w", id, t.d.jobKey(pq, pid), jobqdriver.ErrParentMissing)
		}
		j.ParentKey = t.d.jobKey(pq, pid)
		j.Parent = &jobqdriver.ParentRef{ID: pid, QueueKey: t.d.QueueKey(pq)}
	}

	if custom {
		var one int
		found, err := t.row(`SELECT 1 FROM jobs WHERE queue = ? AND id = ?`, []any{queue, id}, &one)
		if err != nil {
			return jobqdriver.AddResult{}, err
		}
		if found {
			t.emit(queue, "duplicated", "jobId", id)
			return jobqdriver.AddResult{ID: id, Duplicate: true}, nil
		}
	}

	de := j.Opts.Dedup
	var dedupExpires int64 // when the new job's dedup key expires (0: with the job)
	if de != nil && de.ID != "" {
		if de.TTL > 0 {
			dedupExpires = now + de.TTL
		}
		if r, done, err := t.deduplicate(queue, id, de, now, &dedupExpires); err != nil || done {
			return r, err
		}
		j.DeduplicationID = de.ID
	}

	if j.Timestamp == 0 {
		j.Timestamp = now
	}
	if j.Delay == 0 {
		j.Delay = j.Opts.Delay
	}
	if j.Priority == 0 {
		j.Priority = j.Opts.Priority
	}
	var state string
	var score, ord int64
	switch {
	case hasChildren:
		state, score, ord = jobqdriver.StateWaitingChildren, j.Timestamp, m.nextSeq()
	case j.Delay > 0:
		state, score, ord = jobqdriver.StateDelayed, j.Timestamp+j.Delay, m.nextSeq()
	default:
		state, score, ord = readyPlace(m, j.Priority, j.Opts.LIFO)
	}
	opts, err := jobqdriver.MarshalJSON(j.Opts)
	if err != nil {
		return jobqdriver.AddResult{}, fmt.Errorf("jobqsqlite: encode opts of %s: %w", id, err)
	}
	var parent any
	if j.Parent != nil {
		b, err := jobqdriver.MarshalJSON(j.Parent)
		if err != nil {
			return jobqdriver.AddResult{}, fmt.Errorf("jobqsqlite: encode parent of %s: %w", id, err)
		}
		parent = string(b)
	}
	if j.RepeatJobKey == "" {
		j.RepeatJobKey = j.Opts.RepeatJobKey
	}
	n, err := t.execN(`INSERT INTO jobs (queue, id, name, data, opts, ts, delay, priority, state, score, ord,
		parent_key, parent, rjk, deid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (queue, id) DO NOTHING`,
		queue, id, j.Name, nullJSON(j.Data), string(opts), j.Timestamp, j.Delay, j.Priority, state, score, ord,
		j.ParentKey, parent, j.RepeatJobKey, j.DeduplicationID)
	if err != nil {
		return jobqdriver.AddResult{}, err
	}
	if n == 0 { // a generated id collided with a custom one
		t.emit(queue, "duplicated", "jobId", id)
		return jobqdriver.AddResult{ID: id, Duplicate: true}, nil
	}
	j.State = state
	if de != nil && de.ID != "" {
		if _, err := t.exec(`INSERT INTO dedup (queue, dedup_id, job_id, expires_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (queue, dedup_id) DO UPDATE SET job_id = excluded.job_id, expires_at = excluded.expires_at`,
			queue, de.ID, id, dedupExpires); err != nil {
			return jobqdriver.AddResult{}, err
		}
	}

	t.emit(queue, "added", "jobId", id, "name", j.Name)
	if state == jobqdriver.StateWaitingChildren {
		t.emit(queue, "waiting-children", "jobId", id)
	} else {
		t.emitReady(queue, id, state, score, "")
		if err := t.wake(queue); err != nil {
			return jobqdriver.AddResult{}, err
		}
	}
	if hasParent {
		if err := t.addDependency(pq, pid, queue, id); err != nil {
			return jobqdriver.AddResult{}, err
		}
	}
	return jobqdriver.AddResult{ID: id}, nil
}

// addDependency records a pending child on its parent.
func (t *wtx) addDependency(pq, pid, cq, cid string) error {
	if _, err := t.exec(`INSERT INTO deps (parent_queue, parent_id, child_key, child_queue, child_id, state)
		VALUES (?, ?, ?, ?, ?, 'pending')
		ON CONFLICT DO UPDATE SET state = 'pending', value = NULL`,
		pq, pid, t.d.jobKey(cq, cid), cq, cid); err != nil {
		return err
	}
	_, err := t.exec(`UPDATE jobs SET has_deps = 1 WHERE queue = ? AND id = ? AND has_deps = 0`, pq, pid)
	return err
}

// deduplicate applies de to an add of job id. done means the add is
// dropped (r names the job holding the id). Otherwise the add goes ahead;
// *expires may be changed to keep a replaced holder's remaining TTL. The
// modes follow BullMQ's: extend restarts a live key's TTL, replace removes
// a holder that is still delayed and takes its place.
func (t *wtx) deduplicate(queue, id string, de *jobqdriver.Dedup, now int64, expires *int64) (r jobqdriver.AddResult, done bool, err error) {
	var owner string
	var ownerExpires int64
	found, err := t.row(`SELECT job_id, expires_at FROM dedup WHERE queue = ? AND dedup_id = ?`,
		[]any{queue, de.ID}, &owner, &ownerExpires)
	if err != nil || !found || (ownerExpires != 0 && ownerExpires <= now) {
		return r, false, err
	}
	dropped := jobqdriver.AddResult{ID: owner, DeduplicatedBy: owner}
	switch {
	case de.Replace:
		var state string
		if _, err := t.row(`SELECT state FROM jobs WHERE queue = ? AND id = ?`, []any{queue, owner}, &state); err != nil {
			return r, false, err
		}
		if state != jobqdriver.StateDelayed {
			return dropped, true, nil
		}
		if _, err := t.removeJob(queue, owner, now, true); err != nil {
			return r, false, err
		}
		t.emit(queue, "deduplicated", "jobId", id, "deduplicationId", de.ID, "deduplicatedJobId", owner)
		if !de.Extend && de.TTL > 0 {
			*expires = ownerExpires
		}
		return r, false, nil
	case de.Extend && de.TTL > 0:
		if _, err := t.exec(`UPDATE dedup SET expires_at = ? WHERE queue = ? AND dedup_id = ?`, now+de.TTL, queue, de.ID); err != nil {
			return r, false, err
		}
	}
	t.emit(queue, "deduplicated", "jobId", owner, "deduplicationId", de.ID, "deduplicatedJobId", id)
	return dropped, true, nil
}
