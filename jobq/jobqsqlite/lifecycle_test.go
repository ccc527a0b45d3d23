package jobqsqlite

import (
	"context"
	"slices"
	"testing"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

func TestRetention(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		keep *jobqdriver.Keep
		want []string // completed ids left, oldest first
	}{
		{"keep all", nil, []string{"1", "2", "3", "4"}},
		{"remove all", &jobqdriver.Keep{}, nil},
		{"count 2", &jobqdriver.Keep{Count: 2}, []string{"3", "4"}},
		{"age 5s", &jobqdriver.Keep{Count: -1, Age: 5}, []string{"3", "4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			d, _ := openTest(t)
			mustAdd(t, d, "q", 0, &jobqdriver.Job{}, &jobqdriver.Job{}, &jobqdriver.Job{}, &jobqdriver.Job{})
			for i, now := range []int64{1000, 2000, 8000, 9000} {
				j := fetchN(t, d, "q", 1, now).Jobs[0]
				if i == 0 {
					d.AddLog(ctx, "q", j.ID, "line", 0)
				}
				complete(t, d, j, now, tt.keep)
			}
			jobs, err := d.GetJobs(ctx, "q", []string{"completed"}, 0, -1, true)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(jobs); !slices.Equal(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Fatalf("completed %v, want %v", got, tt.want)
			}
			if _, n, _ := d.Logs(ctx, "q", "1", 0, -1, true); (n == 0) != !slices.Contains(tt.want, "1") {
				t.Fatalf("logs of job 1: %d", n)
			}
		})
	}
}

func TestFinishErrorsAndRetry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, _ := openTest(t)
	mustAdd(t, d, "q", 1000, &jobqdriver.Job{ID: "a"}, &jobqdriver.Job{ID: "b"})
	a := fetchN(t, d, "q", 1, 1000).Jobs[0]
	errs, _, err := d.Finish(ctx, []jobqdriver.FinishParams{
		{Queue: "q", ID: "a", Token: "wrong", Now: 1},
		{Queue: "q", ID: "zz", Token: "x", Now: 1},
	}, nil)
	if err != nil || !errorsIs(errs[0], jobqdriver.ErrLockMismatch) || !errorsIs(errs[1], jobqdriver.ErrJobNotFound) {
		t.Fatalf("errs %v %v", errs, err)
	}
	if err := d.Retry(ctx, jobqdriver.RetryParams{Queue: "q", ID: "a", Token: a.Token, FailedReason: "r1", Stacktrace: []string{"s"}, Now: 1100}); err != nil {
		t.Fatal(err)
	}
	// Retried at once: front of waiting, before b.
	a = fetchN(t, d, "q", 1, 1200).Jobs[0]
	if a.ID != "a" || a.AttemptsMade != 1 || a.FailedReason != "r1" || a.Stacktrace[0] != "s" {
		t.Fatalf("retried %+v", a)
	}
	if err := d.Retry(ctx, jobqdriver.RetryParams{Queue: "q", ID: "a", Token: a.Token, Delay: 500, Now: 1300}); err != nil {
		t.Fatal(err)
	}
	if s, _ := d.JobState(ctx, "q", "a"); s != "delayed" {
		t.Fatalf("state %s", s)
	}
	b := fetchN(t, d, "q", 1, 1300).Jobs[0]
	_, next, err := d.Finish(ctx, []jobqdriver.FinishParams{{Queue: "q", ID: "b", Token: b.Token, Failed: true, FailedReason: "x", RetriesExhausted: true, Now: 1900}},
		&jobqdriver.FetchParams{Queue: "q", Tokens: []string{"n1"}, LockDuration: 1000, Now: 1900})
	if err != nil || len(next.Jobs) != 1 || next.Jobs[0].ID != "a" {
		t.Fatalf("finish+fetch %v %+v", err, next)
	}
	names := eventNames(t, d, "q")
	for _, want := range []string{"added", "waiting", "active", "delayed", "failed", "retries-exhausted"} {
		if !slices.Contains(names, want) {
			t.Errorf("no %q event in %v", want, names)
		}
	}
	if err := d.Reprocess(ctx, "q", "b", "failed", 2000); err != nil {
		t.Fatal(err)
	}
	j, _ := d.GetJob(ctx, "q", "b")
	if j.State != "waiting" || j.AttemptsMade != 0 || j.FailedReason != "" {
		t.Fatalf("reprocessed %+v", j)
	}
}

func TestStalledSweep(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, _ := openTest(t)
	mustAdd(t, d, "q", 0, &jobqdriver.Job{ID: "a"}, &jobqdriver.Job{ID: "b"}, &jobqdriver.Job{ID: "c"})
	var toks = map[string]string{}
	for _, j := range fetchN(t, d, "q", 2, 0).Jobs { // lock until 30000
		toks[j.ID] = j.Token
	}
	sweep := func(now int64) jobqdriver.StalledResult {
		r, err := d.CheckStalled(ctx, jobqdriver.StalledParams{Queue: "q", MaxStalledCount: 1, Interval: 1000, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := sweep(100); len(r.Recovered)+len(r.Failed) != 0 {
		t.Fatalf("first sweep %+v", r)
	}
	if r := sweep(500); len(r.Recovered) != 0 { // guarded by Interval
		t.Fatalf("guard %+v", r)
	}
	// b renews its lock; a does not.
	lost, err := d.ExtendLocks(ctx, "q", []jobqdriver.Lock{{ID: "b", Token: toks["b"]}, {ID: "a", Token: "bad"}}, 30000, 31000)
	if err != nil || !slices.Equal(lost, []string{"a"}) {
		t.Fatalf("lost %v %v", lost, err)
	}
	r := sweep(40000)
	if !slices.Equal(r.Recovered, []string{"a"}) || len(r.Failed) != 0 {
		t.Fatalf("sweep %+v", r)
	}
	// a runs next, at the front of waiting.
	j := fetchN(t, d, "q", 1, 40001).Jobs[0]
	if j.ID != "a" || j.StalledCounter != 1 {
		t.Fatalf("after stall %+v", j)
	}
	sweep(42000) // marks a (and b)
	r = sweep(100000)
	if !slices.Contains(r.Failed, "a") {
		t.Fatalf("second stall %+v", r)
	}
	j, _ = d.GetJob(ctx, "q", "a")
	if j.DeferredFailure != deferredStalledFailure || j.State != "waiting" || j.StalledCounter != 2 {
		t.Fatalf("deferred %+v", j)
	}
	if !slices.Contains(eventNames(t, d, "q"), "stalled") {
		t.Fatal("no stalled event")
	}
}

func TestDrainedEvent(t *testing.T) {
	t.Parallel()
	d, _ := openTest(t)
	mustAdd(t, d, "q", 0, &jobqdriver.Job{})
	j := fetchN(t, d, "q", 1, 0).Jobs[0]
	complete(t, d, j, 1, nil)
	fetchN(t, d, "q", 1, 2)
	fetchN(t, d, "q", 1, 3)
	n := 0
	for _, e := range eventNames(t, d, "q") {
		if e == "drained" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("drained events %d", n)
	}
}
