package jobqtest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq"
)

// flowTests covers point 4: flows and child failure policies.
func flowTests(t *testing.T, nb newBackendFunc) {
	runGroup(t, nb, []testCase{
		{"TreeAcrossQueues", testFlowTree},
		{"ChildFailureFailParent", testChildFailureFailParent},
		{"ChildFailureIgnore", testChildFailureIgnore},
		{"ChildFailureContinue", testChildFailureContinue},
		{"ParentDoneWithPendingChild", testParentDoneWithPendingChild},
		{"ChildFailureRemove", testChildFailureRemove},
		{"ChildFailureWait", testChildFailureWait},
		{"RemoveWithChildren", testRemoveWithChildren},
	})
}

// flowSetup is a parent queue and a child queue whose jobs complete with
// their name unless named "fail-*", or block on a gate when named "gated*".
type flowSetup struct {
	parent, child *jobq.Queue
	gate          *gate
	parentRuns    recorder[*jobq.Job]
	parentProc    atomic.Pointer[jobq.Processor]
}

func (h *harness) flowSetup() *flowSetup {
	fs := &flowSetup{parent: h.queue("parent", nil), child: h.queue("child", nil), gate: newGate()}
	h.worker(fs.child.Name(), func(ctx context.Context, j *jobq.Job) (any, error) {
		switch {
		case len(j.Name) >= 5 && j.Name[:5] == "fail-":
			return nil, errors.New(j.Name)
		case len(j.Name) >= 5 && j.Name[:5] == "gated":
			if err := fs.gate.wait(ctx); err != nil {
				return nil, err
			}
		}
		return j.Name, nil
	}, &jobq.WorkerConfig{Concurrency: 4})
	h.worker(fs.parent.Name(), func(ctx context.Context, j *jobq.Job) (any, error) {
		fs.parentRuns.add(j)
		if p := fs.parentProc.Load(); p != nil {
			return (*p)(ctx, j)
		}
		return "parent-done", nil
	}, nil)
	h.t.Cleanup(fs.gate.open) // runs before the workers' Close
	return fs
}

func (h *harness) addFlow(f jobq.FlowJob) *jobq.FlowNode {
	h.t.Helper()
	n, err := jobq.NewFlowProducer(h.drv, nil).Add(h.ctx, f)
	if err != nil {
		h.t.Fatalf("add flow: %v", err)
	}
	return n
}

func testFlowTree(h *harness) {
	t := h.t
	fs := h.flowSetup()
	other := h.queue("other", nil)
	h.worker(other.Name(), func(ctx context.Context, j *jobq.Job) (any, error) {
		return map[string]string{"from": j.Name}, nil
	}, nil)
	root := h.addFlow(jobq.FlowJob{
		Name: "root", Queue: fs.parent.Name(), Data: map[string]int{"n": 1},
		Children: []jobq.FlowJob{
			{Name: "gated-1", Queue: fs.child.Name()},
			{Name: "c2", Queue: other.Name()},
		},
	})
	if root.Job.ID == "" || len(root.Children) != 2 || root.Children[0].Job.ID == "" || root.Children[1].Job.ID == "" {
		t.Fatalf("flow node without ids: %+v", root)
	}
	c2 := root.Children[1].Job
	h.waitState(other, c2.ID, jobq.StateCompleted)
	if s := h.state(fs.parent, root.Job.ID); s != jobq.StateWaitingChildren {
		t.Fatalf("parent with a pending child is %s, want waiting-children", s)
	}
	if got := h.job(other, c2.ID); got.ParentKey != root.Job.Key() {
		t.Errorf("child ParentKey = %q, want %q", got.ParentKey, root.Job.Key())
	}
	fs.gate.open()
	done := h.waitState(fs.parent, root.Job.ID, jobq.StateCompleted)
	wantJSON(t, "parent return value", done.ReturnValue, `"parent-done"`)
	runs := fs.parentRuns.all()
	if len(runs) != 1 {
		t.Fatalf("parent ran %d times", len(runs))
	}
	vals, err := runs[0].ChildrenValues(h.ctx)
	if err != nil {
		t.Fatalf("ChildrenValues: %v", err)
	}
	want := map[string]string{
		root.Children[0].Job.Key(): `"gated-1"`,
		c2.Key():                   `{"from":"c2"}`,
	}
	if len(vals) != len(want) {
		t.Errorf("ChildrenValues keys = %v, want %v", slices.Collect(maps.Keys(vals)), slices.Collect(maps.Keys(want)))
	}
	for k, v := range want {
		wantJSON(t, "ChildrenValues["+k+"]", vals[k], v)
	}
}

func testChildFailureFailParent(h *harness) {
	t := h.t
	fs := h.flowSetup()
	root := h.addPolicyFlow(fs, "fail-x", jobq.ChildFailureFailParent)
	h.waitState(fs.child, root.Children[0].Job.ID, jobq.StateFailed)
	h.waitState(fs.parent, root.Job.ID, jobq.StateFailed)
	if n := fs.parentRuns.len(); n != 0 {
		t.Errorf("failed parent ran %d times", n)
	}
}

func testChildFailureIgnore(h *harness) {
	t := h.t
	fs := h.flowSetup()
	root := h.addPolicyFlow(fs, "fail-ignored", jobq.ChildFailureIgnore)
	failed := root.Children[0].Job
	h.waitState(fs.child, failed.ID, jobq.StateFailed)
	h.parentKeepsWaiting(fs, root)
	fs.gate.open()
	h.waitState(fs.parent, root.Job.ID, jobq.StateCompleted)
	runs := fs.parentRuns.all()
	if len(runs) != 1 {
		t.Fatalf("parent ran %d times", len(runs))
	}
	fails, err := runs[0].ChildrenFailures(h.ctx)
	if err != nil || fails[failed.Key()] != "fail-ignored" {
		t.Errorf("ChildrenFailures = %v, %v; want %s: fail-ignored", fails, err, failed.Key())
	}
	vals, _ := runs[0].ChildrenValues(h.ctx)
	if _, ok := vals[failed.Key()]; ok || len(vals) != 1 {
		t.Errorf("ChildrenValues = %v, want only the completed child", vals)
	}
}

func testChildFailureContinue(h *harness) {
	t := h.t
	fs := h.flowSetup()
	release := newGate()
	t.Cleanup(release.open)
	proc := jobq.Processor(func(ctx context.Context, j *jobq.Job) (any, error) {
		return "parent-done", release.wait(ctx)
	})
	fs.parentProc.Store(&proc)
	root := h.addPolicyFlow(fs, "fail-continue", jobq.ChildFailureContinue)
	failed, gated := root.Children[0].Job, root.Children[1].Job
	eventually(t, waitTimeout, func() string {
		if fs.parentRuns.len() == 0 {
			return "parent did not start after a ChildFailureContinue child failed"
		}
		return ""
	})
	if s := h.state(fs.child, gated.ID); s == jobq.StateCompleted {
		t.Errorf("the other child is %s; the parent should have started before it finished", s)
	}
	fails, err := fs.parentRuns.all()[0].ChildrenFailures(h.ctx)
	if err != nil || fails[failed.Key()] != "fail-continue" {
		t.Errorf("ChildrenFailures = %v, %v; want %s: fail-continue", fails, err, failed.Key())
	}
	fs.gate.open()
	h.waitState(fs.child, gated.ID, jobq.StateCompleted)
	release.open()
	eventually(t, waitTimeout, func() string {
		if s := h.state(fs.parent, root.Job.ID); s != jobq.StateCompleted && s != jobq.StateFailed {
			return fmt.Sprintf("parent is %s, want finished", s)
		}
		return ""
	})
}

// testParentDoneWithPendingChild: a parent started early (a child failed
// with ChildFailureContinue) that returns while its other child is still
// running may not complete; as in BullMQ, the attempt fails (with one
// attempt, the parent ends failed) instead of staying active.
func testParentDoneWithPendingChild(h *harness) {
	t := h.t
	fs := h.flowSetup()
	root := h.addPolicyFlow(fs, "fail-continue", jobq.ChildFailureContinue)
	gated := root.Children[1].Job
	h.waitState(fs.parent, root.Job.ID, jobq.StateFailed)
	if s := h.state(fs.child, gated.ID); s != jobq.StateActive {
		t.Errorf("the gated child is %s, want still active when the parent failed", s)
	}
	p, err := fs.parent.GetJob(h.ctx, root.Job.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.FailedReason, "pending children") {
		t.Errorf("parent's failed reason %q, want it to name the pending children", p.FailedReason)
	}
	fs.gate.open()
	h.waitState(fs.child, gated.ID, jobq.StateCompleted)
	never(t, 300*time.Millisecond, func() string {
		if s := h.state(fs.parent, root.Job.ID); s != jobq.StateFailed {
			return fmt.Sprintf("parent is %s after its last child completed, want it to stay failed", s)
		}
		return ""
	})
}

func testChildFailureRemove(h *harness) {
	t := h.t
	fs := h.flowSetup()
	root := h.addPolicyFlow(fs, "fail-removed", jobq.ChildFailureRemove)
	failed := root.Children[0].Job
	h.waitState(fs.child, failed.ID, jobq.StateFailed)
	h.parentKeepsWaiting(fs, root)
	fs.gate.open()
	h.waitState(fs.parent, root.Job.ID, jobq.StateCompleted)
	runs := fs.parentRuns.all()
	fails, err := runs[0].ChildrenFailures(h.ctx)
	if err != nil || len(fails) != 0 {
		t.Errorf("ChildrenFailures = %v, %v; a removed dependency records nothing", fails, err)
	}
	vals, _ := runs[0].ChildrenValues(h.ctx)
	if len(vals) != 1 {
		t.Errorf("ChildrenValues = %v, want only the completed child", vals)
	}
}

func testChildFailureWait(h *harness) {
	t := h.t
	fs := h.flowSetup()
	root := h.addFlow(jobq.FlowJob{
		Name: "root", Queue: fs.parent.Name(),
		Children: []jobq.FlowJob{{Name: "fail-wait", Queue: fs.child.Name()}},
	})
	h.waitState(fs.child, root.Children[0].Job.ID, jobq.StateFailed)
	never(t, 300*time.Millisecond, func() string {
		if s := h.state(fs.parent, root.Job.ID); s != jobq.StateWaitingChildren {
			return fmt.Sprintf("with the default policy the parent of a failed child is %s, want waiting-children", s)
		}
		return ""
	})
}

// testParentOption adds children to an existing waiting-children parent
// with JobOptions.Parent, naming its queue by name and by qualified name.
func testParentOption(h *harness) {
	t := h.t
	fs := h.flowSetup()
	root := h.addFlow(jobq.FlowJob{
		Name: "root", Queue: fs.parent.Name(),
		Children: []jobq.FlowJob{{Name: "gated-first", Queue: fs.child.Name()}},
	})
	late := h.queue("late", nil)
	extra := h.add(late, "late-child", map[string]int{"x": 1}, &jobq.JobOptions{Parent: &jobq.Parent{ID: root.Job.ID, Queue: fs.parent.Name()}})
	// the parent's queue by its qualified name, as BullMQ writes it ("bull:P")
	qualified := fs.parent.Backend().QueueKey(fs.parent.Name())
	extra2 := h.add(late, "late-child", map[string]int{"x": 2}, &jobq.JobOptions{Parent: &jobq.Parent{ID: root.Job.ID, Queue: qualified}})
	for _, id := range []string{extra.ID, extra2.ID} {
		if got := h.job(late, id); got.ParentKey != root.Job.Key() {
			t.Errorf("ParentKey = %q, want %q", got.ParentKey, root.Job.Key())
		}
	}
	fs.gate.open()
	h.waitState(fs.child, root.Children[0].Job.ID, jobq.StateCompleted)
	never(t, 300*time.Millisecond, func() string {
		if s := h.state(fs.parent, root.Job.ID); s != jobq.StateWaitingChildren {
			return fmt.Sprintf("parent is %s while its added child is pending, want waiting-children", s)
		}
		return ""
	})
	h.worker(late.Name(), func(ctx context.Context, j *jobq.Job) (any, error) { return "late-value", nil }, nil)
	h.waitState(fs.parent, root.Job.ID, jobq.StateCompleted)
	vals, err := fs.parentRuns.all()[0].ChildrenValues(h.ctx)
	if err != nil || len(vals) != 3 {
		t.Fatalf("ChildrenValues = %v, %v; want 3", vals, err)
	}
	wantJSON(t, "added child's value", vals[extra.Key()], `"late-value"`)
	wantJSON(t, "child added by qualified name", vals[extra2.Key()], `"late-value"`)
}

func testParentMissing(h *harness) {
	q := h.queue("", nil)
	_, err := q.Add(h.ctx, "orphan", nil, &jobq.JobOptions{Parent: &jobq.Parent{ID: "no-such-parent", Queue: q.Name()}})
	wantErr(h.t, "Add with a missing parent", err, jobq.ErrParentMissing)
}

func testRemoveWithChildren(h *harness) {
	t := h.t
	p, c := h.queue("p", nil), h.queue("c", nil)
	root := h.addFlow(jobq.FlowJob{
		Name: "root", Queue: p.Name(),
		Children: []jobq.FlowJob{{Name: "c1", Queue: c.Name()}, {Name: "c2", Queue: c.Name()}},
	})
	if err := p.Remove(h.ctx, root.Job.ID, true); err != nil {
		t.Fatalf("Remove(children): %v", err)
	}
	for _, n := range append([]*jobq.FlowNode{root}, root.Children...) {
		if _, err := jobq.NewQueue(n.Job.Queue, h.drv, nil).GetJob(h.ctx, n.Job.ID); !errors.Is(err, jobq.ErrJobNotFound) {
			t.Errorf("job %s/%s survived Remove with children: %v", n.Job.Queue, n.Job.ID, err)
		}
	}
}

// addPolicyFlow adds a parent with two children on the child queue: name,
// which fails under policy, and "gated", which completes only when the
// flow setup's gate opens.
func (h *harness) addPolicyFlow(fs *flowSetup, name string, policy jobq.ChildFailurePolicy) *jobq.FlowNode {
	return h.addFlow(jobq.FlowJob{
		Name: "root", Queue: fs.parent.Name(),
		Children: []jobq.FlowJob{
			{Name: name, Queue: fs.child.Name(), Opts: &jobq.JobOptions{OnChildFailure: policy}},
			{Name: "gated", Queue: fs.child.Name()},
		},
	})
}

// parentKeepsWaiting checks for a while that root stays in
// waiting-children (its gated child is still running).
func (h *harness) parentKeepsWaiting(fs *flowSetup, root *jobq.FlowNode) {
	h.t.Helper()
	never(h.t, 300*time.Millisecond, func() string {
		if s := h.state(fs.parent, root.Job.ID); s != jobq.StateWaitingChildren {
			return fmt.Sprintf("parent is %s while a child is still running, want waiting-children", s)
		}
		return ""
	})
}
