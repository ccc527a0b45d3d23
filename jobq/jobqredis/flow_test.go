package jobqredis

import (
	"context"
	"errors"
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
