package jobqredis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq"
)

// Fidelity tests for issue 16: what BullMQ 6.7 clients observe of jobq's
// queues, one difference at a time. testdata/interop/fidelity.js is the
// Node side.

// fidelity runs a fidelity.js command for queue.
func (n *nodeRunner) fidelity(queue, cmd string, arg, v any) {
	n.t.Helper()
	n.forQueue(queue).script("fidelity.js", cmd, arg, v)
}

// streamEvents returns the queue's events stream as "name k=v …" lines,
// oldest first.
func streamEvents(t *testing.T, d *Driver, queue string) []string {
	t.Helper()
	msgs, err := d.client.XRange(context.Background(), d.key(queue, "events"), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, streamEntry(m.Values))
	}
	return out
}

// streamEntry renders a stream entry's fields in a stable order: the
// event name, then the other fields sorted.
func streamEntry(v map[string]any) string {
	var b strings.Builder
	b.WriteString(fmt.Sprint(v["event"]))
	for _, k := range sortedKeys(v) {
		if k != "event" {
			fmt.Fprintf(&b, " %s=%v", k, v[k])
		}
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// TestFidelityPausedCountedOnce: after Node pauses a queue, BullMQ 6.7's
// getJobCounts reports its jobs as waiting only (paused reads the legacy
// paused list, which v6 never writes); jobq must count them once too.
func TestFidelityPausedCountedOnce(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	ctx := context.Background()
	node := newNode(t, d, "pz")
	node.fidelity("pz", "pause", nil, &struct{}{})
	q := jobq.NewQueue("pz", d, nil)
	for i := 0; i < 3; i++ {
		if _, err := q.Add(ctx, "n", map[string]int{"i": i}, nil); err != nil {
			t.Fatal(err)
		}
	}
	var nodeCounts map[string]int64
	node.fidelity("pz", "counts", nil, &nodeCounts)
	if nodeCounts["waiting"] != 3 || nodeCounts["paused"] != 0 {
		t.Fatalf("BullMQ counts %v; want waiting 3, paused 0", nodeCounts)
	}
	got, err := q.GetJobCounts(ctx, jobq.StateWaiting, jobq.StatePaused)
	if err != nil {
		t.Fatal(err)
	}
	if got[jobq.StateWaiting] != 3 || got[jobq.StatePaused] != 0 {
		t.Fatalf("jobq counts %v; want waiting 3, paused 0 (as BullMQ: %v)", got, nodeCounts)
	}
}

// TestFidelityEventsLikeBullMQ: the events stream gets what BullMQ 6.7's
// scripts write: no "drained" while a delayed job is pending, only
// "cleaned" on clean, nothing on drain.
func TestFidelityEventsLikeBullMQ(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	ctx := context.Background()
	q := jobq.NewQueue("ev", d, nil)
	if _, err := q.Add(ctx, "later", nil, &jobq.JobOptions{JobID: "later", Delay: time.Hour}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b"} {
		if _, err := q.Add(ctx, "now", nil, &jobq.JobOptions{JobID: id}); err != nil {
			t.Fatal(err)
		}
	}
	w := startGoWorker(t, d, "ev", func(context.Context, *jobq.Job) (any, error) { return 1, nil }, &jobq.WorkerConfig{Concurrency: 1})
	waitCounts(t, d, "ev", map[string]int64{"completed": 2, "delayed": 1}, 10*time.Second)
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, e := range streamEvents(t, d, "ev") {
		if e == "drained" {
			t.Fatalf("drained emitted while a delayed job is pending: %q", streamEvents(t, d, "ev"))
		}
	}

	before := len(streamEvents(t, d, "ev"))
	if _, err := q.Clean(ctx, 0, 0, jobq.StateCompleted); err != nil {
		t.Fatal(err)
	}
	if got := streamEvents(t, d, "ev")[before:]; len(got) != 1 || got[0] != "cleaned count=2" {
		t.Fatalf("clean wrote events %q; want only \"cleaned count=2\"", got)
	}
	for _, id := range []string{"c", "e"} {
		if _, err := q.Add(ctx, "now", nil, &jobq.JobOptions{JobID: id}); err != nil {
			t.Fatal(err)
		}
	}
	before = len(streamEvents(t, d, "ev"))
	if err := q.Drain(ctx, true); err != nil {
		t.Fatal(err)
	}
	if got := streamEvents(t, d, "ev")[before:]; len(got) != 0 {
		t.Fatalf("drain wrote events %q; want none", got)
	}
	if n, _ := d.client.Exists(ctx, d.jobKey("ev", "later"), d.jobKey("ev", "c")).Result(); n != 0 {
		t.Fatalf("drain left %d of the jobs", n)
	}

	// without delayed jobs, finishing the last job does drain the queue
	if _, err := q.Add(ctx, "now", nil, &jobq.JobOptions{JobID: "f"}); err != nil {
		t.Fatal(err)
	}
	before = len(streamEvents(t, d, "ev"))
	startGoWorker(t, d, "ev", func(context.Context, *jobq.Job) (any, error) { return 1, nil }, &jobq.WorkerConfig{Concurrency: 1})
	waitCounts(t, d, "ev", map[string]int64{"completed": 1}, 10*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(strings.Join(streamEvents(t, d, "ev")[before:], ","), "drained") {
		if time.Now().After(deadline) {
			t.Fatalf("no drained after the last job: %q", streamEvents(t, d, "ev")[before:])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// customIDCases are custom job ids with BullMQ 6.7's verdict, from its
// rules: an id may not be "0" nor start with "0:", may not equal
// String(parseInt(id, 10)), and may contain ':' only as three parts.
var customIDCases = []struct {
	id     string
	refuse bool
}{
	{"42", true}, {"-7", true}, {"0", true}, {"0:a:b", true}, {"NaN", true},
	{"9007199254740992", true}, {"100000000000000000000", true}, {"123456789012345680", true},
	{"007", false}, {"+5", false}, {"-0", false}, {" 5", false}, {"5 ", false}, {"1e3", false},
	{"0x10", false}, {"Infinity", false}, {"9007199254740993", false},
	{"1000000000000000000000", false}, {"123456789012345678", false},
	{"media-1", false}, {"a:b:c", false}, {"a:b", true}, {"1:2:3", false}, {"x", false},
}

// TestFidelityCustomJobIDRule: real BullMQ and jobq accept and refuse the
// same custom ids, and both agree with the table.
func TestFidelityCustomJobIDRule(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	node := newNode(t, d, "idn")
	ids := make([]string, len(customIDCases))
	for i, c := range customIDCases {
		ids[i] = c.id
	}
	var verdicts map[string]any
	node.fidelity("idn", "ids", map[string]any{"ids": ids}, &verdicts)
	q := jobq.NewQueue("idg", d, nil)
	for _, c := range customIDCases {
		v, ok := verdicts[c.id]
		if !ok {
			t.Fatalf("no BullMQ verdict for %q", c.id)
		}
		nodeRefused := v != true
		if nodeRefused != c.refuse {
			t.Errorf("BullMQ on %q: %v; table says refuse=%v", c.id, v, c.refuse)
		}
		_, err := q.Add(context.Background(), "idcheck", nil, &jobq.JobOptions{JobID: c.id})
		if goRefused := errors.Is(err, jobq.ErrInvalidOption); goRefused != c.refuse {
			t.Errorf("jobq on %q: %v; want refuse=%v (BullMQ: %v)", c.id, err, c.refuse, v)
		}
	}
}

// optsCases are the same options as a Node producer writes them (key order
// included) and as a Go producer gives them.
var optsCases = []struct {
	node string
	goo  *jobq.JobOptions
}{
	{`{}`, nil},
	{`{"removeOnComplete":{"count":5}}`, &jobq.JobOptions{RemoveOnComplete: jobq.KeepFor(0, 5)}},
	{`{"removeOnComplete":5,"removeOnFail":true}`, &jobq.JobOptions{RemoveOnComplete: jobq.KeepLast(5), RemoveOnFail: jobq.RemoveAll()}},
	{`{"removeOnComplete":{"age":60,"count":3},"removeOnFail":{"age":10}}`, &jobq.JobOptions{RemoveOnComplete: jobq.KeepFor(time.Minute, 3), RemoveOnFail: jobq.KeepFor(10*time.Second, 0)}},
	{`{"attempts":3,"backoff":{"type":"fixed","delay":1000}}`, &jobq.JobOptions{Attempts: 3, Backoff: &jobq.Backoff{Type: jobq.BackoffFixed, Delay: time.Second}}},
	{`{"attempts":4,"backoff":{"type":"exponential","delay":500,"jitter":0.5}}`, &jobq.JobOptions{Attempts: 4, Backoff: &jobq.Backoff{Type: jobq.BackoffExponential, Delay: 500 * time.Millisecond, Jitter: 0.5}}},
	{`{"jobId":"a/b<&>","delay":5000,"priority":7}`, &jobq.JobOptions{JobID: "a/b<&>", Delay: 5 * time.Second, Priority: 7}},
	{`{"deduplication":{"id":"d1","ttl":1000}}`, &jobq.JobOptions{Deduplication: &jobq.Deduplication{ID: "d1", TTL: time.Second}}},
	{`{"lifo":true,"keepLogs":3}`, &jobq.JobOptions{LIFO: true, KeepLogs: 3}},
	{`{"jobId":"x1","attempts":2}`, &jobq.JobOptions{JobID: "x1", Attempts: 2}},
	// a child of a Node parent, named by BullMQ's qualified queue name
	{`{"parent":{"id":"par","queue":"$Q"},"failParentOnFailure":true}`, &jobq.JobOptions{Parent: &jobq.Parent{ID: "par", Queue: "$Q"}, OnChildFailure: jobq.ChildFailureFailParent}},
	{`{"parent":{"id":"par","queue":"$Q"},"ignoreDependencyOnFailure":true}`, &jobq.JobOptions{Parent: &jobq.Parent{ID: "par", Queue: "$Q"}, OnChildFailure: jobq.ChildFailureIgnore}},
}

// TestFidelityOptsJSON: for the same options, the job hash a Go producer
// writes holds the same opts (byte for byte), parent and parentKey as the
// one BullMQ writes; a Go child under a Node parent carries opts.parent.
func TestFidelityOptsJSON(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	ctx := context.Background()
	node := newNode(t, d, "on")
	// the parent of the child cases, one per queue, added by Node
	var parents struct{ IDs []string }
	node.fidelity("on", "add", map[string]any{"jobs": []any{map[string]any{"name": "p", "opts": map[string]any{"jobId": "par"}}}}, &parents)
	node.fidelity("og", "add", map[string]any{"jobs": []any{map[string]any{"name": "p", "opts": map[string]any{"jobId": "par"}}}}, &parents)
	jobs := make([]any, len(optsCases))
	for i, c := range optsCases {
		jobs[i] = map[string]any{"name": fmt.Sprintf("c%d", i), "opts": json.RawMessage(c.node)}
	}
	var added struct{ IDs []string }
	node.fidelity("on", "add", map[string]any{"jobs": jobs}, &added)
	if len(added.IDs) != len(optsCases) {
		t.Fatalf("node added %v", added.IDs)
	}
	q := jobq.NewQueue("og", d, nil)
	goIDs := make([]string, len(optsCases))
	for i, c := range optsCases {
		o := c.goo
		if o != nil && o.Parent != nil {
			cp := *o
			cp.Parent = &jobq.Parent{ID: o.Parent.ID, Queue: d.QueueKey("og")}
			o = &cp
		}
		j, err := q.Add(ctx, fmt.Sprintf("c%d", i), nil, o)
		if err != nil {
			t.Fatalf("case %s: %v", c.node, err)
		}
		goIDs[i] = j.ID
		nodeHash := d.client.HMGet(ctx, d.jobKey("on", added.IDs[i]), "opts", "parent", "parentKey").Val()
		goHash := d.client.HMGet(ctx, d.jobKey("og", j.ID), "opts", "parent", "parentKey").Val()
		for f, name := range []string{"opts", "parent", "parentKey"} {
			nv := strings.ReplaceAll(fmt.Sprint(nodeHash[f]), d.QueueKey("on"), "<Q>")
			gv := strings.ReplaceAll(fmt.Sprint(goHash[f]), d.QueueKey("og"), "<Q>")
			if nv != gv {
				t.Errorf("case %s: %s\n go   %s\n node %s", c.node, name, gv, nv)
			}
		}
	}
	// the literal BullMQ form for the child case, independent of Node
	want := `{"parent":{"id":"par","queue":"<Q>"},"fpof":true,"attempts":0}`
	raw := d.client.HGet(ctx, d.jobKey("og", goIDs[10]), "opts").Val()
	if got := strings.ReplaceAll(raw, d.QueueKey("og"), "<Q>"); got != want {
		t.Errorf("Go child opts %s; want %s", got, want)
	}
}
