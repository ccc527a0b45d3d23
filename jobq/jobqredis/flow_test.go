package jobqredis

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

func flowJob(queue, name string, mod func(*jobqdriver.Job)) *jobqdriver.Job {
	j := &jobqdriver.Job{Queue: queue, Name: name, Data: []byte(`{}`)}
	if mod != nil {
		mod(j)
	}
	return j
}

func finishOK(t *testing.T, d *Driver, j *jobqdriver.Job, rv string, now int64) {
	t.Helper()
	errs, _, err := d.Finish(context.Background(), []jobqdriver.FinishParams{{Queue: j.Queue, ID: j.ID, Token: j.Token, ReturnValue: []byte(rv), Now: now}}, nil)
	if err != nil || errs[0] != nil {
		t.Fatalf("finish %s: %v %v", j.ID, err, errs)
	}
}

func failJob(t *testing.T, d *Driver, j *jobqdriver.Job, now int64) {
	t.Helper()
	errs, _, err := d.Finish(context.Background(), []jobqdriver.FinishParams{{Queue: j.Queue, ID: j.ID, Token: j.Token, Failed: true, FailedReason: "bad", Now: now}}, nil)
	if err != nil || errs[0] != nil {
		t.Fatalf("fail %s: %v %v", j.ID, err, errs)
	}
}

func TestFlowCompletes(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	ctx := context.Background()
	const now = 1_700_000_000_000
	root := &jobqdriver.FlowNode{Job: flowJob("parents", "p", nil), Children: []*jobqdriver.FlowNode{
		{Job: flowJob("kids", "c1", nil)},
		{Job: flowJob("kids", "c2", nil)},
	}}
	if err := d.AddFlow(ctx, root, now); err != nil {
		t.Fatal(err)
	}
	p := root.Job
	if p.ID == "" || root.Children[0].Job.ParentKey != d.QueueKey("parents")+":"+p.ID {
		t.Fatalf("ids not written back: %+v %+v", p, root.Children[0].Job)
	}
	if st, _ := d.JobState(ctx, "parents", p.ID); st != jobqdriver.StateWaitingChildren {
		t.Fatalf("parent state %s", st)
	}
	kids := fetchN(t, d, "kids", 2, now).Jobs
	if len(kids) != 2 {
		t.Fatalf("kids = %d", len(kids))
	}
	// a parent cannot finish with pending children
	finishOK(t, d, kids[0], `1`, now)
	if st, _ := d.JobState(ctx, "parents", p.ID); st != jobqdriver.StateWaitingChildren {
		t.Fatalf("parent released early: %s", st)
	}
	finishOK(t, d, kids[1], `2`, now)
	pj := fetchN(t, d, "parents", 1, now).Jobs
	if len(pj) != 1 || pj[0].ID != p.ID {
		t.Fatalf("parent not runnable: %v", ids(pj))
	}
	vals, err := d.ChildrenValues(ctx, "parents", p.ID)
	if err != nil || len(vals) != 2 {
		t.Fatalf("children values = %v %v", vals, err)
	}
}

func TestFlowFailurePolicies(t *testing.T) {
	t.Parallel()
	const now = 1_700_000_000_000
	cases := []struct {
		name      string
		mod       func(*jobqdriver.Job)
		wantState string
		wantDefa  bool
		wantFail  bool
	}{
		{"none", nil, jobqdriver.StateWaitingChildren, false, false},
		{"fpof", func(j *jobqdriver.Job) { j.Opts.FailParentOnFailure = true }, jobqdriver.StateWaiting, true, false},
		{"cpof", func(j *jobqdriver.Job) { j.Opts.ContinueParentOnFailure = true }, jobqdriver.StateWaiting, false, true},
		{"idof", func(j *jobqdriver.Job) { j.Opts.IgnoreDependencyOnFail = true }, jobqdriver.StateWaiting, false, true},
		{"rdof", func(j *jobqdriver.Job) { j.Opts.RemoveDependencyOnFail = true }, jobqdriver.StateWaiting, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := newTestDriver(t)
			ctx := context.Background()
			root := &jobqdriver.FlowNode{Job: flowJob("p", "p", nil), Children: []*jobqdriver.FlowNode{
				{Job: flowJob("k", "c", tc.mod)},
			}}
			if err := d.AddFlow(ctx, root, now); err != nil {
				t.Fatal(err)
			}
			kid := fetchN(t, d, "k", 1, now).Jobs[0]
			failJob(t, d, kid, now)
			st, _ := d.JobState(ctx, "p", root.Job.ID)
			if st != tc.wantState {
				t.Fatalf("parent state = %s, want %s", st, tc.wantState)
			}
			pj, _ := d.GetJob(ctx, "p", root.Job.ID)
			if (pj.DeferredFailure != "") != tc.wantDefa {
				t.Fatalf("defa = %q", pj.DeferredFailure)
			}
			f, _ := d.ChildrenFailures(ctx, "p", root.Job.ID)
			if (len(f) == 1) != tc.wantFail {
				t.Fatalf("children failures = %v", f)
			}
		})
	}
}

func TestAddWithMissingParent(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	j := job("c", "n")
	j.ParentKey = d.QueueKey("p") + ":nope"
	_, err := d.Add(context.Background(), "q", []*jobqdriver.Job{j}, 1)
	if !errors.Is(err, jobqdriver.ErrParentMissing) {
		t.Fatalf("err = %v", err)
	}
}

// TestFlowIDsWithColons: job ids may contain colons (BullMQ allows
// exactly three parts, as in "repeat:x:1"); parent and child keys are split
// at the queue key, not at the last colon.
func TestFlowIDsWithColons(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	ctx := context.Background()
	const now = 1_700_000_000_000
	withID := func(id string) func(*jobqdriver.Job) { return func(j *jobqdriver.Job) { j.ID = id } }
	root := &jobqdriver.FlowNode{Job: flowJob("parents", "p", withID("order:42:v1")), Children: []*jobqdriver.FlowNode{
		{Job: flowJob("kids", "c1", withID("line:1:a"))},
		{Job: flowJob("kids", "c2", withID("line:2:b"))},
	}}
	if err := d.AddFlow(ctx, root, now); err != nil {
		t.Fatal(err)
	}
	// a child added later through Add with a parent key (Go splits it)
	late := job("line:3:c", "c3")
	late.ParentKey = d.QueueKey("parents") + ":order:42:v1"
	mustAdd(t, d, "kids", now, late)
	lj, _ := d.GetJob(ctx, "kids", "line:3:c")
	if lj.Parent == nil || lj.Parent.ID != "order:42:v1" || lj.Parent.QueueKey != d.QueueKey("parents") {
		t.Fatalf("parent field of a late child: %+v", lj.Parent)
	}
	kids := fetchN(t, d, "kids", 3, now).Jobs
	if len(kids) != 3 {
		t.Fatalf("kids = %v", ids(kids))
	}
	for i, k := range kids {
		finishOK(t, d, k, fmt.Sprint(i), now)
	}
	if st, _ := d.JobState(ctx, "parents", "order:42:v1"); st != jobqdriver.StateWaiting {
		t.Fatalf("parent state after its children completed = %s", st)
	}
	vals, _ := d.ChildrenValues(ctx, "parents", "order:42:v1")
	if len(vals) != 3 {
		t.Fatalf("children values %v", vals)
	}
	// a completed child registered with a new parent counts as processed
	root2 := &jobqdriver.FlowNode{Job: flowJob("parents", "p2", withID("order:43:v1")), Children: []*jobqdriver.FlowNode{
		{Job: flowJob("kids", "c1", withID("line:1:a"))},
	}}
	if err := d.AddFlow(ctx, root2, now); err != nil {
		t.Fatal(err)
	}
	if st, _ := d.JobState(ctx, "parents", "order:43:v1"); st != jobqdriver.StateWaiting {
		t.Fatalf("parent of an already completed child: %s", st)
	}
	// removing a parent with its children finds them by key
	if err := d.Remove(ctx, "parents", "order:42:v1", true); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"line:2:b", "line:3:c"} {
		if _, err := d.GetJob(ctx, "kids", id); !errors.Is(err, jobqdriver.ErrJobNotFound) {
			t.Fatalf("child %s not removed with its parent: %v", id, err)
		}
	}
	// queue names with a colon are refused: keys could not be split
	if _, err := d.Add(ctx, "a:b", []*jobqdriver.Job{job("x", "n")}, now); err == nil {
		t.Fatal("queue name with a colon accepted")
	}
}

func TestSplitJobKey(t *testing.T) {
	for _, tc := range []struct{ prefix, key, q, id string }{
		{"bull", "bull:q:1", "bull:q", "1"},
		{"bull", "bull:q:repeat:s:17", "bull:q", "repeat:s:17"},
		{"{app:bull}", "{app:bull}:q:a:b:c", "{app:bull}:q", "a:b:c"},
		{"bull", "other:q:a:b", "other:q:a", "b"}, // another prefix: last colon
		{"bull", "nocolon", "", "nocolon"},
	} {
		if q, id := splitJobKey(tc.prefix, tc.key); q != tc.q || id != tc.id {
			t.Errorf("splitJobKey(%q, %q) = %q, %q; want %q, %q", tc.prefix, tc.key, q, id, tc.q, tc.id)
		}
	}
}
