package dashboard

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/sevra/atlas/jobq"
)

// linkOf resolves a job key ("<queue key>:<id>") to a shown queue and id.
func (s *Server) linkOf(q *jobq.Queue, key string) (jobLink, bool) {
	for _, name := range s.cfg.Queues {
		if id, ok := strings.CutPrefix(key, q.Backend().QueueKey(name)+":"); ok && id != "" {
			return jobLink{Queue: name, ID: id}, true
		}
	}
	return jobLink{}, false
}

// pendingChildScan is how many jobs per state and queue the search for a
// waiting parent's pending children reads.
const pendingChildScan = 200

// children lists j's children: completed (with results) and failed ones
// from the parent's records and, while j waits for children, the pending
// ones found among the newest jobs of each shown queue.
func (s *Server) children(ctx context.Context, q *jobq.Queue, j *jobq.Job, st jobq.State) ([]childLink, error) {
	var out []childLink
	add := func(key, state, result string) {
		c := childLink{Key: key, State: state, Result: result}
		c.jobLink, _ = s.linkOf(q, key)
		out = append(out, c)
	}
	vals, err := j.ChildrenValues(ctx)
	if err != nil {
		return nil, err
	}
	fails, err := j.ChildrenFailures(ctx)
	if err != nil {
		return nil, err
	}
	for _, k := range sortedKeys(vals) {
		add(k, "completed", string(vals[k]))
	}
	for _, k := range sortedKeys(fails) {
		add(k, "failed", fails[k])
	}
	if st != jobq.StateWaitingChildren {
		return out, nil
	}
	key := j.Key()
	for _, name := range s.cfg.Queues {
		cq, _ := s.queue(name)
		for _, cst := range []jobq.State{jobq.StateWaiting, jobq.StatePrioritized, jobq.StateDelayed, jobq.StateActive, jobq.StateFailed, jobq.StateWaitingChildren} {
			jobs, err := cq.GetJobs(ctx, []jobq.State{cst}, 0, pendingChildScan-1, false)
			if err != nil {
				return nil, err
			}
			for _, c := range jobs {
				ck := c.Key()
				if c.ParentKey == key && !slices.ContainsFunc(out, func(l childLink) bool { return l.Key == ck }) {
					add(ck, string(cst), "")
				}
			}
		}
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// bullOpts shows job options as BullMQ's JobsOptions: its names, times in
// milliseconds, only what is set.
func bullOpts(o jobq.JobOptions) string {
	m := map[string]any{}
	ms := func(d time.Duration) int64 { return d.Milliseconds() }
	if o.JobID != "" {
		m["jobId"] = o.JobID
	}
	if o.Delay > 0 {
		m["delay"] = ms(o.Delay)
	}
	if o.Priority > 0 {
		m["priority"] = o.Priority
	}
	if o.LIFO {
		m["lifo"] = true
	}
	if o.Attempts > 0 {
		m["attempts"] = o.Attempts
	}
	if b := o.Backoff; b != nil {
		bo := map[string]any{"type": string(b.Type), "delay": ms(b.Delay)}
		if b.Jitter > 0 {
			bo["jitter"] = b.Jitter
		}
		m["backoff"] = bo
	}
	keep := func(k *jobq.Keep) any {
		switch {
		case k.RemovesAll():
			return true
		case k.Age == 0 && k.Count < 0:
			return false
		case k.Age == 0:
			return k.Count
		}
		v := map[string]any{"age": k.Age}
		if k.Count >= 0 {
			v["count"] = k.Count
		}
		return v
	}
	if o.RemoveOnComplete != nil {
		m["removeOnComplete"] = keep(o.RemoveOnComplete)
	}
	if o.RemoveOnFail != nil {
		m["removeOnFail"] = keep(o.RemoveOnFail)
	}
	if d := o.Deduplication; d != nil {
		dv := map[string]any{"id": d.ID}
		if d.TTL > 0 {
			dv["ttl"] = ms(d.TTL)
		}
		if d.Extend {
			dv["extend"] = true
		}
		if d.Replace {
			dv["replace"] = true
		}
		m["deduplication"] = dv
	}
	if p := o.Parent; p != nil {
		m["parent"] = map[string]any{"id": p.ID, "queue": p.Queue}
	}
	if o.KeepLogs > 0 {
		m["keepLogs"] = o.KeepLogs
	}
	switch o.OnChildFailure {
	case jobq.ChildFailureFailParent:
		m["failParentOnFailure"] = true
	case jobq.ChildFailureIgnore:
		m["ignoreDependencyOnFailure"] = true
	case jobq.ChildFailureContinue:
		m["continueParentOnFailure"] = true
	case jobq.ChildFailureRemove:
		m["removeDependencyOnFailure"] = true
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return ""
	}
	return string(b)
}
