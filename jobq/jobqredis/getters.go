package jobqredis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// GetJob returns a job or ErrJobNotFound.
func (d *Driver) GetJob(ctx context.Context, queue, id string) (*jobqdriver.Job, error) {
	if err := d.checkOpen(); err != nil {
		return nil, err
	}
	pipe := d.client.Pipeline()
	hc := pipe.HGetAll(ctx, d.jobKey(queue, id))
	done := pipe.ZMScore(ctx, d.key(queue, "completed"), id)
	failed := pipe.ZMScore(ctx, d.key(queue, "failed"), id)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("jobqredis: get job %s/%s: %w", queue, id, err)
	}
	h := hc.Val()
	if len(h) == 0 {
		return nil, fmt.Errorf("jobqredis: job %s/%s: %w", queue, id, jobqdriver.ErrJobNotFound)
	}
	j, err := decodeJob(queue, id, h)
	if err != nil {
		return nil, err
	}
	// finished states are cheap to know; others are left empty
	if v := done.Val(); len(v) == 1 && v[0] != 0 {
		j.State = jobqdriver.StateCompleted
	} else if v := failed.Val(); len(v) == 1 && v[0] != 0 {
		j.State = jobqdriver.StateFailed
	}
	return j, nil
}

// JobState returns the job's state, or StateUnknown.
func (d *Driver) JobState(ctx context.Context, queue, id string) (string, error) {
	if err := d.checkOpen(); err != nil {
		return "", err
	}
	v, err := d.run(ctx, "state", queue, id)
	if err != nil {
		return "", err
	}
	s, _ := v.(string)
	return s, nil
}

// listKind describes how a state is stored.
func (d *Driver) stateKey(queue, state string) (key string, isList bool, ok bool) {
	switch state {
	case jobqdriver.StateWaiting, "wait":
		return d.key(queue, "wait"), true, true
	case jobqdriver.StateActive:
		return d.key(queue, "active"), true, true
	case jobqdriver.StatePrioritized, jobqdriver.StateDelayed, jobqdriver.StateCompleted,
		jobqdriver.StateFailed, jobqdriver.StateWaitingChildren:
		return d.key(queue, state), false, true
	}
	return "", false, false
}

// GetJobs lists jobs per state; lists are read oldest first when asc (the
// wait and active lists grow at the left), sorted sets by score.
func (d *Driver) GetJobs(ctx context.Context, queue string, states []string, start, end int, asc bool) ([]*jobqdriver.Job, error) {
	if err := d.checkOpen(); err != nil {
		return nil, err
	}
	type ref struct{ id, state string }
	var refs []ref
	pipe := d.client.Pipeline()
	type pending struct {
		state string
		cmd   *redis.StringSliceCmd
		list  bool
	}
	var ps []pending
	for _, st := range states {
		key, isList, ok := d.stateKey(queue, st)
		if !ok {
			continue
		}
		var cmd *redis.StringSliceCmd
		switch {
		case isList && asc:
			lo, hi := int64(-(end + 1)), int64(-(start + 1))
			if end < 0 {
				lo = 0
			}
			cmd = pipe.LRange(ctx, key, lo, hi)
		case isList:
			cmd = pipe.LRange(ctx, key, int64(start), int64(end))
		case asc:
			cmd = pipe.ZRange(ctx, key, int64(start), int64(end))
		default:
			cmd = pipe.ZRevRange(ctx, key, int64(start), int64(end))
		}
		ps = append(ps, pending{state: st, cmd: cmd, list: isList && asc})
	}
	if len(ps) == 0 {
		return nil, nil
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("jobqredis: list jobs of %q: %w", queue, err)
	}
	for _, p := range ps {
		ids := p.cmd.Val()
		if p.list {
			for i, j := 0, len(ids)-1; i < j; i, j = i+1, j-1 {
				ids[i], ids[j] = ids[j], ids[i]
			}
		}
		st := p.state
		if st == "wait" {
			st = jobqdriver.StateWaiting
		}
		for _, id := range ids {
			refs = append(refs, ref{id, st})
		}
	}
	pipe = d.client.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(refs))
	for i, r := range refs {
		cmds[i] = pipe.HGetAll(ctx, d.jobKey(queue, r.id))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("jobqredis: read jobs of %q: %w", queue, err)
	}
	jobs := make([]*jobqdriver.Job, 0, len(refs))
	for i, r := range refs {
		h := cmds[i].Val()
		if len(h) == 0 {
			continue // removed meanwhile
		}
		j, err := decodeJob(queue, r.id, h)
		if err != nil {
			return nil, err
		}
		j.State = r.state
		jobs = append(jobs, j)
	}
	return jobs, nil
}

// Counts returns the number of jobs per requested state. As BullMQ 6.7's
// getJobCounts, "paused" is the length of the legacy "paused" list, which
// v6 never writes (so 0): a paused queue keeps its jobs in wait, counted
// once, as "waiting".
func (d *Driver) Counts(ctx context.Context, queue string, states []string) (map[string]int64, error) {
	if err := d.checkOpen(); err != nil {
		return nil, err
	}
	pipe := d.client.Pipeline()
	cmds := map[string]*redis.IntCmd{}
	for _, st := range states {
		if st == jobqdriver.StatePaused {
			cmds[st] = pipe.LLen(ctx, d.key(queue, "paused"))
			continue
		}
		key, isList, ok := d.stateKey(queue, st)
		switch {
		case !ok:
			continue
		case isList:
			cmds[st] = pipe.LLen(ctx, key)
		default:
			cmds[st] = pipe.ZCard(ctx, key)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("jobqredis: counts of %q: %w", queue, err)
	}
	out := make(map[string]int64, len(states))
	for _, st := range states {
		c, ok := cmds[st]
		if !ok {
			out[st] = 0
			continue
		}
		out[st] = c.Val()
	}
	return out, nil
}

// ChildrenValues returns the return values of a parent's completed
// children, keyed by child key.
func (d *Driver) ChildrenValues(ctx context.Context, queue, id string) (map[string]json.RawMessage, error) {
	if err := d.checkOpen(); err != nil {
		return nil, err
	}
	h, err := d.client.HGetAll(ctx, d.jobKey(queue, id)+":processed").Result()
	if err != nil {
		return nil, fmt.Errorf("jobqredis: children values of %s/%s: %w", queue, id, err)
	}
	out := make(map[string]json.RawMessage, len(h))
	for k, v := range h {
		out[k] = json.RawMessage(v)
	}
	return out, nil
}

// ChildrenFailures returns the failure reasons of children that failed
// under ignoreDependencyOnFailure or continueParentOnFailure.
func (d *Driver) ChildrenFailures(ctx context.Context, queue, id string) (map[string]string, error) {
	if err := d.checkOpen(); err != nil {
		return nil, err
	}
	h, err := d.client.HGetAll(ctx, d.jobKey(queue, id)+":failed").Result()
	if err != nil {
		return nil, fmt.Errorf("jobqredis: children failures of %s/%s: %w", queue, id, err)
	}
	return h, nil
}

// IsPaused reports whether the queue is paused.
func (d *Driver) IsPaused(ctx context.Context, queue string) (bool, error) {
	if err := d.checkOpen(); err != nil {
		return false, err
	}
	ok, err := d.client.HExists(ctx, d.key(queue, "meta"), "paused").Result()
	if err != nil {
		return false, fmt.Errorf("jobqredis: is paused %q: %w", queue, err)
	}
	return ok, nil
}

// Metrics returns per-minute metrics of kind "completed" or "failed".
func (d *Driver) Metrics(ctx context.Context, queue, kind string, start, end int) (jobqdriver.Metrics, error) {
	if err := d.checkOpen(); err != nil {
		return jobqdriver.Metrics{}, err
	}
	if kind != jobqdriver.StateCompleted && kind != jobqdriver.StateFailed {
		return jobqdriver.Metrics{}, fmt.Errorf("jobqredis: metrics kind %q: %w", kind, jobqdriver.ErrNotInState)
	}
	k := d.key(queue, "metrics:"+kind)
	pipe := d.client.Pipeline()
	meta := pipe.HMGet(ctx, k, "count", "prevTS", "prevCount")
	data := pipe.LRange(ctx, k+":data", int64(start), int64(end))
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return jobqdriver.Metrics{}, fmt.Errorf("jobqredis: metrics of %q: %w", queue, err)
	}
	var m jobqdriver.Metrics
	vals := meta.Val()
	str := func(i int) string { s, _ := vals[i].(string); return s }
	m.Count, m.PrevTS, m.PrevCount = atoi64(str(0)), atoi64(str(1)), atoi64(str(2))
	for _, s := range data.Val() {
		m.Data = append(m.Data, atoi64(s))
	}
	return m, nil
}
