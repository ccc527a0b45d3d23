package jobqredis

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq"
	"github.com/sevra/atlas/jobq/jobqdriver"
)

// retry runs f until it succeeds or 10s pass: right after a restart the
// first calls may hit dead pooled connections or a server still loading.
func retry(t *testing.T, what string, f func() error) {
	t.Helper()
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: %v", what, err)
}

// TestDurabilityAOF adds jobs with AOF (appendfsync always), kills Redis
// with SIGKILL, restarts it from the same directory and checks that every
// job, its state and its results survived.
func TestDurabilityAOF(t *testing.T) {
	needBinaries(t, "redis-server")
	t.Parallel()
	ctx := context.Background()
	srv := startRedisProc(t, "", false, "--save", "", "--appendonly", "yes", "--appendfsync", "always")
	d, err := Open(ctx, srv.url(), &Config{Prefix: "{dur}"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	now := time.Now().UnixMilli()
	const n = 200
	jobs := make([]*jobqdriver.Job, n)
	for i := range jobs {
		jobs[i] = &jobqdriver.Job{ID: fmt.Sprintf("j%03d", i), Name: "n", Data: []byte(fmt.Sprintf(`{"i":%d}`, i))}
	}
	jobs[n-2].Delay, jobs[n-2].Opts.Delay = 3_600_000, 3_600_000
	jobs[n-1].Priority, jobs[n-1].Opts.Priority = 4, 4
	mustAdd(t, d, "q", now, jobs...)
	got := fetchN(t, d, "q", 3, now).Jobs // j000 completes, j001 fails, j002 stays active
	finishOK(t, d, got[0], `{"done":true}`, now+1)
	errs, _, err := d.Finish(ctx, []jobqdriver.FinishParams{{Queue: "q", ID: got[1].ID, Token: got[1].Token, Failed: true,
		FailedReason: "boom", Stacktrace: []string{"at x"}, Now: now + 2}}, nil)
	if err != nil || errs[0] != nil {
		t.Fatal(err, errs)
	}
	_, _ = d.AddLog(ctx, "q", "j002", "half way", 0)
	before, err := d.Counts(ctx, "q", []string{"waiting", "active", "completed", "failed", "delayed", "prioritized"})
	if err != nil {
		t.Fatal(err)
	}

	srv.restart() // SIGKILL, then start again from the same dir
	var after map[string]int64
	retry(t, "counts after restart", func() error {
		var err error
		after, err = d.Counts(ctx, "q", []string{"waiting", "active", "completed", "failed", "delayed", "prioritized"})
		return err
	})
	for k, v := range before {
		if after[k] != v {
			t.Fatalf("counts before %v, after restart %v", before, after)
		}
	}
	if before["waiting"] != n-5 || before["active"] != 1 {
		t.Fatalf("counts %v", before)
	}
	for id, want := range map[string]string{"j000": "completed", "j001": "failed", "j002": "active",
		"j003": "waiting", fmt.Sprintf("j%03d", n-2): "delayed", fmt.Sprintf("j%03d", n-1): "prioritized"} {
		if st, err := d.JobState(ctx, "q", id); err != nil || st != want {
			t.Fatalf("state of %s after restart = %s %v, want %s", id, st, err, want)
		}
	}
	c, _ := d.GetJob(ctx, "q", "j000")
	f, _ := d.GetJob(ctx, "q", "j001")
	if string(c.ReturnValue) != `{"done":true}` || f.FailedReason != "boom" || len(f.Stacktrace) != 1 {
		t.Fatalf("results after restart: %+v / %+v", c, f)
	}
	if lines, _, _ := d.Logs(ctx, "q", "j002", 0, -1, true); len(lines) != 1 {
		t.Fatalf("logs after restart: %v", lines)
	}
	// the surviving active job still finishes with its token
	finishOK(t, d, got[2], `1`, now+3)
	// and the queue goes on: the rest is fetched in order
	if r := fetchN(t, d, "q", 1, now+4); len(r.Jobs) != 1 || r.Jobs[0].ID != "j003" {
		t.Fatalf("fetch after restart: %v", ids(r.Jobs))
	}
}

// TestWorkerResumesAfterRestart: a jobq.Worker blocked waiting for jobs
// keeps processing, with no intervention, jobs added after its Redis was
// killed and restarted (BullMQ #2466 / #4479: workers that stop after a
// reconnect). Jobs added before the crash survive through AOF and are
// processed too.
func TestWorkerResumesAfterRestart(t *testing.T) {
	needBinaries(t, "redis-server")
	t.Parallel()
	ctx := context.Background()
	srv := startRedisProc(t, "", false, "--save", "", "--appendonly", "yes", "--appendfsync", "always")
	d, err := Open(ctx, srv.url(), &Config{Prefix: "{res}"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var mu sync.Mutex
	done := map[string]int{}
	block := make(chan struct{})
	w, err := jobq.NewWorker("rq", d, func(ctx context.Context, j *jobq.Job) (any, error) {
		if j.Name == "blocked" {
			<-block // still running when Redis dies
		}
		mu.Lock()
		done[j.ID]++
		mu.Unlock()
		return j.ID, nil
	}, &jobq.WorkerConfig{Name: "rw", Concurrency: 2, DrainDelay: 2 * time.Second, LockDuration: 10 * time.Second,
		StalledInterval: 2 * time.Second,
		OnError:         func(err error) { t.Logf("worker error (expected while Redis is down): %v", err) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Close(context.Background()) }()
	q := jobq.NewQueue("rq", d, nil)
	processed := func(ids ...string) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, id := range ids {
				if done[id] == 0 {
					return false
				}
			}
			return true
		}
	}
	if _, err := q.Add(ctx, "first", nil, &jobq.JobOptions{JobID: "first"}); err != nil {
		t.Fatal(err)
	}
	eventuallyT(t, 10*time.Second, "first job processed", processed("first"))
	if _, err := q.Add(ctx, "blocked", nil, &jobq.JobOptions{JobID: "blocked"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // taken by the worker; the other slot blocks in BZPOPMIN

	srv.kill9()
	time.Sleep(time.Second) // the worker sees errors meanwhile
	srv.restart()
	close(block)
	var ids []string
	for i := range 5 {
		id := fmt.Sprintf("after-%d", i)
		retry(t, "add after restart", func() error {
			_, err := q.Add(ctx, "after", map[string]int{"i": i}, &jobq.JobOptions{JobID: id})
			return err
		})
		ids = append(ids, id)
	}
	eventuallyT(t, 20*time.Second, "jobs added after the restart processed", processed(append(ids, "blocked")...))
	for _, id := range append(ids, "first", "blocked") {
		st, err := d.JobState(ctx, "rq", id)
		if err != nil || st != jobqdriver.StateCompleted {
			t.Fatalf("%s: state %s %v", id, st, err)
		}
	}
}
