package jobqredis

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq"
)

// flowPolicies are the per-child failure policies the cross-language flow
// tests cover: the Node option name, the jobq policy, and whether the
// parent fails, how many children values it ends with and whether the
// failure is recorded in the parent's ":failed" hash. The failing child
// sleeps 300ms so that its sibling has completed when it fails: a
// continueParentOnFailure parent is runnable at once, and completing a
// parent whose other children are still pending is refused (BullMQ's -4,
// jobq.ErrPendingChildren).
var flowPolicies = []struct {
	name     string
	node     string
	goPolicy jobq.ChildFailurePolicy
	fails    bool
	values   int
	recorded bool
}{
	{"plain", "", jobq.ChildFailureWait, false, 2, false},
	{"fpof", "failParentOnFailure", jobq.ChildFailureFailParent, true, 1, false},
	{"idof", "ignoreDependencyOnFailure", jobq.ChildFailureIgnore, false, 1, true},
	{"cpof", "continueParentOnFailure", jobq.ChildFailureContinue, false, 1, true},
	{"rdof", "removeDependencyOnFailure", jobq.ChildFailureRemove, false, 1, false},
}

// checkFlows compares the parents' outcome as Go and Node see them.
func checkFlows(t *testing.T, d *Driver, node *nodeRunner, parentQueue, childQueue, childBy string) {
	t.Helper()
	ctx := context.Background()
	var parents []string
	for _, p := range flowPolicies {
		parents = append(parents, "P-"+p.name)
	}
	var st proofState
	node.forQueue(parentQueue).proof("state", obj{"parents": parents}, &st)
	q := jobq.NewQueue(parentQueue, d, nil)
	for _, p := range flowPolicies {
		id := "P-" + p.name
		np := st.Parents[id]
		gj, err := q.GetJob(ctx, id)
		if err != nil || np == nil {
			t.Fatalf("parent %s: go %v, node %+v", id, err, np)
		}
		gst, _ := gj.State(ctx)
		if string(gst) != np.State {
			t.Fatalf("parent %s: go state %s, node state %s", id, gst, np.State)
		}
		want := "completed"
		if p.fails {
			want = "failed"
		}
		if np.State != want {
			t.Fatalf("parent %s state %s, want %s (%s)", id, np.State, want, np.FailedReason)
		}
		if p.fails && !strings.Contains(np.FailedReason, "bad-"+p.name) {
			t.Fatalf("parent %s failed reason %q", id, np.FailedReason)
		}
		vals, err := gj.ChildrenValues(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(vals) != len(np.Children) {
			t.Fatalf("parent %s children values: go %v, node %v", id, vals, np.Children)
		}
		for k, v := range vals {
			if !jsonEq(np.Children[k], string(v)) || !strings.Contains(string(v), `"by":"`+childBy+`"`) {
				t.Fatalf("parent %s child %s value: go %s, node %s", id, k, v, np.Children[k])
			}
			if !strings.HasSuffix(k, ":"+childQueue+":ok-"+p.name) && !strings.HasSuffix(k, ":"+childQueue+":ok2-"+p.name) {
				t.Fatalf("parent %s children values key %s", id, k)
			}
		}
		if p.values >= 0 && len(vals) != p.values {
			t.Fatalf("parent %s has %d children values, want %d", id, len(vals), p.values)
		}
		fails, _ := gj.ChildrenFailures(ctx)
		if len(fails) != len(np.Ignored) {
			t.Fatalf("parent %s children failures: go %v, node %v", id, fails, np.Ignored)
		}
		for k, v := range fails {
			if np.Ignored[k] != v {
				t.Fatalf("parent %s failure of %s: go %q node %q", id, k, v, np.Ignored[k])
			}
		}
		if p.recorded != (len(fails) == 1) {
			t.Fatalf("parent %s children failures %v", id, fails)
		}
		if !p.fails {
			// the parent's processor saw the same children values
			var rv struct{ Children map[string]json.RawMessage }
			if err := json.Unmarshal(np.ReturnValue, &rv); err != nil || len(rv.Children) > len(vals) {
				t.Fatalf("parent %s returnvalue %s", id, np.ReturnValue)
			}
		}
		t.Logf("parent %s: %s, values %d, failures %v, node failed-children %v", id, np.State, len(vals), fails, np.Failed)
	}
}

// TestInteropFlowGoParentNodeChildren (proof point 10): a Go FlowProducer
// adds a parent per failure policy, Node workers process the children and
// a Go worker the parents; parent states, children values and recorded
// failures agree between Go and Node (getChildrenValues,
// getIgnoredChildrenFailures).
func TestInteropFlowGoParentNodeChildren(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	node := newNode(t, d, "fc")
	ctx := context.Background()
	fp := jobq.NewFlowProducer(d, nil)
	for _, p := range flowPolicies {
		ok2 := jobq.FlowJob{Name: "ok2", Queue: "fc", Data: obj{"x": 2}, Opts: &jobq.JobOptions{JobID: "ok2-" + p.name}}
		bad := jobq.FlowJob{Name: "bad", Queue: "fc", Data: obj{"alwaysFail": true, "sleepMs": 300},
			Opts: &jobq.JobOptions{JobID: "bad-" + p.name, OnChildFailure: p.goPolicy}}
		second := bad
		if p.name == "plain" {
			second = ok2
		}
		_, err := fp.Add(ctx, jobq.FlowJob{Name: "parent", Queue: "fp", Data: obj{"parent": true},
			Opts: &jobq.JobOptions{JobID: "P-" + p.name},
			Children: []jobq.FlowJob{
				{Name: "ok", Queue: "fc", Data: obj{"x": 1}, Opts: &jobq.JobOptions{JobID: "ok-" + p.name}},
				second,
			}})
		if err != nil {
			t.Fatal(err)
		}
	}
	kids := node.bgProof("work", obj{"concurrency": 5, "timeout": 30000})
	startGoWorker(t, d, "fp", goProcessor(nil), &jobq.WorkerConfig{Name: "go-parents", Concurrency: 2, DrainDelay: 100 * time.Millisecond})
	waitCounts(t, d, "fp", map[string]int64{"completed": 4, "failed": 1}, 20*time.Second)
	waitCounts(t, d, "fc", map[string]int64{"completed": 6, "failed": 4}, 20*time.Second)
	kids.stop(nil)
	checkFlows(t, d, node, "fp", "fc", "node")
}

// TestInteropFlowNodeParentGoChildren (proof point 10, the other way): a
// Node FlowProducer adds the same flows; Go workers process the children
// and a Node worker the parents.
func TestInteropFlowNodeParentGoChildren(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	node := newNode(t, d, "np")
	var flows []any
	for _, p := range flowPolicies {
		second := obj{"name": "bad", "queueName": "nc", "data": obj{"alwaysFail": true, "sleepMs": 300}, "opts": obj{"jobId": "bad-" + p.name}}
		if p.node != "" {
			second["opts"].(obj)[p.node] = true
		} else {
			second = obj{"name": "ok2", "queueName": "nc", "data": obj{"x": 2}, "opts": obj{"jobId": "ok2-" + p.name}}
		}
		flows = append(flows, obj{"name": "parent", "queueName": "np", "data": obj{"parent": true}, "opts": obj{"jobId": "P-" + p.name},
			"children": []any{
				obj{"name": "ok", "queueName": "nc", "data": obj{"x": 1}, "opts": obj{"jobId": "ok-" + p.name}},
				second,
			}})
	}
	var out struct{ IDs [][]string }
	node.proof("flow", obj{"flows": flows}, &out)
	if len(out.IDs) != len(flowPolicies) || out.IDs[0][0] != "P-plain" {
		t.Fatalf("node flow ids %v", out.IDs)
	}
	startGoWorker(t, d, "nc", goProcessor(nil), &jobq.WorkerConfig{Name: "go-children", Concurrency: 5, DrainDelay: 100 * time.Millisecond})
	parents := node.forQueue("np").bgProof("work", obj{"concurrency": 2, "timeout": 30000})
	waitCounts(t, d, "np", map[string]int64{"completed": 4, "failed": 1}, 20*time.Second)
	waitCounts(t, d, "nc", map[string]int64{"completed": 6, "failed": 4}, 20*time.Second)
	parents.stop(nil)
	checkFlows(t, d, node, "np", "nc", "go")
}
