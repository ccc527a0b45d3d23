package jobqsqlite

import (
	"context"
	"testing"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// fetchID fetches until it gets job id from queue (other jobs stay active).
func fetchID(t *testing.T, d *Driver, queue, id string, now int64) *jobqdriver.Job {
	t.Helper()
	for range 10 {
		for _, j := range fetchN(t, d, queue, 1, now).Jobs {
			if j.ID == id {
				return j
			}
		}
	}
	t.Fatalf("job %s/%s not fetched", queue, id)
	return nil
}

func TestFlowCompletes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, _ := openTest(t)
	root := &jobqdriver.FlowNode{Job: &jobqdriver.Job{Queue: "parents", Name: "p"}, Children: []*jobqdriver.FlowNode{
		{Job: &jobqdriver.Job{Queue: "kids", ID: "k1"}},
		{Job: &jobqdriver.Job{Queue: "kids", ID: "k2"}},
	}}
	if err := d.AddFlow(ctx, root, 1000); err != nil {
		t.Fatal(err)
	}
	pid := root.Job.ID
	if pid == "" || root.Children[0].Job.ParentKey != "jobq:parents:"+pid {
		t.Fatalf("ids not written back: %q %q", pid, root.Children[0].Job.ParentKey)
	}
	if s, _ := d.JobState(ctx, "parents", pid); s != "waiting-children" {
		t.Fatalf("parent state %s", s)
	}
	k1 := fetchID(t, d, "kids", "k1", 1000)
	complete(t, d, k1, 1001, nil)
	if s, _ := d.JobState(ctx, "parents", pid); s != "waiting-children" {
		t.Fatalf("parent released early: %s", s)
	}
	k2 := fetchID(t, d, "kids", "k2", 1000)
	complete(t, d, k2, 1002, &jobqdriver.Keep{})
	if s, _ := d.JobState(ctx, "parents", pid); s != "waiting" {
		t.Fatalf("parent state %s", s)
	}
	vals, err := d.ChildrenValues(ctx, "parents", pid)
	if err != nil || len(vals) != 2 || string(vals["jobq:kids:k1"]) != `"ok"` {
		t.Fatalf("values %v %v", vals, err)
	}
	// A child added later to an active parent blocks its completion.
	p := fetchID(t, d, "parents", pid, 2000)
	mustAdd(t, d, "kids", 2000, &jobqdriver.Job{ID: "late", ParentKey: "jobq:parents:" + pid})
	errs, _, err := d.Finish(ctx, []jobqdriver.FinishParams{{Queue: "parents", ID: pid, Token: p.Token, Now: 2001}}, nil)
	if err != nil || !errorsIs(errs[0], jobqdriver.ErrPendingChildren) {
		t.Fatalf("finish parent: %v %v", errs, err)
	}
	if _, err := d.Add(ctx, "kids", []*jobqdriver.Job{{ParentKey: "jobq:parents:missing"}}, 1); !errorsIs(err, jobqdriver.ErrParentMissing) {
		t.Fatalf("missing parent: %v", err)
	}
}

func TestFlowFailurePolicies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		opts       jobqdriver.Opts
		wantState  string
		wantFailed bool // recorded in ChildrenFailures
	}{
		{"none", jobqdriver.Opts{}, "waiting-children", false},
		{"fpof", jobqdriver.Opts{FailParentOnFailure: true}, "failed", false},
		{"idof", jobqdriver.Opts{IgnoreDependencyOnFail: true}, "waiting-children", true}, // other child pending
		{"cpof", jobqdriver.Opts{ContinueParentOnFailure: true}, "waiting", true},
		{"rdof", jobqdriver.Opts{RemoveDependencyOnFail: true}, "waiting-children", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			d, _ := openTest(t)
			root := &jobqdriver.FlowNode{Job: &jobqdriver.Job{Queue: "p", ID: "parent"}, Children: []*jobqdriver.FlowNode{
				{Job: &jobqdriver.Job{Queue: "c", ID: "bad", Opts: tt.opts}},
				{Job: &jobqdriver.Job{Queue: "c", ID: "good"}},
			}}
			if err := d.AddFlow(ctx, root, 1000); err != nil {
				t.Fatal(err)
			}
			fail(t, d, fetchID(t, d, "c", "bad", 1000), 1001)
			if s, _ := d.JobState(ctx, "p", "parent"); s != tt.wantState {
				t.Fatalf("parent state %s, want %s", s, tt.wantState)
			}
			f, _ := d.ChildrenFailures(ctx, "p", "parent")
			if (f["jobq:c:bad"] == "boom") != tt.wantFailed {
				t.Fatalf("failures %v", f)
			}
			if tt.name == "fpof" {
				j, _ := d.GetJob(ctx, "p", "parent")
				if j.FailedReason != "child jobq:c:bad failed" {
					t.Fatalf("reason %q", j.FailedReason)
				}
				return
			}
			if tt.name == "idof" || tt.name == "rdof" {
				complete(t, d, fetchID(t, d, "c", "good", 1002), 1003, nil)
				if s, _ := d.JobState(ctx, "p", "parent"); s != "waiting" {
					t.Fatalf("parent after good child: %s", s)
				}
			}
		})
	}
}

func TestFlowFailParentPropagates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, _ := openTest(t)
	fp := jobqdriver.Opts{FailParentOnFailure: true}
	root := &jobqdriver.FlowNode{Job: &jobqdriver.Job{Queue: "q", ID: "top"}, Children: []*jobqdriver.FlowNode{
		{Job: &jobqdriver.Job{Queue: "q", ID: "mid", Opts: fp}, Children: []*jobqdriver.FlowNode{
			{Job: &jobqdriver.Job{Queue: "q", ID: "leaf", Opts: fp}},
		}},
	}}
	if err := d.AddFlow(ctx, root, 1000); err != nil {
		t.Fatal(err)
	}
	fail(t, d, fetchID(t, d, "q", "leaf", 1000), 1001)
	for _, id := range []string{"mid", "top"} {
		if s, _ := d.JobState(ctx, "q", id); s != "failed" {
			t.Fatalf("%s state %s", id, s)
		}
	}
	if err := d.Remove(ctx, "q", "top", true); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"top", "mid", "leaf"} {
		if s, _ := d.JobState(ctx, "q", id); s != "unknown" {
			t.Fatalf("%s not removed: %s", id, s)
		}
	}
}
