package jobqredis

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq"
)

// nodeProc is a long-running Node helper (proof.js work/events, the
// bull-board server): started once it printed its first line, stopped
// with SIGTERM, its last output line decoded.
type nodeProc struct {
	t      *testing.T
	what   string
	cmd    *exec.Cmd
	stderr bytes.Buffer
	first  string
	lines  chan string // every line after the first
	exited chan error
}

// bg starts "node <args...>" in the helper directory and waits for its
// first output line.
func (n *nodeRunner) bg(args ...string) *nodeProc {
	n.t.Helper()
	p := &nodeProc{t: n.t, what: strings.Join(args[:min(2, len(args))], " "), lines: make(chan string, 1<<16), exited: make(chan error, 1)}
	p.cmd = exec.Command("node", args...)
	p.cmd.Dir, p.cmd.Env = n.dir, n.env
	p.cmd.Stderr = &syncWriter{w: &p.stderr}
	pipe, err := p.cmd.StdoutPipe()
	if err != nil {
		n.t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() { _ = p.cmd.Process.Kill(); <-p.exited })
	firstc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		first := true
		for sc.Scan() {
			if first {
				firstc <- sc.Text()
				first = false
				continue
			}
			p.lines <- sc.Text()
		}
		close(firstc)
		close(p.lines)
		p.exited <- p.cmd.Wait()
		close(p.exited)
	}()
	select {
	case l, ok := <-firstc:
		if !ok {
			n.t.Fatalf("node %s exited before starting: %s", p.what, p.stderr.String())
		}
		p.first = l
	case <-time.After(30 * time.Second):
		n.t.Fatalf("node %s did not start: %s", p.what, p.stderr.String())
	}
	return p
}

// stop sends SIGTERM and decodes the last line into v.
func (p *nodeProc) stop(v any) {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(v)
}

// wait waits (at most 60s) for the helper to exit and decodes its last
// line into v (v may be nil).
func (p *nodeProc) wait(v any) {
	p.t.Helper()
	var last string
	timeout := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-p.lines:
			if ok {
				last = l
				continue
			}
		case <-timeout:
			_ = p.cmd.Process.Kill()
			p.t.Fatalf("node %s did not exit: %s", p.what, p.stderr.String())
		}
		break
	}
	if err := <-p.exited; err != nil {
		p.t.Fatalf("node %s: %v\n%s", p.what, err, p.stderr.String())
	}
	if v != nil {
		if err := json.Unmarshal([]byte(last), v); err != nil {
			p.t.Fatalf("node %s output %q: %v\n%s", p.what, last, err, p.stderr.String())
		}
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

// proof runs a one-shot proof.js command and decodes its result.
func (n *nodeRunner) proof(cmd string, arg, v any) {
	n.t.Helper()
	n.script("proof.js", cmd, arg, v)
}

// script runs a one-shot command of a helper script and decodes the last
// line it prints.
func (n *nodeRunner) script(file, cmd string, arg, v any) {
	n.t.Helper()
	b, _ := json.Marshal(arg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, "node", file, cmd, string(b))
	c.Dir, c.Env = n.dir, n.env
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		n.t.Fatalf("node %s %s: %v\n%s", file, cmd, err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), v); err != nil {
		n.t.Fatalf("node %s %s output %q: %v", file, cmd, out, err)
	}
}

// bgProof starts a long-running proof.js command.
func (n *nodeRunner) bgProof(cmd string, arg any) *nodeProc {
	n.t.Helper()
	b, _ := json.Marshal(arg)
	return n.bg("proof.js", cmd, string(b))
}

// forQueue returns a runner for another queue of the same driver.
func (n *nodeRunner) forQueue(queue string) *nodeRunner {
	c := *n
	c.env = append(slices.Clone(n.env), "QUEUE="+queue)
	return &c
}

// proofJob is a job as proof.js "state" reports it.
type proofJob struct {
	ID             string          `json:"id"`
	Name           string          `json:"name"`
	Data           json.RawMessage `json:"data"`
	Opts           map[string]any  `json:"opts"`
	Progress       json.RawMessage `json:"progress"`
	ReturnValue    json.RawMessage `json:"returnvalue"`
	FailedReason   string          `json:"failedReason"`
	AttemptsMade   int             `json:"attemptsMade"`
	StalledCounter int             `json:"stalledCounter"`
	Timestamp      int64           `json:"timestamp"`
	Delay          int64           `json:"delay"`
	ProcessedOn    int64           `json:"processedOn"`
	FinishedOn     int64           `json:"finishedOn"`
	Stacktrace     []string        `json:"stacktrace"`
	ProcessedBy    string          `json:"processedBy"`
	RepeatJobKey   string          `json:"repeatJobKey"`
	State          string          `json:"state"`
	Logs           []string        `json:"logs"`
}

type proofParent struct {
	State        string                     `json:"state"`
	ReturnValue  json.RawMessage            `json:"returnvalue"`
	FailedReason string                     `json:"failedReason"`
	Children     map[string]json.RawMessage `json:"children"`
	Failed       map[string]string          `json:"failed"`
	Ignored      map[string]string          `json:"ignored"`
}

type proofState struct {
	Jobs    map[string]*proofJob    `json:"jobs"`
	Parents map[string]*proofParent `json:"parents"`
	Counts  map[string]int64        `json:"counts"`
}

type proofEvent struct {
	Event        string          `json:"event"`
	JobID        string          `json:"jobId"`
	ReturnValue  json.RawMessage `json:"returnvalue"`
	FailedReason string          `json:"failedReason"`
	Data         json.RawMessage `json:"data"`
	Prev         string          `json:"prev"`
}

// goProcessor is the Go side's processor in the interop tests; job data
// says how it behaves, as nodeProcess in proof.js: failTimes, alwaysFail,
// sleepMs, parent (return the children values).
func goProcessor(record func(j *jobq.Job)) jobq.Processor {
	return func(ctx context.Context, j *jobq.Job) (any, error) {
		if record != nil {
			record(j)
		}
		var d struct {
			X          *int
			FailTimes  int
			AlwaysFail bool
			SleepMs    int
			Parent     bool
		}
		_ = j.Decode(&d)
		if err := j.UpdateProgress(ctx, map[string]any{"pct": 100, "by": "go"}); err != nil {
			return nil, err
		}
		if err := j.Log(ctx, fmt.Sprintf("go attempt %d", j.AttemptsMade+1)); err != nil {
			return nil, err
		}
		if d.SleepMs > 0 {
			time.Sleep(time.Duration(d.SleepMs) * time.Millisecond)
		}
		if d.FailTimes > j.AttemptsMade {
			return nil, fmt.Errorf("go fails attempt %d", j.AttemptsMade+1)
		}
		if d.AlwaysFail {
			return nil, errors.New("go always fails " + j.ID)
		}
		rv := map[string]any{"by": "go", "id": j.ID, "x": d.X}
		if d.Parent {
			vals, err := j.ChildrenValues(ctx)
			if err != nil {
				return nil, err
			}
			rv["children"] = vals
		}
		return rv, nil
	}
}

// startGoWorker starts a jobq.Worker, closed when the test ends.
func startGoWorker(t *testing.T, d *Driver, queue string, proc jobq.Processor, cfg *jobq.WorkerConfig) *jobq.Worker {
	t.Helper()
	c := jobq.WorkerConfig{DrainDelay: 200 * time.Millisecond}
	if cfg != nil {
		c = *cfg
	}
	if c.OnError == nil {
		c.OnError = func(err error) { t.Logf("go worker %s: %v", queue, err) }
	}
	w, err := jobq.NewWorker(queue, d, proc, &c)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = w.Close(ctx)
	})
	return w
}

// waitCounts polls until the queue's counts match want (other states 0).
func waitCounts(t *testing.T, d *Driver, queue string, want map[string]int64, timeout time.Duration) {
	t.Helper()
	states := []string{"waiting", "active", "delayed", "prioritized", "waiting-children", "completed", "failed"}
	deadline := time.Now().Add(timeout)
	var got map[string]int64
	for time.Now().Before(deadline) {
		got, _ = d.Counts(context.Background(), queue, states)
		ok := true
		for _, s := range states {
			if got[s] != want[s] {
				ok = false
			}
		}
		if ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("queue %s counts %v, want %v", queue, got, want)
}

func add(name string, data, opts map[string]any) map[string]any {
	return map[string]any{"name": name, "data": data, "opts": opts}
}

type obj = map[string]any

// TestInteropNodeAddsGoWorkerProcesses (proof point 7): Node Queue.add and
// addBulk with every option kind; a Go jobq.Worker processes them in
// BullMQ's order (LIFO, then FIFO waiting, then by priority, delayed after
// their delay), retrying with fixed and exponential backoff; Node's
// Job.fromId, getJobCounts and QueueEvents see the states, return values,
// failures, progress and logs; removeOnComplete/removeOnFail as true,
// number and {age,count} are honoured.
func TestInteropNodeAddsGoWorkerProcesses(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	node := newNode(t, d, "n7")
	events := node.bgProof("events", obj{"timeout": 60000})

	var added struct{ IDs []string }
	node.proof("add", obj{
		"adds": []any{
			add("w1", obj{"x": 1}, obj{"jobId": "w1"}),
			add("p5", obj{"x": 2}, obj{"jobId": "p5", "priority": 5}),
			add("l1", obj{"x": 3}, obj{"jobId": "l1", "lifo": true}),
			add("p1", obj{"x": 4}, obj{"jobId": "p1", "priority": 1}),
			add("w2", obj{"x": 5, "failTimes": 2}, obj{"jobId": "w2", "attempts": 3,
				"backoff": obj{"type": "fixed", "delay": 300}}),
			add("l2", obj{"x": 6}, obj{"jobId": "l2", "lifo": true}),
			add("d1", obj{"x": 7}, obj{"jobId": "d1", "delay": 1000}),
			add("exh", obj{"x": 8, "alwaysFail": true}, obj{"jobId": "exh", "attempts": 2,
				"backoff": obj{"type": "exponential", "delay": 200}}),
			add("p5b", obj{"x": 9}, obj{"jobId": "p5b", "priority": 5}),
			add("dd1", obj{"x": 10}, obj{"jobId": "dd1", "deduplication": obj{"id": "dk", "ttl": 60000}}),
			add("dd2", obj{"x": 11}, obj{"jobId": "dd2", "deduplication": obj{"id": "dk", "ttl": 60000}}),
		},
		"bulk": []any{
			add("w3", obj{"x": 12}, nil), // an id from the queue's counter
			add("l3", obj{"x": 13}, obj{"jobId": "l3", "lifo": true}),
			add("d2", obj{"x": 14}, obj{"jobId": "d2", "delay": 1500}),
		},
	}, &added)
	w3 := added.IDs[11]
	if added.IDs[10] != "dd1" || w3 == "" || w3 == "w3" {
		t.Fatalf("node add ids = %v (dd2 should be deduplicated into dd1)", added.IDs)
	}

	var mu sync.Mutex
	var order []string
	record := func(j *jobq.Job) {
		mu.Lock()
		order = append(order, fmt.Sprintf("%s#%d", j.ID, j.AttemptsMade+1))
		mu.Unlock()
	}
	start := time.Now()
	startGoWorker(t, d, "n7", goProcessor(record), &jobq.WorkerConfig{Name: "go-n7", DrainDelay: 100 * time.Millisecond})
	waitCounts(t, d, "n7", map[string]int64{"completed": 12, "failed": 1}, 20*time.Second)
	t.Logf("go worker finished n7 in %v; order %v", time.Since(start), order)

	// first attempts of the jobs that were runnable at once
	var firsts []string
	for _, o := range order {
		if id, ok := strings.CutSuffix(o, "#1"); ok && id != "d1" && id != "d2" {
			firsts = append(firsts, id)
		}
	}
	want := []string{"l3", "l2", "l1", "w1", "w2", "exh", "dd1", w3, "p1", "p5", "p5b"}
	if !slices.Equal(firsts, want) {
		t.Fatalf("go processing order %v, want %v (full order %v)", firsts, want, order)
	}
	if i, j := slices.Index(order, "d1#1"), slices.Index(order, "d2#1"); i < 0 || j < i {
		t.Fatalf("delayed jobs in order %v", order)
	}
	for _, o := range []string{"w2#2", "w2#3", "exh#2"} {
		if !slices.Contains(order, o) {
			t.Fatalf("missing retry %s in %v", o, order)
		}
	}

	ids := []string{"w1", "p5", "l1", "p1", "w2", "l2", "d1", "exh", "p5b", "dd1", "dd2", w3, "l3", "d2"}
	var st proofState
	node.proof("state", obj{"ids": ids}, &st)
	if st.Jobs["dd2"] != nil {
		t.Fatalf("deduplicated job dd2 exists: %+v", st.Jobs["dd2"])
	}
	for _, id := range ids {
		j := st.Jobs[id]
		if id == "dd2" {
			continue
		}
		if j == nil {
			t.Fatalf("node Job.fromId(%s) = null", id)
		}
		if id == "exh" {
			if j.State != "failed" || j.FailedReason != "go always fails exh" || j.AttemptsMade != 2 || len(j.Stacktrace) == 0 ||
				len(j.Logs) != 2 || j.ProcessedBy != "go-n7" {
				t.Fatalf("exhausted job as node sees it: %+v", j)
			}
			continue
		}
		if j.State != "completed" || !jsonEq(j.Progress, `{"pct":100,"by":"go"}`) || j.ProcessedBy != "go-n7" {
			t.Fatalf("job %s as node sees it: %+v", id, j)
		}
		var rv struct {
			By string
			ID string
		}
		if err := json.Unmarshal(j.ReturnValue, &rv); err != nil || rv.By != "go" || rv.ID != id {
			t.Fatalf("job %s returnvalue %s", id, j.ReturnValue)
		}
		wantAttempts := 1
		if id == "w2" {
			wantAttempts = 3
		}
		if j.AttemptsMade != wantAttempts || len(j.Logs) != wantAttempts || j.Logs[0] != "go attempt 1" {
			t.Fatalf("job %s attempts %d logs %v", id, j.AttemptsMade, j.Logs)
		}
		if j.Delay > 0 && j.ProcessedOn-j.Timestamp < j.Delay {
			t.Fatalf("delayed job %s processed %dms after add, delay %d", id, j.ProcessedOn-j.Timestamp, j.Delay)
		}
	}
	if st.Jobs["w2"].FailedReason != "go fails attempt 2" {
		t.Fatalf("retried job keeps the last failure: %q", st.Jobs["w2"].FailedReason)
	}
	if st.Counts["completed"] != 12 || st.Counts["failed"] != 1 || st.Counts["waiting"]+st.Counts["delayed"]+st.Counts["active"] != 0 {
		t.Fatalf("node getJobCounts = %v", st.Counts)
	}

	var ev struct{ Events []proofEvent }
	events.stop(&ev)
	got := map[string][]proofEvent{}
	for _, e := range ev.Events {
		got[e.Event] = append(got[e.Event], e)
	}
	completed := map[string]bool{}
	for _, e := range got["completed"] {
		if !strings.Contains(string(e.ReturnValue), `"by":"go"`) {
			t.Fatalf("completed event %+v", e)
		}
		completed[e.JobID] = true
	}
	if len(completed) != 12 || completed["exh"] {
		t.Fatalf("QueueEvents completed for %v", completed)
	}
	failed := map[string][]string{}
	for _, e := range got["failed"] {
		failed[e.JobID] = append(failed[e.JobID], e.FailedReason)
	}
	t.Logf("QueueEvents failed: %v; retries-exhausted %d; progress %d; delayed %d", failed,
		len(got["retries-exhausted"]), len(got["progress"]), len(got["delayed"]))
	// As in BullMQ, a failed attempt that will be retried after a backoff
	// is a "delayed" event; "failed" is the final failure only.
	delayed := map[string]int{}
	for _, e := range got["delayed"] {
		delayed[e.JobID]++
	}
	if !slices.Equal(failed["exh"], []string{"go always fails exh"}) || len(failed) != 1 ||
		len(got["retries-exhausted"]) != 1 || got["retries-exhausted"][0].JobID != "exh" {
		t.Fatalf("QueueEvents failed events %v, retries-exhausted %+v", failed, got["retries-exhausted"])
	}
	if delayed["w2"] != 2 || delayed["exh"] != 1 || delayed["d1"] != 1 || delayed["d2"] != 1 {
		t.Fatalf("QueueEvents delayed events %v", delayed)
	}
	if len(got["progress"]) < 15 || !jsonEq(got["progress"][0].Data, `{"pct":100,"by":"go"}`) {
		t.Fatalf("QueueEvents progress events %+v", got["progress"])
	}
}

// TestInteropNodeRemoveOptionsGoWorker (proof point 7, retention): Node
// adds jobs with removeOnComplete/removeOnFail as true, a number and
// {age,count}; a Go Worker honours each as BullMQ does.
func TestInteropNodeRemoveOptionsGoWorker(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	node := newNode(t, d, "n7k")
	keep := obj{"age": 3600, "count": 2}
	var added struct{ IDs []string }
	node.proof("add", obj{"bulk": []any{
		add("k1", obj{}, obj{"jobId": "k1", "removeOnComplete": keep}),
		add("k2", obj{}, obj{"jobId": "k2", "removeOnComplete": keep}),
		add("k3", obj{}, obj{"jobId": "k3", "removeOnComplete": keep}),
		add("k4", obj{}, obj{"jobId": "k4", "removeOnComplete": true}),
		add("f1", obj{"alwaysFail": true}, obj{"jobId": "f1", "removeOnFail": 1}),
		add("f2", obj{"alwaysFail": true}, obj{"jobId": "f2", "removeOnFail": 1}),
		add("f3", obj{"alwaysFail": true}, obj{"jobId": "f3", "removeOnFail": true}),
		add("f4", obj{"alwaysFail": true}, obj{"jobId": "f4", "attempts": 2, "removeOnFail": obj{"count": 5}}),
	}}, &added)
	startGoWorker(t, d, "n7k", goProcessor(nil), &jobq.WorkerConfig{DrainDelay: 100 * time.Millisecond})
	// k1 trimmed by k3's count 2, k4 and f3 removed at once, f1 trimmed by
	// f2's count 1; f4 (count 5) keeps f2 too.
	waitCounts(t, d, "n7k", map[string]int64{"completed": 2, "failed": 2}, 15*time.Second)
	var st proofState
	node.proof("state", obj{"ids": []string{"k1", "k2", "k3", "k4", "f1", "f2", "f3", "f4"}}, &st)
	for id, want := range map[string]string{"k1": "", "k2": "completed", "k3": "completed", "k4": "",
		"f1": "", "f2": "failed", "f3": "", "f4": "failed"} {
		j := st.Jobs[id]
		switch {
		case want == "" && j != nil:
			t.Fatalf("%s should have been removed: %+v", id, j)
		case want != "" && (j == nil || j.State != want):
			t.Fatalf("%s = %+v, want %s", id, j, want)
		}
	}
	if st.Jobs["f4"].AttemptsMade != 2 {
		t.Fatalf("f4 attempts %d", st.Jobs["f4"].AttemptsMade)
	}
}

// TestInteropGoAddsNodeWorkerProcesses (proof point 8): Go jobq.Queue.Add
// (retries with fixed and exponential backoff, a delayed job) and a Node
// Worker processes them; Go's jobq.QueueEvents reads the completed,
// failed, retries-exhausted and (for retries with backoff) delayed events
// Node's scripts wrote, and GetJob sees results, attempts,
// progress and logs.
func TestInteropGoAddsNodeWorkerProcesses(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	node := newNode(t, d, "g8")
	ctx := context.Background()
	q := jobq.NewQueue("g8", d, nil)
	qe := jobq.NewQueueEvents("g8", d, &jobq.QueueEventsConfig{BlockTimeout: 200 * time.Millisecond})
	var mu sync.Mutex
	var evs []jobq.Event
	qe.On("", func(e jobq.Event) { mu.Lock(); evs = append(evs, e); mu.Unlock() })
	if err := qe.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer qe.Close(ctx)

	ok, err := q.Add(ctx, "ok", obj{"x": 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	retry, err := q.Add(ctx, "retry", obj{"x": 2, "failTimes": 2}, &jobq.JobOptions{JobID: "retry", Attempts: 3,
		Backoff: &jobq.Backoff{Type: jobq.BackoffFixed, Delay: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	exh, err := q.Add(ctx, "exh", obj{"x": 3, "alwaysFail": true}, &jobq.JobOptions{JobID: "exh", Attempts: 3,
		Backoff: &jobq.Backoff{Type: jobq.BackoffExponential, Delay: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	later, err := q.Add(ctx, "later", obj{"x": 4}, &jobq.JobOptions{JobID: "later", Delay: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	prio, err := q.Add(ctx, "prio", obj{"x": 5}, &jobq.JobOptions{Priority: 2})
	if err != nil {
		t.Fatal(err)
	}

	var res struct{ Finished, Completed, Failed int }
	node.bgProof("work", obj{"count": 5, "timeout": 30000}).wait(&res)
	if res.Completed != 4 || res.Failed != 1 {
		t.Fatalf("node worker: %+v", res)
	}
	for _, j := range []*jobq.Job{ok, retry, later, prio} {
		g, err := q.GetJob(ctx, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		var rv struct {
			By string
			ID string
		}
		if st, _ := g.State(ctx); st != jobq.StateCompleted || json.Unmarshal(g.ReturnValue, &rv) != nil || rv.By != "node" || rv.ID != j.ID ||
			!jsonEq(g.Progress, `{"pct":50,"by":"node"}`) || g.ProcessedBy != "nodew" {
			t.Fatalf("job %s as go sees it: state %v %+v", j.ID, st, g)
		}
	}
	r, _ := q.GetJob(ctx, retry.ID)
	if logs, _ := r.Logs(ctx); r.AttemptsMade != 3 || r.FailedReason != "node fails attempt 2" || len(logs) != 3 {
		t.Fatalf("retried job: attempts %d reason %q logs %v", r.AttemptsMade, r.FailedReason, logs)
	}
	l, _ := q.GetJob(ctx, later.ID)
	if l.ProcessedOn.Sub(l.Timestamp) < 500*time.Millisecond {
		t.Fatalf("delayed job processed %v after add", l.ProcessedOn.Sub(l.Timestamp))
	}
	e, _ := q.GetJob(ctx, exh.ID)
	if st, _ := e.State(ctx); st != jobq.StateFailed || e.AttemptsMade != 3 || e.FailedReason != "node always fails exh" || len(e.Stacktrace) != 3 {
		t.Fatalf("exhausted job: %v %+v", st, e)
	}

	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		byName := map[string]map[string][]jobq.Event{}
		for _, e := range evs {
			if byName[e.Name] == nil {
				byName[e.Name] = map[string][]jobq.Event{}
			}
			byName[e.Name][e.JobID] = append(byName[e.Name][e.JobID], e)
		}
		mu.Unlock()
		okAll := len(byName["completed"]) == 4 && len(byName["failed"]) == 1 && len(byName["failed"]["exh"]) == 1 &&
			len(byName["delayed"]["retry"]) == 2 && len(byName["delayed"]["exh"]) == 2 && len(byName["delayed"]["later"]) == 1 &&
			len(byName["retries-exhausted"]["exh"]) == 1
		if okAll || time.Now().After(deadline) {
			for id, es := range byName["completed"] {
				if !strings.Contains(es[0].Fields["returnvalue"], `"by":"node"`) {
					t.Fatalf("completed event for %s: %+v", id, es[0].Fields)
				}
			}
			if !okAll {
				t.Fatalf("go QueueEvents: completed %d jobs, failed %v, retries-exhausted %v, delayed %v", len(byName["completed"]),
					byName["failed"], byName["retries-exhausted"], byName["delayed"])
			}
			if r := byName["failed"]["exh"][0].Fields["failedReason"]; r != "node always fails exh" {
				t.Fatalf("failed event reason %q", r)
			}
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestInteropGoAddsNodeWorkerOrder (proof point 7, the other way): Go's
// Queue.Add and AddBulk with the option kinds that decide order (LIFO,
// FIFO, priority, delay, deduplication) on a paused queue; once it is
// resumed, a BullMQ Worker at concurrency 1 takes them in BullMQ's order:
// LIFO, then FIFO waiting, then by priority, delayed after their delay.
// It also shows the Node worker honouring Go's Pause and Resume: had it
// taken jobs while paused, w1 would come first.
func TestInteropGoAddsNodeWorkerOrder(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	node := newNode(t, d, "g7o")
	ctx := context.Background()
	q := jobq.NewQueue("g7o", d, nil)
	if err := q.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	orderKey := d.QueueKey("g7o-order") // under the test prefix, so cleanup removes it
	// The worker is up before the adds, so the delays below run from the
	// adds, not from however long Node takes to start.
	w := node.bgProof("work", obj{"count": 12, "timeout": 30000, "lite": true, "order": orderKey})
	adds := []struct {
		name string
		opts *jobq.JobOptions
	}{
		{"w1", &jobq.JobOptions{JobID: "w1"}},
		{"p5", &jobq.JobOptions{JobID: "p5", Priority: 5}},
		{"l1", &jobq.JobOptions{JobID: "l1", LIFO: true}},
		{"p1", &jobq.JobOptions{JobID: "p1", Priority: 1}},
		{"w2", &jobq.JobOptions{JobID: "w2"}},
		{"l2", &jobq.JobOptions{JobID: "l2", LIFO: true}},
		{"d1", &jobq.JobOptions{JobID: "d1", Delay: time.Second}},
		{"p5b", &jobq.JobOptions{JobID: "p5b", Priority: 5}},
		{"dd1", &jobq.JobOptions{JobID: "dd1", Deduplication: &jobq.Deduplication{ID: "dk", TTL: time.Minute}}},
		{"dd2", &jobq.JobOptions{JobID: "dd2", Deduplication: &jobq.Deduplication{ID: "dk", TTL: time.Minute}}},
	}
	for i, a := range adds {
		j, err := q.Add(ctx, a.name, obj{"x": i}, a.opts)
		if err != nil {
			t.Fatal(err)
		}
		if a.name == "dd2" && j.ID != "dd1" {
			t.Fatalf("dd2 added as %q, want it deduplicated into dd1", j.ID)
		}
	}
	bulk, err := q.AddBulk(ctx, []jobq.BulkJob{
		{Name: "w3", Data: obj{"x": 20}},
		{Name: "l3", Data: obj{"x": 21}, Opts: &jobq.JobOptions{JobID: "l3", LIFO: true}},
		{Name: "d2", Data: obj{"x": 22}, Opts: &jobq.JobOptions{JobID: "d2", Delay: 1500 * time.Millisecond}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	var res struct{ Finished, Completed, Failed int }
	w.wait(&res)
	if res.Completed != 12 || res.Failed != 0 {
		t.Fatalf("node worker: %+v", res)
	}
	var order []string
	if err := d.client.LRange(ctx, orderKey, 0, -1).ScanSlice(&order); err != nil {
		t.Fatal(err)
	}
	want := []string{"l3", "l2", "l1", "w1", "w2", "dd1", bulk[0].ID, "p1", "p5", "p5b", "d1", "d2"}
	if !slices.Equal(order, want) {
		t.Fatalf("node processing order %v, want %v", order, want)
	}
	for id, due := range map[string]time.Duration{"d1": time.Second, "d2": 1500 * time.Millisecond} {
		j, err := q.GetJob(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if j.ProcessedOn.Sub(j.Timestamp) < due {
			t.Fatalf("delayed job %s processed %v after its add, due after %v", id, j.ProcessedOn.Sub(j.Timestamp), due)
		}
	}
}

// TestInteropSharedRateLimiter: a Go jobq.Worker and a BullMQ Worker on one
// queue, each configured with the same limiter (5 jobs per second), share
// BullMQ's limiter key, so together they start at most 5 jobs in each
// window: 20 jobs take at least three more windows after the first. Had
// either worker ignored the key, it would have taken the jobs the other
// was held back from, at up to twice the rate.
func TestInteropSharedRateLimiter(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	node := newNode(t, d, "g9l")
	ctx := context.Background()
	q := jobq.NewQueue("g9l", d, nil)
	if err := q.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	const n = 20
	jobs := make([]jobq.BulkJob, n)
	for i := range jobs {
		jobs[i] = jobq.BulkJob{Name: "lim", Data: obj{"x": i}}
	}
	if _, err := q.AddBulk(ctx, jobs); err != nil {
		t.Fatal(err)
	}
	w := node.bgProof("work", obj{"name": "node-lim", "concurrency": 5, "lite": true, "timeout": 30000,
		"limiter": obj{"max": 5, "duration": 1000}})
	startGoWorker(t, d, "g9l", goProcessor(nil), &jobq.WorkerConfig{Name: "go-lim", Concurrency: 5,
		DrainDelay: 100 * time.Millisecond, Limiter: &jobq.Limiter{Max: 5, Duration: time.Second}})
	if err := q.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	waitCounts(t, d, "g9l", map[string]int64{"completed": n}, 20*time.Second)
	var res struct{ Completed int }
	w.stop(&res)
	done, err := q.GetJobs(ctx, []jobq.State{jobq.StateCompleted}, 0, -1, true)
	if err != nil || len(done) != n {
		t.Fatalf("completed jobs %d %v", len(done), err)
	}
	starts := make([]time.Time, 0, n)
	by := map[string]int{}
	for _, j := range done {
		starts = append(starts, j.ProcessedOn)
		by[j.ProcessedBy]++
	}
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	// Fixed windows: at most 5 starts in each, so any 10 consecutive starts
	// span more than one window boundary, and 20 starts need 4 windows.
	const slack = 50 * time.Millisecond // clock granularity between processes
	for i := 0; i+10 < n; i++ {
		if gap := starts[i+10].Sub(starts[i]); gap < time.Second-slack {
			t.Fatalf("11 jobs started within %v (starts %v; by worker %v)", gap, starts, by)
		}
	}
	if span := starts[n-1].Sub(starts[0]); span < 2*time.Second-slack {
		t.Fatalf("%d jobs started within %v, want at least 3 windows after the first (by worker %v)", n, span, by)
	}
	// Both workers were up with free slots and jobs waiting the whole
	// time, so whichever took fewer jobs (often none) was held back by the
	// limiter the other one had used up.
	if by["go-lim"]+by["node-lim"] != n || res.Completed != by["node-lim"] {
		t.Fatalf("jobs by worker %v, node reports %d completed", by, res.Completed)
	}
	t.Logf("jobs by worker %v over %v", by, starts[n-1].Sub(starts[0]))
}

// TestInteropKeepLastIfActiveGoWorker: a BullMQ producer deduplicates with
// keepLastIfActive while a Go worker runs the job; the latest of the
// deduplicated adds is kept in BullMQ's dn:<id> hash, and when the Go
// worker finishes the active job it creates that job (as BullMQ's finish
// does), which then runs. The adds in between are dropped.
func TestInteropKeepLastIfActiveGoWorker(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	node := newNode(t, d, "g10k")
	ctx := context.Background()
	release := make(chan struct{})
	started := make(chan string, 8)
	var mu sync.Mutex
	var ran []string
	startGoWorker(t, d, "g10k", func(ctx context.Context, j *jobq.Job) (any, error) {
		var data struct{ V string }
		if err := json.Unmarshal(j.Data, &data); err != nil {
			return nil, err
		}
		mu.Lock()
		ran = append(ran, data.V)
		mu.Unlock()
		started <- data.V
		if data.V == "first" {
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return data.V, nil
	}, &jobq.WorkerConfig{Name: "go-klia", Concurrency: 2, DrainDelay: 100 * time.Millisecond})
	de := obj{"id": "k", "keepLastIfActive": true}
	var first struct{ IDs []string }
	node.proof("add", obj{"adds": []any{add("j", obj{"v": "first"}, obj{"deduplication": de})}}, &first)
	select {
	case v := <-started:
		if v != "first" {
			t.Fatalf("started %q, want first", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the first job did not start")
	}
	var later struct{ IDs []string }
	node.proof("add", obj{"adds": []any{
		add("j", obj{"v": "middle"}, obj{"deduplication": de}),
		add("j", obj{"v": "last"}, obj{"deduplication": de}),
	}}, &later)
	if len(later.IDs) != 2 || later.IDs[0] != first.IDs[0] || later.IDs[1] != first.IDs[0] {
		t.Fatalf("adds while active returned %v, want both deduplicated into %s", later.IDs, first.IDs[0])
	}
	if n, err := d.Client().Exists(ctx, d.QueueKey("g10k")+":dn:k").Result(); err != nil || n != 1 {
		t.Fatalf("BullMQ's dn:k hash exists = %d, %v; want it written by the Node add", n, err)
	}
	close(release)
	waitCounts(t, d, "g10k", map[string]int64{"completed": 2}, 10*time.Second)
	mu.Lock()
	got := slices.Clone(ran)
	mu.Unlock()
	if !slices.Equal(got, []string{"first", "last"}) {
		t.Fatalf("jobs run %v, want [first last]", got)
	}
	if n, _ := d.Client().Exists(ctx, d.QueueKey("g10k")+":dn:k").Result(); n != 0 {
		t.Fatal("dn:k still exists after the requeued job was created")
	}
	var st proofState
	node.proof("state", obj{"ids": []string{first.IDs[0]}}, &st)
	if st.Counts["completed"] != 2 || st.Counts["waiting"] != 0 || st.Counts["active"] != 0 {
		t.Fatalf("node counts %v", st.Counts)
	}
}

// TestInteropDedupReplaceBothWays: BullMQ's replace (debounce) mode across
// languages. A Go add replaces a delayed job a Node add holds the id with,
// then a Node add replaces that Go job; the last one is the only job left,
// with its data.
func TestInteropDedupReplaceBothWays(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	node := newNode(t, d, "g12r")
	ctx := context.Background()
	q := jobq.NewQueue("g12r", d, nil)
	de := obj{"id": "deb", "ttl": 60000, "replace": true}
	var n1 struct{ IDs []string }
	node.proof("add", obj{"adds": []any{add("j", obj{"v": "node-1"}, obj{"delay": 3600000, "deduplication": de})}}, &n1)
	g, err := q.Add(ctx, "j", obj{"v": "go"}, &jobq.JobOptions{Delay: time.Hour,
		Deduplication: &jobq.Deduplication{ID: "deb", TTL: time.Minute, Replace: true}})
	if err != nil {
		t.Fatal(err)
	}
	if g.ID == n1.IDs[0] {
		t.Fatalf("go add returned node's delayed job %s, want it replaced", g.ID)
	}
	var n2 struct{ IDs []string }
	node.proof("add", obj{"adds": []any{add("j", obj{"v": "node-2"}, obj{"delay": 3600000, "deduplication": de})}}, &n2)
	if n2.IDs[0] == g.ID {
		t.Fatalf("node add returned go's delayed job %s, want it replaced", g.ID)
	}
	for _, id := range []string{n1.IDs[0], g.ID} {
		if _, err := q.GetJob(ctx, id); !errors.Is(err, jobq.ErrJobNotFound) {
			t.Errorf("replaced job %s: %v, want ErrJobNotFound", id, err)
		}
	}
	last, err := q.GetJob(ctx, n2.IDs[0])
	if err != nil || !jsonEq(last.Data, `{"v":"node-2"}`) || last.DeduplicationID != "deb" {
		t.Fatalf("surviving job %+v, %v", last, err)
	}
	if c, _ := q.GetJobCounts(ctx, jobq.StateDelayed, jobq.StateWaiting); c[jobq.StateDelayed] != 1 || c[jobq.StateWaiting] != 0 {
		t.Fatalf("counts %v, want one delayed job", c)
	}
}

// TestInteropCleanAndObliterate: Go's Queue.Clean removes completed jobs
// that Node added (Node no longer finds them), Node's Queue.clean removes
// failed jobs that Go wrote, and Node's obliterate empties a queue Go
// filled (Go then sees no jobs and no keys).
func TestInteropCleanAndObliterate(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	node := newNode(t, d, "g13c")
	ctx := context.Background()
	q := jobq.NewQueue("g13c", d, nil)
	var added struct{ IDs []string }
	node.proof("add", obj{"adds": []any{
		add("ok", obj{"x": 1}, obj{"jobId": "c1"}), add("ok", obj{"x": 2}, obj{"jobId": "c2"}),
		add("bad", obj{"x": 3, "alwaysFail": true}, obj{"jobId": "f1"}),
	}}, &added)
	startGoWorker(t, d, "g13c", goProcessor(nil), &jobq.WorkerConfig{Name: "go-clean", DrainDelay: 100 * time.Millisecond})
	waitCounts(t, d, "g13c", map[string]int64{"completed": 2, "failed": 1}, 10*time.Second)
	ids, err := q.Clean(ctx, 0, 0, jobq.StateCompleted)
	slices.Sort(ids)
	if err != nil || !slices.Equal(ids, []string{"c1", "c2"}) {
		t.Fatalf("go Clean(completed) = %v, %v; want [c1 c2]", ids, err)
	}
	var st proofState
	node.proof("state", obj{"ids": []string{"c1", "c2", "f1"}}, &st)
	if st.Jobs["c1"] != nil || st.Jobs["c2"] != nil || st.Jobs["f1"] == nil || st.Counts["completed"] != 0 || st.Counts["failed"] != 1 {
		t.Fatalf("node after go's clean: jobs %v counts %v", st.Jobs, st.Counts)
	}
	var cleaned struct{ IDs []string }
	node.proof("clean", obj{"state": "failed"}, &cleaned)
	if !slices.Equal(cleaned.IDs, []string{"f1"}) {
		t.Fatalf("node clean(failed) = %v, want [f1]", cleaned.IDs)
	}
	if _, err := q.GetJob(ctx, "f1"); !errors.Is(err, jobq.ErrJobNotFound) {
		t.Fatalf("go GetJob(f1) after node's clean: %v, want ErrJobNotFound", err)
	}

	q2 := jobq.NewQueue("g13o", d, nil)
	for i := range 3 {
		if _, err := q2.Add(ctx, "o", obj{"i": i}, &jobq.JobOptions{Delay: time.Duration(i) * time.Hour}); err != nil {
			t.Fatal(err)
		}
	}
	var ob struct{ OK bool }
	node.forQueue("g13o").proof("obliterate", obj{"force": true}, &ob)
	if !ob.OK {
		t.Fatal("node obliterate did not report ok")
	}
	c, err := q2.GetJobCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for s, n := range c {
		if n != 0 {
			t.Fatalf("go counts after node's obliterate: %s = %d", s, n)
		}
	}
	keys, err := d.Client().Keys(ctx, globEscape(d.QueueKey("g13o"))+":*").Result()
	if err != nil || len(keys) != 0 {
		t.Fatalf("keys left after node's obliterate: %v, %v", keys, err)
	}
}
