package jobqredis

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// parentField is the job hash "parent" JSON, with BullMQ's key order.
type parentField struct {
	ID       string `json:"id"`
	QueueKey string `json:"queueKey"`
	FPOF     bool   `json:"fpof,omitempty"`
	RDOF     bool   `json:"rdof,omitempty"`
	IDOF     bool   `json:"idof,omitempty"`
	CPOF     bool   `json:"cpof,omitempty"`
}

// splitJobKey splits a job key "<prefix>:<queue>:<id>" into its queue key
// and id. Queue names contain no colon (BullMQ forbids it) but ids may, so
// a key under prefix is split after the queue name; any other key at its
// last colon.
func splitJobKey(prefix, k string) (queueKey, id string) {
	if rest, ok := strings.CutPrefix(k, prefix+":"); ok {
		if q, id, ok := strings.Cut(rest, ":"); ok && q != "" {
			return prefix + ":" + q, id
		}
	}
	i := strings.LastIndexByte(k, ':')
	if i < 0 {
		return "", k
	}
	return k[:i], k[i+1:]
}

// jobArgv encodes a job as the 13 ARGV entries read by jobArgs in lib.lua.
func (d *Driver) jobArgv(j *jobqdriver.Job, now int64) ([]any, error) {
	data := string(j.Data)
	if len(j.Data) == 0 {
		data = "{}"
	}
	opts, err := jobqdriver.MarshalJSON(j.Opts)
	if err != nil {
		return nil, fmt.Errorf("jobqredis: encode opts of job %q: %w", j.ID, err)
	}
	ts := j.Timestamp
	if ts == 0 {
		ts = now
	}
	delay := j.Delay
	if delay == 0 {
		delay = j.Opts.Delay
	}
	prio := j.Priority
	if prio == 0 {
		prio = j.Opts.Priority
	}
	var parentKey, parent string
	if j.ParentKey != "" || j.Parent != nil {
		p := parentField{
			FPOF: j.Opts.FailParentOnFailure, RDOF: j.Opts.RemoveDependencyOnFail,
			IDOF: j.Opts.IgnoreDependencyOnFail, CPOF: j.Opts.ContinueParentOnFailure,
		}
		if j.Parent != nil {
			p.ID, p.QueueKey = j.Parent.ID, j.Parent.QueueKey
			parentKey = j.Parent.QueueKey + ":" + j.Parent.ID
		}
		if j.ParentKey != "" {
			parentKey = j.ParentKey
			if j.Parent == nil {
				p.QueueKey, p.ID = splitJobKey(d.prefix, j.ParentKey)
			}
		}
		b, err := jobqdriver.MarshalJSON(p)
		if err != nil {
			return nil, fmt.Errorf("jobqredis: encode parent of job %q: %w", j.ID, err)
		}
		parent = string(b)
	}
	rjk := j.RepeatJobKey
	if rjk == "" {
		rjk = j.Opts.RepeatJobKey
	}
	var deid string
	var dettl int64
	if j.Opts.Dedup != nil {
		deid, dettl = j.Opts.Dedup.ID, j.Opts.Dedup.TTL
	} else if j.DeduplicationID != "" {
		deid = j.DeduplicationID
	}
	lifo := "0"
	if j.Opts.LIFO {
		lifo = "1"
	}
	return []any{
		j.ID, j.Name, strconv.FormatInt(ts, 10), data, string(opts),
		strconv.FormatInt(delay, 10), strconv.Itoa(prio), lifo, parentKey, parent,
		rjk, deid, strconv.FormatInt(dettl, 10),
	}, nil
}

// Add stores jobs: a single job through the driver's add batcher (see
// addbatch.go), several in addmany calls of one pipeline. Each job is
// stored as one add script would store it, with its own result.
func (d *Driver) Add(ctx context.Context, queue string, jobs []*jobqdriver.Job, now int64) ([]jobqdriver.AddResult, error) {
	if err := d.ensureMeta(ctx, queue); err != nil {
		return nil, err
	}
	items := make([]*addItem, len(jobs))
	for i, j := range jobs {
		args, err := d.jobArgv(j, now)
		if err != nil {
			return nil, err
		}
		items[i] = &addItem{queue: queue, args: args}
	}
	if len(items) == 1 {
		if err := d.submitAdd(ctx, items[0]); err != nil {
			return nil, err
		}
	} else if err := d.runAddItems(ctx, items); err != nil {
		return nil, err
	}
	res := make([]jobqdriver.AddResult, len(jobs))
	for i, it := range items {
		if it.err != nil {
			return res[:i], fmt.Errorf("jobqredis: add to %q: %w%s", queue, it.err, d.crossSlotHint(it.err))
		}
		code, _ := it.reply[0].(int64)
		id, _ := it.reply[1].(string)
		switch code {
		case -100:
			return res[:i], fmt.Errorf("jobqredis: add to %q: %s", queue, id)
		case -5:
			return res[:i], fmt.Errorf("jobqredis: add %q to %q: %w", jobs[i].ParentKey, queue, jobqdriver.ErrParentMissing)
		case 1:
			res[i] = jobqdriver.AddResult{ID: id, Duplicate: true}
		case 2:
			res[i] = jobqdriver.AddResult{ID: id, DeduplicatedBy: id}
		default:
			res[i] = jobqdriver.AddResult{ID: id}
		}
	}
	return res, nil
}

// AddFlow adds a tree of jobs in one script call. The queues of the tree
// must share a hash tag on Redis Cluster.
func (d *Driver) AddFlow(ctx context.Context, root *jobqdriver.FlowNode, now int64) error {
	if root == nil || root.Job == nil {
		return fmt.Errorf("jobqredis: add flow: empty root")
	}
	var nodes []*jobqdriver.FlowNode
	var parents []int
	var walk func(n *jobqdriver.FlowNode, parent int)
	walk = func(n *jobqdriver.FlowNode, parent int) {
		nodes = append(nodes, n)
		parents = append(parents, parent)
		me := len(nodes) // 1-based
		for _, c := range n.Children {
			walk(c, me)
		}
	}
	walk(root, 0)
	queues := map[string]bool{}
	args := []any{strconv.Itoa(len(nodes))}
	for i, n := range nodes {
		if n.Job.Queue == "" {
			return fmt.Errorf("jobqredis: add flow: node %d has no queue", i)
		}
		queues[n.Job.Queue] = true
		a, err := d.jobArgv(n.Job, now)
		if err != nil {
			return err
		}
		if parents[i] > 0 {
			// policy flags; the script fills in the parent's id and queue key
			o := n.Job.Opts
			b, err := jobqdriver.MarshalJSON(parentField{FPOF: o.FailParentOnFailure,
				RDOF: o.RemoveDependencyOnFail, IDOF: o.IgnoreDependencyOnFail, CPOF: o.ContinueParentOnFailure})
			if err != nil {
				return fmt.Errorf("jobqredis: encode parent: %w", err)
			}
			a[9] = string(b)
		}
		hasChildren := "0"
		if len(n.Children) > 0 {
			hasChildren = "1"
		}
		args = append(args, d.QueueKey(n.Job.Queue), strconv.Itoa(parents[i]), hasChildren)
		args = append(args, a...)
	}
	for q := range queues {
		if err := d.ensureMeta(ctx, q); err != nil {
			return err
		}
	}
	v, err := d.run(ctx, "addflow", root.Job.Queue, args...)
	if err != nil {
		return err
	}
	ids, ok := v.([]any)
	if !ok || len(ids) != len(nodes) {
		if code, ok := v.(int64); ok && code == -5 {
			return fmt.Errorf("jobqredis: add flow under %q: %w", root.Job.ParentKey, jobqdriver.ErrParentMissing)
		}
		return fmt.Errorf("jobqredis: add flow: unexpected reply %v", v)
	}
	for i, n := range nodes {
		n.Job.ID, _ = ids[i].(string)
		if p := parents[i]; p > 0 {
			pj := nodes[p-1].Job
			n.Job.Parent = &jobqdriver.ParentRef{ID: pj.ID, QueueKey: d.QueueKey(pj.Queue)}
			n.Job.ParentKey = d.QueueKey(pj.Queue) + ":" + pj.ID
		}
	}
	return nil
}
