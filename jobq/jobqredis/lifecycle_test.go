package jobqredis

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

func TestLimiter(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	ctx := context.Background()
	const now = 1_700_000_000_000
	mustAdd(t, d, "q", now, job("a", "n"), job("b", "n"), job("c", "n"))
	p := jobqdriver.FetchParams{Queue: "q", Tokens: []string{"t1", "t2", "t3"}, LockDuration: 1000,
		Limiter: &jobqdriver.Limiter{Max: 2, Duration: 60000}, Now: now}
	r, err := d.Fetch(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Jobs) != 2 || r.RateLimitDelay <= 0 || r.RateLimitDelay > 60000 {
		t.Fatalf("limited fetch: %d jobs, delay %d", len(r.Jobs), r.RateLimitDelay)
	}
	if err := d.RateLimit(ctx, "q2", time.Minute); err != nil {
		t.Fatal(err)
	}
	mustAdd(t, d, "q2", now, job("x", "n"))
	p.Queue = "q2"
	r, _ = d.Fetch(ctx, p)
	if len(r.Jobs) != 0 || r.RateLimitDelay <= 0 {
		t.Fatalf("manual rate limit ignored: %+v", r)
	}
}

func TestStalledSweep(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	ctx := context.Background()
	const now = 1_700_000_000_000
	mustAdd(t, d, "q", now, job("s", "n"), job("live", "n"))
	js := fetchN(t, d, "q", 2, now).Jobs
	sp := jobqdriver.StalledParams{Queue: "q", MaxStalledCount: 1, Interval: 1, Now: now}
	if r, err := d.CheckStalled(ctx, sp); err != nil || len(r.Recovered)+len(r.Failed) != 0 {
		t.Fatalf("first sweep: %+v %v", r, err)
	}
	// "s" loses its lock; "live" renews
	d.client.Del(ctx, d.jobKey("q", "s")+":lock")
	lost, err := d.ExtendLocks(ctx, "q", []jobqdriver.Lock{{ID: "live", Token: js[1].Token}, {ID: "s", Token: js[0].Token}}, 30000, now)
	if err != nil || !slices.Equal(lost, []string{"s"}) {
		t.Fatalf("lost = %v %v", lost, err)
	}
	time.Sleep(5 * time.Millisecond)
	r, err := d.CheckStalled(ctx, sp)
	if err != nil || !slices.Equal(r.Recovered, []string{"s"}) {
		t.Fatalf("second sweep: %+v %v", r, err)
	}
	j := fetchN(t, d, "q", 1, now).Jobs[0]
	if j.ID != "s" || j.StalledCounter != 1 {
		t.Fatalf("refetched %+v", j)
	}
	// stalls again: past max -> deferred failure
	time.Sleep(5 * time.Millisecond)
	_, _ = d.CheckStalled(ctx, sp)
	d.client.Del(ctx, d.jobKey("q", "s")+":lock")
	time.Sleep(5 * time.Millisecond)
	r, _ = d.CheckStalled(ctx, sp)
	if !slices.Equal(r.Failed, []string{"s"}) {
		t.Fatalf("third sweep: %+v", r)
	}
	g, _ := d.GetJob(ctx, "q", "s")
	if g.DeferredFailure == "" || g.StalledCounter != 2 {
		t.Fatalf("defa missing: %+v", g)
	}
	// guard: a sweep within the interval is a no-op
	sp.Interval = 60000
	_, _ = d.CheckStalled(ctx, sp)
	if r, _ := d.CheckStalled(ctx, sp); len(r.Recovered)+len(r.Failed) != 0 {
		t.Fatal("guard ignored")
	}
}

func TestSchedulerExactlyOnePerTick(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	ctx := context.Background()
	const now = 1_700_000_000_000
	s := jobqdriver.Scheduler{ID: "tick", Name: "t", Every: 1000, Next: now + 1000, Data: []byte(`{"a":1}`)}
	first := &jobqdriver.Job{ID: "repeat:tick:1700000001000", Name: "t", Data: []byte(`{"a":1}`), Delay: 1000}
	if err := d.UpsertScheduler(ctx, "q", s, first, now); err != nil {
		t.Fatal(err)
	}
	mk := func() *jobqdriver.Job {
		return &jobqdriver.Job{ID: "repeat:tick:1700000002000", Name: "t", Delay: 1000, Timestamp: now + 1000}
	}
	var added int
	for range 5 {
		ok, err := d.ScheduleNext(ctx, "q", "tick", mk(), now+1000)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			added++
		}
	}
	if added != 1 {
		t.Fatalf("added %d next jobs, want 1", added)
	}
	got, err := d.GetScheduler(ctx, "q", "tick")
	if err != nil || got.Next != now+2000 || got.Iterations != 2 || got.Every != 1000 {
		t.Fatalf("scheduler = %+v %v", got, err)
	}
	list, _ := d.ListSchedulers(ctx, "q")
	if len(list) != 1 {
		t.Fatalf("list = %+v", list)
	}
	j, _ := d.GetJob(ctx, "q", "repeat:tick:1700000002000")
	if j == nil || j.RepeatJobKey != "tick" {
		t.Fatalf("next job = %+v", j)
	}
	// an upsert with the same schedule keeps the pending job's slot
	s.Next = now + 5000
	if err := d.UpsertScheduler(ctx, "q", s, &jobqdriver.Job{ID: "repeat:tick:1700000005000", Name: "t", Delay: 5000}, now); err != nil {
		t.Fatal(err)
	}
	if _, err := d.GetJob(ctx, "q", "repeat:tick:1700000005000"); err == nil {
		t.Fatal("unchanged upsert added a second pending job")
	}
	if _, err := d.GetJob(ctx, "q", "repeat:tick:1700000002000"); err != nil {
		t.Fatalf("pending job lost: %v", err)
	}
	// a changed schedule replaces the pending job
	s.Every = 5000
	if err := d.UpsertScheduler(ctx, "q", s, &jobqdriver.Job{ID: "repeat:tick:1700000005000", Name: "t", Delay: 5000}, now); err != nil {
		t.Fatal(err)
	}
	if _, err := d.GetJob(ctx, "q", "repeat:tick:1700000002000"); err == nil {
		t.Fatal("old pending job kept after a schedule change")
	}
	if ok, _ := d.RemoveScheduler(ctx, "q", "tick"); !ok {
		t.Fatal("remove reported missing")
	}
	if ok, _ := d.ScheduleNext(ctx, "q", "tick", &jobqdriver.Job{ID: "repeat:tick:1700000009000", Name: "t"}, now); ok {
		t.Fatal("scheduled after removal")
	}
}

func TestPauseWaiterAndAdmin(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	ctx := context.Background()
	now := time.Now().UnixMilli()
	w, err := d.NewWaiter(ctx, "q", "gw")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	start := time.Now()
	if err := w.Wait(ctx, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 150*time.Millisecond {
		t.Fatal("empty queue did not block")
	}
	names, _ := d.client.ClientList(ctx).Result()
	if want := WorkerClientName(d.prefix, "q", "gw"); !contains(names, "name="+want) {
		t.Fatalf("client list lacks %s", want)
	}
	mustAdd(t, d, "q", now, job("a", "n"))
	start = time.Now()
	_ = w.Wait(ctx, 2*time.Second)
	if time.Since(start) > time.Second {
		t.Fatal("waiter not woken by add")
	}
	if err := d.SetPaused(ctx, "q", true); err != nil {
		t.Fatal(err)
	}
	if r := fetchN(t, d, "q", 1, now); len(r.Jobs) != 0 || !r.Paused {
		t.Fatalf("fetched from paused queue: %+v", r)
	}
	_ = d.SetPaused(ctx, "q", false)
	dj := job("d", "n")
	dj.Delay = 100000
	mustAdd(t, d, "q", now, dj)
	if err := d.Promote(ctx, "q", "d", now); err != nil {
		t.Fatal(err)
	}
	if st, _ := d.JobState(ctx, "q", "d"); st != jobqdriver.StateWaiting {
		t.Fatalf("promoted state = %s", st)
	}
	if n, _ := d.AddLog(ctx, "q", "d", "l1", 2); n != 1 {
		t.Fatal("addlog")
	}
	_, _ = d.AddLog(ctx, "q", "d", "l2", 2)
	_, _ = d.AddLog(ctx, "q", "d", "l3", 2)
	lines, total, _ := d.Logs(ctx, "q", "d", 0, -1, true)
	if total != 2 || !slices.Equal(lines, []string{"l2", "l3"}) {
		t.Fatalf("logs = %v %d", lines, total)
	}
	if err := d.UpdateProgress(ctx, "q", "d", []byte(`{"p":50}`)); err != nil {
		t.Fatal(err)
	}
	if err := d.Remove(ctx, "q", "d", false); err != nil {
		t.Fatal(err)
	}
	if err := d.Drain(ctx, "q", true); err != nil {
		t.Fatal(err)
	}
	if c, _ := d.Counts(ctx, "q", []string{"waiting"}); c["waiting"] != 0 {
		t.Fatalf("drain left %v", c)
	}
	if err := d.Obliterate(ctx, "q", true); err != nil {
		t.Fatal(err)
	}
	if n, _ := d.client.Exists(ctx, d.key("q", "meta"), d.key("q", "id"), d.key("q", "events")).Result(); n != 0 {
		t.Fatalf("obliterate left %d keys", n)
	}
}

func contains(s, sub string) bool {
	return len(sub) > 0 && len(s) >= len(sub) && (func() bool {
		for i := 0; i+len(sub) <= len(s); i++ {
			if s[i:i+len(sub)] == sub {
				return true
			}
		}
		return false
	})()
}
