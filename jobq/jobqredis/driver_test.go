package jobqredis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

func TestOrdering(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	ctx := context.Background()
	const now = 1_700_000_000_000
	a, b := job("a", "n"), job("b", "n")
	lifo := job("c", "n")
	lifo.Opts.LIFO = true
	p5, p1 := job("p5", "n"), job("p1", "n")
	p5.Priority, p1.Priority = 5, 1
	late, early := job("late", "n"), job("early", "n")
	late.Delay, early.Delay = 200, 100
	mustAdd(t, d, "q", now, a, b, lifo, p5, p1, late, early)

	r := fetchN(t, d, "q", 5, now)
	if got, want := ids(r.Jobs), []string{"c", "a", "b", "p1", "p5"}; !slices.Equal(got, want) {
		t.Fatalf("order = %v, want %v", got, want)
	}
	if r.NextDelayed != now+100 {
		t.Fatalf("NextDelayed = %d, want %d", r.NextDelayed, now+100)
	}
	r = fetchN(t, d, "q", 5, now+250)
	if got, want := ids(r.Jobs), []string{"early", "late"}; !slices.Equal(got, want) {
		t.Fatalf("delayed order = %v, want %v", got, want)
	}
	j := r.Jobs[0]
	if j.AttemptsStarted != 1 || j.ProcessedBy != "w1" || j.ProcessedOn != now+250 || j.Token == "" {
		t.Fatalf("fetched job fields: %+v", j)
	}
	if st, _ := d.JobState(ctx, "q", "early"); st != jobqdriver.StateActive {
		t.Fatalf("state = %s", st)
	}
}

func TestFinishAndFetchNext(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	ctx := context.Background()
	const now = 1_700_000_000_000
	mustAdd(t, d, "q", now, job("", "a"), job("", "b"))
	r := fetchN(t, d, "q", 1, now)
	if len(r.Jobs) != 1 || r.Jobs[0].ID != "1" {
		t.Fatalf("fetch = %v", ids(r.Jobs))
	}
	j := r.Jobs[0]
	errs, next, err := d.Finish(ctx, []jobqdriver.FinishParams{{
		Queue: "q", ID: j.ID, Token: j.Token, ReturnValue: []byte(`{"ok":"<&>"}`), Now: now + 5, MetricsMaxDataPoints: 10,
	}}, &jobqdriver.FetchParams{Queue: "q", Tokens: []string{"t2"}, LockDuration: 1000, Now: now + 5})
	if err != nil || errs[0] != nil {
		t.Fatalf("Finish: %v %v", err, errs)
	}
	if len(next.Jobs) != 1 || next.Jobs[0].ID != "2" || next.Jobs[0].Token != "t2" {
		t.Fatalf("fetched next = %+v", next)
	}
	got, err := d.GetJob(ctx, "q", "1")
	if err != nil {
		t.Fatal(err)
	}
	if string(got.ReturnValue) != `{"ok":"<&>"}` || got.FinishedOn != now+5 || got.AttemptsMade != 1 {
		t.Fatalf("completed job: %+v", got)
	}
	// wrong token
	errs, _, _ = d.Finish(ctx, []jobqdriver.FinishParams{{Queue: "q", ID: "2", Token: "bad", Now: now}}, nil)
	if !errors.Is(errs[0], jobqdriver.ErrLockMismatch) {
		t.Fatalf("bad token err = %v", errs[0])
	}
	errs, _, _ = d.Finish(ctx, []jobqdriver.FinishParams{{Queue: "q", ID: "nope", Token: "x", Now: now}}, nil)
	if !errors.Is(errs[0], jobqdriver.ErrJobNotFound) {
		t.Fatalf("missing err = %v", errs[0])
	}
	c, err := d.Counts(ctx, "q", []string{"completed", "active", "waiting"})
	if err != nil || c["completed"] != 1 || c["active"] != 1 || c["waiting"] != 0 {
		t.Fatalf("counts = %v %v", c, err)
	}
	m, err := d.Metrics(ctx, "q", "completed", 0, -1)
	if err != nil || m.Count != 1 {
		t.Fatalf("metrics = %+v %v", m, err)
	}
}

func TestRetryAndFail(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	ctx := context.Background()
	const now = 1_700_000_000_000
	mustAdd(t, d, "q", now, job("r", "n"))
	j := fetchN(t, d, "q", 1, now).Jobs[0]
	if err := d.Retry(ctx, jobqdriver.RetryParams{Queue: "q", ID: "r", Token: j.Token, Delay: 1000,
		FailedReason: "boom", Stacktrace: []string{"at x"}, Now: now}); err != nil {
		t.Fatal(err)
	}
	if st, _ := d.JobState(ctx, "q", "r"); st != jobqdriver.StateDelayed {
		t.Fatalf("state after retry = %s", st)
	}
	if r := fetchN(t, d, "q", 1, now+999); len(r.Jobs) != 0 {
		t.Fatal("fetched before backoff elapsed")
	}
	j = fetchN(t, d, "q", 1, now+1000).Jobs[0]
	if j.AttemptsMade != 1 || j.AttemptsStarted != 2 || j.FailedReason != "boom" {
		t.Fatalf("retried job: %+v", j)
	}
	errs, _, err := d.Finish(ctx, []jobqdriver.FinishParams{{Queue: "q", ID: "r", Token: j.Token, Failed: true,
		FailedReason: "boom2", Stacktrace: []string{"a", "b"}, RetriesExhausted: true, Now: now + 2000}}, nil)
	if err != nil || errs[0] != nil {
		t.Fatal(err, errs)
	}
	got, _ := d.GetJob(ctx, "q", "r")
	if got.FailedReason != "boom2" || len(got.Stacktrace) != 2 || got.AttemptsMade != 2 {
		t.Fatalf("failed job: %+v", got)
	}
	evs, err := d.ReadEvents(ctx, "q", "0", 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range evs {
		names = append(names, e.Name)
	}
	want := []string{"added", "waiting", "active", "delayed", "waiting", "active", "failed", "retries-exhausted", "drained"}
	if !slices.Equal(names, want) {
		t.Fatalf("events = %v, want %v", names, want)
	}
	if err := d.Reprocess(ctx, "q", "r", "failed", now+3000); err != nil {
		t.Fatal(err)
	}
	got, _ = d.GetJob(ctx, "q", "r")
	if got.AttemptsMade != 0 || got.FailedReason != "" {
		t.Fatalf("reprocessed: %+v", got)
	}
}

func TestRetention(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	ctx := context.Background()
	const now = 1_700_000_000_000
	for i := range 5 {
		mustAdd(t, d, "q", now, job(fmt.Sprintf("j%d", i), "n"))
		j := fetchN(t, d, "q", 1, now).Jobs[0]
		errs, _, err := d.Finish(ctx, []jobqdriver.FinishParams{{Queue: "q", ID: j.ID, Token: j.Token,
			Keep: &jobqdriver.Keep{Count: 2}, Now: now + int64(i)}}, nil)
		if err != nil || errs[0] != nil {
			t.Fatal(err, errs)
		}
	}
	jobs, _ := d.GetJobs(ctx, "q", []string{"completed"}, 0, -1, false)
	if got := ids(jobs); !slices.Equal(got, []string{"j4", "j3"}) {
		t.Fatalf("kept = %v", got)
	}
	if _, err := d.GetJob(ctx, "q", "j0"); !errors.Is(err, jobqdriver.ErrJobNotFound) {
		t.Fatalf("j0 not removed: %v", err)
	}
	mustAdd(t, d, "q", now, job("gone", "n"))
	j := fetchN(t, d, "q", 1, now).Jobs[0]
	_, _, _ = d.Finish(ctx, []jobqdriver.FinishParams{{Queue: "q", ID: j.ID, Token: j.Token, Keep: &jobqdriver.Keep{}, Now: now}}, nil)
	if _, err := d.GetJob(ctx, "q", "gone"); !errors.Is(err, jobqdriver.ErrJobNotFound) {
		t.Fatalf("removeOnComplete=true kept the job: %v", err)
	}
}

func TestDuplicateAndDedup(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	ctx := context.Background()
	const now = 1_700_000_000_000
	r := mustAdd(t, d, "q", now, job("x", "n"), job("x", "n"))
	if r[0].Duplicate || !r[1].Duplicate || r[1].ID != "x" {
		t.Fatalf("dup results = %+v", r)
	}
	a, b := job("", "n"), job("", "n")
	a.Opts.Dedup = &jobqdriver.Dedup{ID: "k", TTL: 50}
	b.Opts.Dedup = &jobqdriver.Dedup{ID: "k", TTL: 50}
	r = mustAdd(t, d, "q", now, a, b)
	if r[0].DeduplicatedBy != "" || r[1].DeduplicatedBy != r[0].ID {
		t.Fatalf("dedup results = %+v", r)
	}
	// without TTL the key lives until the job finishes
	c, e := job("c1", "n"), job("c2", "n")
	c.Opts.Dedup = &jobqdriver.Dedup{ID: "z"}
	e.Opts.Dedup = &jobqdriver.Dedup{ID: "z"}
	mustAdd(t, d, "q2", now, c)
	if r := mustAdd(t, d, "q2", now, e); r[0].DeduplicatedBy != "c1" {
		t.Fatalf("dedup while alive = %+v", r)
	}
	j := fetchN(t, d, "q2", 1, now).Jobs[0]
	_, _, _ = d.Finish(ctx, []jobqdriver.FinishParams{{Queue: "q2", ID: j.ID, Token: j.Token, Now: now}}, nil)
	if r := mustAdd(t, d, "q2", now, e); r[0].DeduplicatedBy != "" || r[0].ID != "c2" {
		t.Fatalf("dedup after finish = %+v", r)
	}
	got, _ := d.GetJob(ctx, "q2", "c2")
	if got.DeduplicationID != "z" {
		t.Fatalf("deid = %q", got.DeduplicationID)
	}
}
