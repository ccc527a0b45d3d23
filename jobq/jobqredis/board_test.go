package jobqredis

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq"
	"github.com/sevra/atlas/jobq/jobqdriver"
)

type boardJob struct {
	ID           string          `json:"id"`
	Name         string          `json:"name"`
	Data         json.RawMessage `json:"data"`
	ReturnValue  json.RawMessage `json:"returnValue"`
	FailedReason string          `json:"failedReason"`
	Stacktrace   []string        `json:"stacktrace"`
	Progress     json.RawMessage `json:"progress"`
	Attempts     int             `json:"attempts"`
	Delay        int64           `json:"delay"`
	Priority     int             `json:"priority"`
	ProcessedBy  string          `json:"processedBy"`
	IsFailed     bool            `json:"isFailed"`
	Opts         map[string]any  `json:"opts"`
}

type boardQueue struct {
	Name              string           `json:"name"`
	Counts            map[string]int64 `json:"counts"`
	Jobs              []boardJob       `json:"jobs"`
	IsPaused          bool             `json:"isPaused"`
	JobSchedulerCount int              `json:"jobSchedulerCount"`
	HasWorkers        *bool            `json:"hasWorkers"`
}

type boardResp[T any] struct {
	Status int    `json:"status"`
	Body   T      `json:"body"`
	Error  string `json:"error"`
}

type boardOut struct {
	Status map[string]boardResp[struct {
		Queues []boardQueue `json:"queues"`
	}] `json:"status"`
	Jobs map[string]boardResp[struct {
		Job    boardJob `json:"job"`
		Status string   `json:"status"`
	}] `json:"jobs"`
	Logs    map[string]boardResp[[]string]        `json:"logs"`
	Flow    map[string]boardResp[json.RawMessage] `json:"flow"`
	Workers boardResp[struct {
		Workers []map[string]any `json:"workers"`
	}] `json:"workers"`
	Schedulers boardResp[struct {
		Schedulers []map[string]any `json:"schedulers"`
	}] `json:"schedulers"`
	Metrics boardResp[json.RawMessage] `json:"metrics"`
}

// TestInteropBullBoard: Go writes jobs in every state (and logs, progress,
// a flow parent, a job scheduler, a named worker connection), and
// bull-board 9.10.2's own API handlers, over a Node BullMQ 6.7.0 Queue,
// report them as Go wrote them.
func TestInteropBullBoard(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	node := newNode(t, d, "bb")
	ctx := context.Background()
	now := time.Now().UnixMilli()
	w, err := d.NewWaiter(ctx, "bb", "go-board-worker")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	_ = w.Wait(ctx, 10*time.Millisecond) // dial

	// c1, f1 and a1 are fetched first (FIFO), then the rest is added
	mustAdd(t, d, "bb", now,
		&jobqdriver.Job{ID: "c1", Name: "render", Data: []byte(`{"page":"<home>"}`)},
		&jobqdriver.Job{ID: "f1", Name: "charge", Data: []byte(`{"eur":12}`),
			Opts: jobqdriver.Opts{Attempts: 1}},
		&jobqdriver.Job{ID: "a1", Name: "busy", Data: []byte(`{}`)})
	fetched := fetchN(t, d, "bb", 3, now)
	if len(fetched.Jobs) != 3 {
		t.Fatalf("fetched %v", ids(fetched.Jobs))
	}
	for _, j := range fetched.Jobs {
		switch j.ID {
		case "c1":
			if err := d.UpdateProgress(ctx, "bb", "c1", []byte(`{"pct":100}`)); err != nil {
				t.Fatal(err)
			}
			_, _ = d.AddLog(ctx, "bb", "c1", "step 1", 0)
			_, _ = d.AddLog(ctx, "bb", "c1", "step 2 <done>", 0)
			finishOK(t, d, j, `{"ok":true,"n":42}`, now+5)
		case "f1":
			errs, _, err := d.Finish(ctx, []jobqdriver.FinishParams{{Queue: "bb", ID: "f1", Token: j.Token, Failed: true,
				FailedReason: "card declined", Stacktrace: []string{"Error: card declined\n    at charge (go)"},
				RetriesExhausted: true, Now: now + 6}}, nil)
			if err != nil || errs[0] != nil {
				t.Fatal(err, errs)
			}
		}
	}
	mustAdd(t, d, "bb", now,
		&jobqdriver.Job{ID: "w1", Name: "mail", Data: []byte(`{"to":"a@b.c"}`)},
		&jobqdriver.Job{ID: "d1", Name: "later", Data: []byte(`{}`), Delay: 60000, Opts: jobqdriver.Opts{Delay: 60000}},
		&jobqdriver.Job{ID: "p1", Name: "urgent", Data: []byte(`{}`), Priority: 3, Opts: jobqdriver.Opts{Priority: 3}})
	flow, err := jobq.NewFlowProducer(d, nil).Add(ctx, jobq.FlowJob{Name: "parent", Queue: "bb", Data: map[string]int{"p": 1},
		Children: []jobq.FlowJob{{Name: "child", Queue: "bb", Data: map[string]int{"c": 1}}}})
	if err != nil {
		t.Fatal(err)
	}
	parentID, childID := flow.Job.ID, flow.Children[0].Job.ID
	first, err := jobq.NewQueue("bb", d, nil).UpsertJobScheduler(ctx, "nightly", jobq.Repeat{Every: time.Hour},
		&jobq.JobTemplate{Name: "tick", Data: map[string]int{"t": 1}})
	if err != nil {
		t.Fatal(err)
	}

	var out boardOut
	node.runScript("board.js", map[string]any{
		"ids":  []string{"c1", "f1", "a1", "w1", "d1", "p1", parentID, first.ID},
		"logs": []string{"c1"},
		"flow": []string{parentID},
	}, &out)

	wantCounts := map[string]int64{"active": 1, "waiting": 2, "waiting-children": 1, "prioritized": 1,
		"completed": 1, "failed": 1, "delayed": 2}
	wantIDs := map[string][]string{
		"active": {"a1"}, "waiting": {"w1", childID}, "waiting-children": {parentID}, "prioritized": {"p1"},
		"completed": {"c1"}, "failed": {"f1"}, "delayed": {"d1", first.ID},
	}
	for status, want := range wantIDs {
		r := out.Status[status]
		if r.Status != 200 || len(r.Body.Queues) != 1 {
			t.Fatalf("status %s: %+v", status, r)
		}
		bq := r.Body.Queues[0]
		if bq.Name != "bb" || bq.JobSchedulerCount != 1 || bq.IsPaused || bq.HasWorkers == nil || !*bq.HasWorkers {
			t.Fatalf("queue as bull-board lists it: %+v", bq)
		}
		for s, n := range wantCounts {
			if bq.Counts[s] != n {
				t.Fatalf("bull-board counts %v, want %v", bq.Counts, wantCounts)
			}
		}
		var got []string
		for _, j := range bq.Jobs {
			got = append(got, j.ID)
		}
		if !sameSet(got, want) {
			t.Fatalf("bull-board %s jobs = %v, want %v", status, got, want)
		}
	}
	latest := out.Status["latest"].Body.Queues[0].Jobs
	if len(latest) != 9 {
		t.Fatalf("latest lists %d jobs", len(latest))
	}

	byID := map[string]boardJob{}
	for _, s := range []string{"completed", "failed", "active", "prioritized", "delayed"} {
		for _, j := range out.Status[s].Body.Queues[0].Jobs {
			byID[j.ID] = j
		}
	}
	if c := byID["c1"]; c.Name != "render" || !jsonEq(c.Data, `{"page":"<home>"}`) || !jsonEq(c.ReturnValue, `{"ok":true,"n":42}`) ||
		!jsonEq(c.Progress, `{"pct":100}`) || c.Attempts != 1 || c.ProcessedBy != "w1" || c.IsFailed {
		t.Fatalf("completed job as bull-board shows it: %+v", c)
	}
	if f := byID["f1"]; f.FailedReason != "card declined" || !f.IsFailed || len(f.Stacktrace) != 1 ||
		!strings.Contains(f.Stacktrace[0], "at charge (go)") || f.Attempts != 1 {
		t.Fatalf("failed job as bull-board shows it: %+v", f)
	}
	if p := byID["p1"]; p.Priority != 3 || p.Name != "urgent" {
		t.Fatalf("prioritized job: %+v", p)
	}
	if d1 := byID["d1"]; d1.Delay != 60000 {
		t.Fatalf("delayed job: %+v", d1)
	}

	wantState := map[string]string{"c1": "completed", "f1": "failed", "a1": "active", "w1": "waiting", "d1": "delayed",
		"p1": "prioritized", parentID: "waiting-children", first.ID: "delayed"}
	for id, st := range wantState {
		r := out.Jobs[id]
		if r.Status != 200 || r.Body.Status != st || r.Body.Job.ID != id {
			t.Fatalf("job detail %s: %+v (want state %s)", id, r, st)
		}
	}
	if j := out.Jobs[first.ID].Body.Job; j.Name != "tick" || !jsonEq(j.Data, `{"t":1}`) {
		t.Fatalf("scheduler job detail: %+v", j)
	}
	if l := out.Logs["c1"]; l.Status != 200 || len(l.Body) != 2 || l.Body[1] != "step 2 <done>" {
		t.Fatalf("logs: %+v", l)
	}
	if f := out.Flow[parentID]; f.Status != 200 || !strings.Contains(string(f.Body), `"`+childID+`"`) ||
		!strings.Contains(string(f.Body), `"waiting-children"`) {
		t.Fatalf("flow: %d %s %s", f.Status, f.Body, f.Error)
	}
	ws, _ := json.Marshal(out.Workers.Body.Workers)
	if out.Workers.Status != 200 || !strings.Contains(string(ws), "go-board-worker") {
		t.Fatalf("workers: %d %s", out.Workers.Status, ws)
	}
	sc := out.Schedulers.Body.Schedulers
	if out.Schedulers.Status != 200 || len(sc) != 1 || sc[0]["id"] != "nightly" || sc[0]["name"] != "tick" ||
		sc[0]["every"] != float64(3600000) || sc[0]["nextRunJobId"] != first.ID {
		t.Fatalf("schedulers: %+v", out.Schedulers)
	}
	if out.Metrics.Status != 200 {
		t.Fatalf("metrics: %+v", out.Metrics)
	}
}

// runScript runs "node <script> <json arg>" and decodes its last line.
func (n *nodeRunner) runScript(script string, arg, v any) {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, _ := json.Marshal(arg)
	c := exec.CommandContext(ctx, "node", script, string(b))
	c.Dir, c.Env = n.dir, n.env
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		n.t.Fatalf("node %s: %v\n%s", script, err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), v); err != nil {
		n.t.Fatalf("node %s output %q: %v", script, out, err)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
		if m[x] < 0 {
			return false
		}
	}
	return true
}

func jsonEq(got json.RawMessage, want string) bool {
	var a, b any
	if json.Unmarshal(got, &a) != nil || json.Unmarshal([]byte(want), &b) != nil {
		return false
	}
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
