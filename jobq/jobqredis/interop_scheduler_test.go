package jobqredis

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq"
)

type proofSchedulers struct {
	Schedulers []struct {
		Key            string `json:"key"`
		ID             string `json:"id"`
		Name           string `json:"name"`
		Every          int64  `json:"every"`
		Pattern        string `json:"pattern"`
		Next           int64  `json:"next"`
		IterationCount int    `json:"iterationCount"`
	} `json:"schedulers"`
	Pending []struct {
		ID           string         `json:"id"`
		Name         string         `json:"name"`
		RepeatJobKey string         `json:"repeatJobKey"`
		Opts         map[string]any `json:"opts"`
	} `json:"pending"`
	Completed []struct {
		ID           string `json:"id"`
		Name         string `json:"name"`
		ProcessedBy  string `json:"processedBy"`
		RepeatJobKey string `json:"repeatJobKey"`
	} `json:"completed"`
}

// runMillis returns the run times of the completed jobs of scheduler sid
// (ids "repeat:<sid>:<millis>"), ascending, all processed by worker by.
func runMillis(t *testing.T, ps proofSchedulers, sid, by string) []int64 {
	t.Helper()
	var out []int64
	for _, c := range ps.Completed {
		if c.RepeatJobKey != sid {
			continue
		}
		ms, ok := strings.CutPrefix(c.ID, "repeat:"+sid+":")
		n, err := strconv.ParseInt(ms, 10, 64)
		if !ok || err != nil || c.ProcessedBy != by {
			t.Fatalf("scheduler %s job %+v", sid, c)
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// waitSchedulerRuns waits (up to 30 s) until each of the schedulers has at
// least n completed runs in q. Polling instead of a fixed sleep keeps the
// tests from depending on how fast a worker (a Node process) starts on a
// loaded machine.
func waitSchedulerRuns(t *testing.T, q *jobq.Queue, n int, ids ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		jobs, err := q.GetJobs(context.Background(), []jobq.State{jobq.StateCompleted}, 0, -1, true)
		if err != nil {
			t.Fatal(err)
		}
		runs := map[string]int{}
		for _, j := range jobs {
			runs[j.RepeatJobKey]++
		}
		done := true
		for _, id := range ids {
			done = done && runs[id] >= n
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("schedulers %v: completed runs %v after 30s, want %d each", ids, runs, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkSchedulerRuns checks that both schedulers ran at least 3 times, one
// second apart, that Node's getJobSchedulers counts the iterations and
// names the next run, and that exactly that next job is pending.
func checkSchedulerRuns(t *testing.T, ps proofSchedulers, every, cron, by string) {
	t.Helper()
	for _, sid := range []string{every, cron} {
		runs := runMillis(t, ps, sid, by)
		if len(runs) < 3 {
			t.Fatalf("scheduler %s ran %d times: %+v", sid, len(runs), ps.Completed)
		}
		for i := 1; i < len(runs); i++ {
			if runs[i]-runs[i-1] != 1000 {
				t.Fatalf("scheduler %s runs %v are not 1s apart", sid, runs)
			}
		}
		var found bool
		for _, s := range ps.Schedulers {
			if s.Key != sid && s.ID != sid {
				continue
			}
			found = true
			if s.IterationCount < len(runs)+1 || s.Next <= runs[len(runs)-1] {
				t.Fatalf("node getJobSchedulers %s: %+v after runs %v", sid, s, runs)
			}
			next := "repeat:" + sid + ":" + strconv.FormatInt(s.Next, 10)
			var pending []string
			for _, p := range ps.Pending {
				if p.RepeatJobKey == sid {
					pending = append(pending, p.ID)
				}
			}
			if !slices.Equal(pending, []string{next}) {
				t.Fatalf("scheduler %s pending jobs %v, want [%s]", sid, pending, next)
			}
		}
		if !found {
			t.Fatalf("node getJobSchedulers lacks %s: %+v", sid, ps.Schedulers)
		}
	}
}

// TestInteropSchedulerNodeUpsertGoAdvances (proof point 11): job
// schedulers upserted by Node (every 1s, and a cron pattern firing every
// second) are advanced by a Go worker: it takes each job and adds the
// next one as BullMQ would (id repeat:<id>:<millis>, iteration count, next
// run), which Node's getJobSchedulers reports.
func TestInteropSchedulerNodeUpsertGoAdvances(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	node := newNode(t, d, "s11")
	var up struct{ ID string }
	node.proof("upsert-scheduler", obj{"id": "ev", "repeat": obj{"every": 1000},
		"template": obj{"name": "tick-ev", "data": obj{"x": 1}}}, &up)
	if !strings.HasPrefix(up.ID, "repeat:ev:") {
		t.Fatalf("node first scheduler job %q", up.ID)
	}
	node.proof("upsert-scheduler", obj{"id": "cr", "repeat": obj{"pattern": "*/1 * * * * *"},
		"template": obj{"name": "tick-cr", "data": obj{"x": 2}}}, &up)
	gw := startGoWorker(t, d, "s11", goProcessor(nil), &jobq.WorkerConfig{Name: "go-sched", Concurrency: 2, DrainDelay: 100 * time.Millisecond})
	waitSchedulerRuns(t, jobq.NewQueue("s11", d, nil), 3, "ev", "cr")
	// Stop the worker first: the snapshot below is several reads, and a
	// run landing between them would make it inconsistent.
	cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := gw.Close(cctx); err != nil {
		t.Fatal(err)
	}
	var ps proofSchedulers
	node.proof("schedulers", obj{}, &ps)
	checkSchedulerRuns(t, ps, "ev", "cr", "go-sched")
	// and Go reads the same schedulers
	gs, err := jobq.NewQueue("s11", d, nil).GetJobSchedulers(context.Background())
	if err != nil || len(gs) != 2 {
		t.Fatalf("go GetJobSchedulers %v %v", gs, err)
	}
	for _, s := range gs {
		if s.Iterations < 4 || (s.ID == "ev" && s.Every != time.Second) || (s.ID == "cr" && s.Pattern != "*/1 * * * * *") {
			t.Fatalf("go sees scheduler %+v", s)
		}
	}
}

// TestInteropSchedulerGoUpsertNodeAdvances (proof point 11, the other way):
// schedulers upserted by Go's Queue.UpsertJobScheduler are advanced by a
// Node Worker.
func TestInteropSchedulerGoUpsertNodeAdvances(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	node := newNode(t, d, "s11g")
	ctx := context.Background()
	q := jobq.NewQueue("s11g", d, nil)
	if _, err := q.UpsertJobScheduler(ctx, "gev", jobq.Repeat{Every: time.Second},
		&jobq.JobTemplate{Name: "tick-gev", Data: obj{"x": 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.UpsertJobScheduler(ctx, "gcr", jobq.Repeat{Pattern: "*/1 * * * * *"},
		&jobq.JobTemplate{Name: "tick-gcr", Data: obj{"x": 2}}); err != nil {
		t.Fatal(err)
	}
	w := node.bgProof("work", obj{"name": "node-sched", "concurrency": 2, "timeout": 30000})
	waitSchedulerRuns(t, q, 3, "gev", "gcr")
	w.stop(nil)
	var ps proofSchedulers
	node.proof("schedulers", obj{}, &ps)
	checkSchedulerRuns(t, ps, "gev", "gcr", "node-sched")
	gs, err := q.GetJobSchedulers(ctx)
	if err != nil || len(gs) != 2 || gs[0].Iterations < 4 || gs[1].Iterations < 4 {
		t.Fatalf("go GetJobSchedulers %+v %v", gs, err)
	}
}
