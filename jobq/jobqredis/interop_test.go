package jobqredis

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// nodeDir returns the interop helper directory, or skips unless
// ATLAS_TEST_NODE=1 (fails under ATLAS_TEST_REQUIRE_SERVICES=1).
func nodeDir(t *testing.T) string {
	t.Helper()
	require := os.Getenv("ATLAS_TEST_REQUIRE_SERVICES") == "1"
	if os.Getenv("ATLAS_TEST_NODE") != "1" {
		if require {
			t.Fatal("ATLAS_TEST_NODE=1 is required under ATLAS_TEST_REQUIRE_SERVICES=1")
		}
		t.Skip("set ATLAS_TEST_NODE=1 (after npm ci in testdata/interop) to run BullMQ interop tests")
	}
	dir, _ := filepath.Abs(filepath.Join("testdata", "interop"))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "bullmq")); err != nil {
		t.Fatalf("run `npm ci` in %s first: %v", dir, err)
	}
	return dir
}

type nodeRunner struct {
	t      *testing.T
	dir    string
	env    []string
	driver *Driver
}

func newNode(t *testing.T, d *Driver, queue string) *nodeRunner {
	dir := nodeDir(t)
	env := append(os.Environ(), "REDIS_URL="+testURL(t), "PREFIX="+d.prefix, "QUEUE="+queue)
	return &nodeRunner{t: t, dir: dir, env: env, driver: d}
}

func (n *nodeRunner) cmd(ctx context.Context, name string, arg any) *exec.Cmd {
	b, _ := json.Marshal(arg)
	c := exec.CommandContext(ctx, "node", "interop.js", name, string(b))
	c.Dir, c.Env = n.dir, n.env
	return c
}

// run runs a helper command and decodes its last output line into v.
func (n *nodeRunner) run(name string, arg, v any) {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	c := n.cmd(ctx, name, arg)
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		n.t.Fatalf("node %s: %v\n%s", name, err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), v); err != nil {
		n.t.Fatalf("node %s output %q: %v", name, out, err)
	}
}

// start runs a helper in the background after it prints its first line;
// wait returns the decoded last line.
func (n *nodeRunner) start(name string, arg any) (wait func(v any)) {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	c := n.cmd(ctx, name, arg)
	var stderr bytes.Buffer
	c.Stderr = &stderr
	pipe, err := c.StdoutPipe()
	if err != nil {
		cancel()
		n.t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		cancel()
		n.t.Fatal(err)
	}
	sc := bufio.NewScanner(pipe)
	if !sc.Scan() {
		cancel()
		_ = c.Wait()
		n.t.Fatalf("node %s did not start: %s", name, stderr.String())
	}
	return func(v any) {
		n.t.Helper()
		defer cancel()
		var last string
		for sc.Scan() {
			last = sc.Text()
		}
		if err := c.Wait(); err != nil {
			n.t.Fatalf("node %s: %v\n%s", name, err, stderr.String())
		}
		if err := json.Unmarshal([]byte(last), v); err != nil {
			n.t.Fatalf("node %s output %q: %v", name, last, err)
		}
	}
}

type nodeJob struct {
	ID              string          `json:"id"`
	Name            string          `json:"name"`
	Data            json.RawMessage `json:"data"`
	Opts            map[string]any  `json:"opts"`
	Progress        json.RawMessage `json:"progress"`
	ReturnValue     json.RawMessage `json:"returnvalue"`
	FailedReason    string          `json:"failedReason"`
	AttemptsMade    int             `json:"attemptsMade"`
	AttemptsStarted int             `json:"attemptsStarted"`
	Priority        int             `json:"priority"`
	Stacktrace      []string        `json:"stacktrace"`
	ProcessedBy     string          `json:"processedBy"`
	State           string          `json:"state"`
}

type inspectOut struct {
	Jobs    map[string]*nodeJob `json:"jobs"`
	Counts  map[string]int64    `json:"counts"`
	Workers []string            `json:"workers"`
	Version string              `json:"version"`
}

// TestInteropNodeProducesGoConsumes: Node Queue.add/addBulk, Go fetches
// and finishes (with one retry), Node reads the results and QueueEvents
// sees the completions.
func TestInteropNodeProducesGoConsumes(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	node := newNode(t, d, "nq")
	ctx := context.Background()
	wait := node.start("listen", map[string]any{"count": 4, "timeout": 20000})
	var produced struct{ IDs []string }
	node.run("produce", map[string]any{
		"single": map[string]any{"name": "one", "data": map[string]any{"x": 1},
			"opts": map[string]any{"jobId": "custom-1", "attempts": 3, "backoff": map[string]any{"type": "exponential", "delay": 100}}},
		"bulk": []any{
			map[string]any{"name": "two", "data": map[string]any{"x": 2}, "opts": map[string]any{"priority": 5}},
			map[string]any{"name": "three", "data": map[string]any{"x": 3}, "opts": map[string]any{"delay": 300}},
			map[string]any{"name": "four", "data": map[string]any{"x": 4}},
		},
	}, &produced)
	if len(produced.IDs) != 4 || produced.IDs[0] != "custom-1" {
		t.Fatalf("produced %v", produced.IDs)
	}
	done := map[string]bool{}
	retried := false
	deadline := time.Now().Add(10 * time.Second)
	for len(done) < 4 && time.Now().Before(deadline) {
		r := fetchN(t, d, "nq", 2, time.Now().UnixMilli())
		if len(r.Jobs) == 0 {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		for _, j := range r.Jobs {
			var data struct{ X int }
			_ = json.Unmarshal(j.Data, &data)
			if j.ID == "custom-1" {
				if j.Opts.Attempts != 3 || j.Opts.Backoff == nil || j.Opts.Backoff.Type != "exponential" {
					t.Fatalf("node opts not decoded: %+v", j.Opts)
				}
				if !retried {
					retried = true
					if err := d.Retry(ctx, jobqdriver.RetryParams{Queue: "nq", ID: j.ID, Token: j.Token,
						FailedReason: "go says retry", Now: time.Now().UnixMilli()}); err != nil {
						t.Fatal(err)
					}
					continue
				}
			}
			if j.Name == "two" && j.Priority != 5 {
				t.Fatalf("priority = %d", j.Priority)
			}
			rv, _ := json.Marshal(map[string]any{"doubled": data.X * 2, "by": "go"})
			finishOK(t, d, j, string(rv), time.Now().UnixMilli())
			done[j.ID] = true
		}
	}
	if len(done) != 4 {
		t.Fatalf("processed %v", done)
	}
	var in inspectOut
	node.run("inspect", map[string]any{"ids": produced.IDs}, &in)
	for _, id := range produced.IDs {
		j := in.Jobs[id]
		if j == nil || j.State != "completed" || !strings.Contains(string(j.ReturnValue), `"by":"go"`) {
			t.Fatalf("node sees job %s as %+v", id, j)
		}
	}
	if in.Jobs["custom-1"].AttemptsMade != 2 {
		t.Fatalf("attemptsMade = %d, want 2", in.Jobs["custom-1"].AttemptsMade)
	}
	if in.Counts["completed"] != 4 || in.Counts["waiting"] != 0 || in.Counts["active"] != 0 {
		t.Fatalf("node counts = %v", in.Counts)
	}
	goCounts, _ := d.Counts(ctx, "nq", []string{"completed", "waiting", "active", "delayed", "failed"})
	for k, v := range goCounts {
		if in.Counts[k] != v {
			t.Fatalf("counts disagree on %s: node %d go %d", k, in.Counts[k], v)
		}
	}
	var ev struct {
		Events []struct {
			Kind        string `json:"kind"`
			JobID       string `json:"jobId"`
			ReturnValue any    `json:"returnvalue"`
		}
	}
	wait(&ev)
	if len(ev.Events) != 4 {
		t.Fatalf("QueueEvents saw %+v", ev.Events)
	}
	for _, e := range ev.Events {
		if e.Kind != "completed" || e.ReturnValue == nil {
			t.Fatalf("event %+v", e)
		}
	}
}

// TestInteropGoProducesNodeConsumes: Go adds, a Node Worker processes
// (failing one attempt), Go reads results, progress and logs.
func TestInteropGoProducesNodeConsumes(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	node := newNode(t, d, "gq")
	ctx := context.Background()
	now := time.Now().UnixMilli()
	a := &jobqdriver.Job{Name: "a", Data: []byte(`{"x":5}`)}
	b := &jobqdriver.Job{ID: "retry-me", Name: "b", Data: []byte(`{"x":6,"failFirst":true}`),
		Opts: jobqdriver.Opts{Attempts: 2, Backoff: &jobqdriver.Backoff{Type: "fixed", Delay: 50}}}
	c := &jobqdriver.Job{Name: "c", Data: []byte(`{"x":7}`), Delay: 200, Opts: jobqdriver.Opts{Delay: 200}}
	p := &jobqdriver.Job{Name: "p", Data: []byte(`{"x":8}`), Priority: 3, Opts: jobqdriver.Opts{Priority: 3}}
	res := mustAdd(t, d, "gq", now, a, b, c, p)
	var out struct{ Finished int }
	node.run("work", map[string]any{"count": 4, "timeout": 20000}, &out)
	if out.Finished != 4 {
		t.Fatalf("node finished %d", out.Finished)
	}
	for i, x := range []int{5, 6, 7, 8} {
		j, err := d.GetJob(ctx, "gq", res[i].ID)
		if err != nil {
			t.Fatal(err)
		}
		var rv struct {
			Doubled int
			By      string
		}
		if err := json.Unmarshal(j.ReturnValue, &rv); err != nil || rv.Doubled != 2*x || rv.By != "node" {
			t.Fatalf("job %s returnvalue %s", j.ID, j.ReturnValue)
		}
		if st, _ := d.JobState(ctx, "gq", j.ID); st != jobqdriver.StateCompleted {
			t.Fatalf("job %s state %s", j.ID, st)
		}
		if string(j.Progress) != `{"pct":100}` || j.ProcessedBy != "nodew" {
			t.Fatalf("job %s progress %s pb %q", j.ID, j.Progress, j.ProcessedBy)
		}
	}
	rj, _ := d.GetJob(ctx, "gq", "retry-me")
	if rj.AttemptsMade != 2 || rj.FailedReason != "first attempt fails" || len(rj.Stacktrace) == 0 {
		t.Fatalf("retried job %+v", rj)
	}
	lines, total, _ := d.Logs(ctx, "gq", "retry-me", 0, -1, true)
	if total != 2 || !strings.HasPrefix(lines[0], "node saw") {
		t.Fatalf("logs %v", lines)
	}
}

// TestInteropNodeReadsGoJobs: Go-written jobs (all states) parse under
// Node's Job.fromJSON, and Go waiters show up in Queue.getWorkers().
func TestInteropNodeReadsGoJobs(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	node := newNode(t, d, "rq")
	ctx := context.Background()
	now := time.Now().UnixMilli()
	w, err := d.NewWaiter(ctx, "rq", "gow")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	_ = w.Wait(ctx, 10*time.Millisecond) // dial
	j1 := &jobqdriver.Job{ID: "g-1", Name: "html", Data: []byte(`{"s":"<a&b>","u":"héllo"}`), Opts: jobqdriver.Opts{
		Attempts: 3, Backoff: &jobqdriver.Backoff{Type: "exponential", Delay: 1000},
		RemoveOnComplete: &jobqdriver.Keep{Count: 10}, RemoveOnFail: &jobqdriver.Keep{Count: -1, Age: 3600},
		Dedup: &jobqdriver.Dedup{ID: "d1", TTL: 60000}, KeepLogs: 5}}
	j2 := &jobqdriver.Job{ID: "g-2", Name: "fail", Data: []byte(`{}`)}
	j3 := &jobqdriver.Job{ID: "g-3", Name: "prio", Data: []byte(`[1,2]`), Priority: 7, Opts: jobqdriver.Opts{Priority: 7}}
	j4 := &jobqdriver.Job{ID: "g-4", Name: "later", Data: []byte(`null`), Delay: 60000, Opts: jobqdriver.Opts{Delay: 60000}}
	mustAdd(t, d, "rq", now, j2, j1, j3, j4)
	if err := d.UpdateProgress(ctx, "rq", "g-1", []byte(`{"step":"x<y"}`)); err != nil {
		t.Fatal(err)
	}
	_, _ = d.AddLog(ctx, "rq", "g-1", "hello from go", 5)
	// g-2 fails with a stacktrace; g-1 completes
	for _, j := range fetchN(t, d, "rq", 2, now).Jobs {
		if j.ID == "g-2" {
			errs, _, _ := d.Finish(ctx, []jobqdriver.FinishParams{{Queue: "rq", ID: j.ID, Token: j.Token, Failed: true,
				FailedReason: "go failure", Stacktrace: []string{"Error: go failure\n    at go"}, Now: now + 1}}, nil)
			if errs[0] != nil {
				t.Fatal(errs[0])
			}
		} else {
			finishOK(t, d, j, `{"ok":true,"html":"<p>"}`, now+2)
		}
	}
	var got struct {
		Jobs []*nodeJob
		One  *nodeJob
		Logs struct {
			Logs  []string
			Count int
		}
	}
	node.run("getjobs", map[string]any{"id": "g-1"}, &got)
	byID := map[string]*nodeJob{}
	for _, j := range got.Jobs {
		byID[j.ID] = j
	}
	if len(byID) != 4 {
		t.Fatalf("node listed %d jobs: %+v", len(got.Jobs), got.Jobs)
	}
	one := got.One
	if one == nil || string(one.Data) != `{"s":"<a&b>","u":"héllo"}` || string(one.Progress) != `{"step":"x<y"}` {
		t.Fatalf("node job g-1: %+v", one)
	}
	if one.Opts["attempts"] != float64(3) || one.Opts["deduplication"] == nil || one.Opts["keepLogs"] != float64(5) {
		t.Fatalf("node opts decode: %v", one.Opts)
	}
	if string(one.ReturnValue) != `{"ok":true,"html":"<p>"}` {
		t.Fatalf("returnvalue %s", one.ReturnValue)
	}
	if f := byID["g-2"]; f.FailedReason != "go failure" || len(f.Stacktrace) != 1 || f.AttemptsMade != 1 {
		t.Fatalf("failed job as node sees it: %+v", f)
	}
	if byID["g-3"].Priority != 7 || got.Logs.Count != 1 {
		t.Fatalf("prio/logs: %+v %+v", byID["g-3"], got.Logs)
	}
	var in inspectOut
	node.run("inspect", map[string]any{"ids": []string{"g-1", "g-2", "g-3", "g-4"}}, &in)
	want := map[string]string{"g-1": "completed", "g-2": "failed", "g-3": "prioritized", "g-4": "delayed"}
	for id, st := range want {
		if in.Jobs[id] == nil || in.Jobs[id].State != st {
			t.Fatalf("node state of %s = %+v, want %s", id, in.Jobs[id], st)
		}
	}
	if !contains(strings.Join(in.Workers, ","), WorkerClientName(d.prefix, "rq", "gow")) {
		t.Fatalf("node getWorkers = %v", in.Workers)
	}
	if in.Version != BullMQVersion {
		t.Fatalf("meta version = %q", in.Version)
	}
}
