package jobqtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/sevra/atlas/jobq"
)

// finishedCounter counts jobs a worker finished (completed or finally
// failed) through its OnCompleted/OnFailed hooks.
type finishedCounter struct {
	completed, failed           atomic.Int32
	completedOrder, failedOrder recorder[string]
}

func (f *finishedCounter) hook(cfg *jobq.WorkerConfig) *jobq.WorkerConfig {
	cfg.OnCompleted = func(j *jobq.Job, _ []byte) { f.completedOrder.add(j.ID); f.completed.Add(1) }
	cfg.OnFailed = func(j *jobq.Job, _ error) { f.failedOrder.add(j.ID); f.failed.Add(1) }
	return cfg
}

func (h *harness) waitFinished(f *finishedCounter, completed, failed int32) {
	h.t.Helper()
	eventually(h.t, waitTimeout, func() string {
		if c, fl := f.completed.Load(), f.failed.Load(); c != completed || fl != failed {
			return fmt.Sprintf("worker finished %d completed, %d failed; want %d, %d", c, fl, completed, failed)
		}
		return ""
	})
}

// okOrFail completes jobs named "ok" and fails the others.
func okOrFail(ctx context.Context, j *jobq.Job) (any, error) {
	if j.Name == "ok" {
		return j.ID, nil
	}
	return nil, errors.New("failing on purpose")
}

func (h *harness) stateIDs(q *jobq.Queue, s jobq.State) []string {
	h.t.Helper()
	js, err := q.GetJobs(h.ctx, []jobq.State{s}, 0, -1, true)
	if err != nil {
		h.t.Fatalf("GetJobs(%s): %v", s, err)
	}
	out := ids(js)
	slices.Sort(out)
	return out
}

func testRemoveAll(h *harness) {
	t := h.t
	q := h.queue("", nil)
	var f finishedCounter
	h.worker(q.Name(), okOrFail, f.hook(&jobq.WorkerConfig{}))
	ok := h.add(q, "ok", nil, &jobq.JobOptions{RemoveOnComplete: jobq.RemoveAll()})
	bad := h.add(q, "bad", nil, &jobq.JobOptions{RemoveOnFail: jobq.RemoveAll()})
	kept := h.add(q, "ok", nil, nil)
	h.waitFinished(&f, 2, 1)
	for _, id := range []string{ok.ID, bad.ID} {
		if _, err := q.GetJob(h.ctx, id); !errors.Is(err, jobq.ErrJobNotFound) {
			t.Errorf("job %s with RemoveAll still exists: %v", id, err)
		}
	}
	if s := h.state(q, kept.ID); s != jobq.StateCompleted {
		t.Errorf("job without retention is %s, want completed", s)
	}
	c := h.counts(q, jobq.StateCompleted, jobq.StateFailed)
	if c[jobq.StateCompleted] != 1 || c[jobq.StateFailed] != 0 {
		t.Errorf("counts = %v, want 1 completed, 0 failed", c)
	}
}

func testKeepLast(h *harness) {
	t := h.t
	q := h.queue("", nil)
	var f finishedCounter
	h.worker(q.Name(), okOrFail, f.hook(&jobq.WorkerConfig{}))
	for range 5 {
		h.add(q, "ok", nil, &jobq.JobOptions{RemoveOnComplete: jobq.KeepLast(2)})
	}
	for range 3 {
		h.add(q, "bad", nil, &jobq.JobOptions{RemoveOnFail: jobq.KeepLast(1)})
	}
	h.waitFinished(&f, 5, 3)
	// One worker at concurrency 1 finishes jobs one by one: the survivors
	// are the newest finished ones.
	done, failed := f.completedOrder.all(), f.failedOrder.all()
	wantDone := slices.Clone(done[len(done)-2:])
	slices.Sort(wantDone)
	if got := h.stateIDs(q, jobq.StateCompleted); !slices.Equal(got, wantDone) {
		t.Errorf("completed with KeepLast(2) = %v, want the newest two %v", got, wantDone)
	}
	if got := h.stateIDs(q, jobq.StateFailed); !slices.Equal(got, failed[len(failed)-1:]) {
		t.Errorf("failed with KeepLast(1) = %v, want the newest %v", got, failed[len(failed)-1:])
	}
}

func testKeepForAge(h *harness) {
	t := h.t
	clk := newFakeClock()
	q := h.queue("", &jobq.QueueConfig{Clock: clk.Now})
	var f finishedCounter
	h.worker(q.Name(), okOrFail, f.hook(&jobq.WorkerConfig{Clock: clk.Now}))
	keep := jobq.KeepFor(10*time.Second, 0)
	var old []string
	for range 3 {
		old = append(old, h.add(q, "ok", nil, &jobq.JobOptions{RemoveOnComplete: keep}).ID)
	}
	h.waitFinished(&f, 3, 0)
	clk.Advance(5 * time.Second)
	mid := h.add(q, "ok", nil, &jobq.JobOptions{RemoveOnComplete: keep})
	h.waitFinished(&f, 4, 0)
	if got := h.stateIDs(q, jobq.StateCompleted); len(got) != 4 {
		t.Fatalf("completed within the age = %v, want all 4 kept", got)
	}
	clk.Advance(6 * time.Second) // old ones are 11 s old, mid 6 s
	fresh := h.add(q, "ok", nil, &jobq.JobOptions{RemoveOnComplete: keep})
	h.waitFinished(&f, 5, 0)
	want := []string{mid.ID, fresh.ID}
	slices.Sort(want)
	if got := h.stateIDs(q, jobq.StateCompleted); !slices.Equal(got, want) {
		t.Errorf("completed after the age passed = %v, want %v (jobs %v are older than 10s)", got, want, old)
	}
}

func testWorkerDefaultRetention(h *harness) {
	t := h.t
	q := h.queue("", nil)
	var f finishedCounter
	h.worker(q.Name(), okOrFail, f.hook(&jobq.WorkerConfig{RemoveOnComplete: jobq.RemoveAll(), RemoveOnFail: jobq.RemoveAll()}))
	def := h.add(q, "ok", nil, nil)
	own := h.add(q, "ok", nil, &jobq.JobOptions{RemoveOnComplete: jobq.KeepLast(10)})
	bad := h.add(q, "bad", nil, nil)
	h.waitFinished(&f, 2, 1)
	for _, id := range []string{def.ID, bad.ID} {
		if _, err := q.GetJob(h.ctx, id); !errors.Is(err, jobq.ErrJobNotFound) {
			t.Errorf("job %s kept despite the worker's RemoveAll default: %v", id, err)
		}
	}
	if s := h.state(q, own.ID); s != jobq.StateCompleted {
		t.Errorf("job with its own KeepLast(10) is %s, want completed", s)
	}
}

// testRetentionCountAndAge checks KeepFor(age, n): both limits apply.
func testRetentionCountAndAge(h *harness) {
	t := h.t
	clk := newFakeClock()
	q := h.queue("", &jobq.QueueConfig{Clock: clk.Now})
	var f finishedCounter
	h.worker(q.Name(), okOrFail, f.hook(&jobq.WorkerConfig{Clock: clk.Now}))
	keep := jobq.KeepFor(time.Minute, 3)
	for i := range 5 {
		h.add(q, "bad", nil, &jobq.JobOptions{RemoveOnFail: keep})
		h.waitFinished(&f, 0, int32(i+1))
	}
	if got := h.stateIDs(q, jobq.StateFailed); len(got) != 3 {
		t.Fatalf("failed after 5 with count limit 3 = %v, want 3", got)
	}
	clk.Advance(2 * time.Minute)
	last := h.add(q, "bad", nil, &jobq.JobOptions{RemoveOnFail: keep})
	h.waitFinished(&f, 0, 6)
	if got := h.stateIDs(q, jobq.StateFailed); !slices.Equal(got, []string{last.ID}) {
		t.Errorf("failed after the age passed = %v, want only %s", got, last.ID)
	}
}

// testDeduplicationTTL checks that a dedup id with a TTL holds for the TTL
// (even once the job is gone) and then expires. The expiry is driven by the
// producer's clock and, for backends whose keys expire in real time, by
// waiting the (short) TTL.
func testDeduplicationTTL(h *harness) {
	t := h.t
	clk := newFakeClock()
	q := h.queue("", &jobq.QueueConfig{Clock: clk.Now})
	dd := &jobq.Deduplication{ID: "ttl", TTL: time.Second}
	first := h.add(q, "d", map[string]int{"n": 1}, &jobq.JobOptions{Deduplication: dd})
	again := h.add(q, "d", map[string]int{"n": 2}, &jobq.JobOptions{Deduplication: dd})
	if again.ID != first.ID {
		t.Fatalf("add within the TTL created job %s, want deduplicated to %s", again.ID, first.ID)
	}
	clk.Advance(1500 * time.Millisecond)
	var next *jobq.Job
	eventually(t, 5*time.Second, func() string {
		next = h.add(q, "d", map[string]int{"n": 3}, &jobq.JobOptions{Deduplication: dd})
		if next.ID == first.ID {
			return "dedup id with a 1s TTL still held after the TTL"
		}
		return ""
	})
	wantJSON(t, "data of the job added after the TTL", h.job(q, next.ID).Data, `{"n":3}`)
	if n := h.counts(q, jobq.StateWaiting)[jobq.StateWaiting]; n != 2 {
		t.Errorf("waiting = %d, want 2 (first, and the one after the TTL)", n)
	}
}

// testDeduplicationExtend: with Extend, each dropped add restarts the TTL,
// so an add after the first add's TTL is still dropped when an add in
// between extended it. Both the producer's clock and real time move
// (backends whose keys expire in real time).
func testDeduplicationExtend(h *harness) {
	t := h.t
	clk := newFakeClock()
	q := h.queue("", &jobq.QueueConfig{Clock: clk.Now})
	dd := &jobq.Deduplication{ID: "ext", TTL: 2 * time.Second, Extend: true}
	step := func() { clk.Advance(1200 * time.Millisecond); time.Sleep(1200 * time.Millisecond) }
	first := h.add(q, "d", map[string]int{"n": 1}, &jobq.JobOptions{Deduplication: dd})
	step()
	if again := h.add(q, "d", map[string]int{"n": 2}, &jobq.JobOptions{Deduplication: dd}); again.ID != first.ID {
		t.Fatalf("add within the TTL created job %s, want it dropped into %s", again.ID, first.ID)
	}
	step() // 2.4 s after the first add: its own TTL is over, the extension is not
	if again := h.add(q, "d", map[string]int{"n": 3}, &jobq.JobOptions{Deduplication: dd}); again.ID != first.ID {
		t.Fatalf("add 2.4 s after the first, 1.2 s after an extending add, created job %s; want it dropped into %s",
			again.ID, first.ID)
	}
	clk.Advance(2500 * time.Millisecond)
	// The probe does not extend: every dropped extending add would restart
	// the TTL it is waiting out.
	probe := &jobq.Deduplication{ID: "ext", TTL: 2 * time.Second}
	var next *jobq.Job
	eventually(t, 5*time.Second, func() string {
		next = h.add(q, "d", map[string]int{"n": 4}, &jobq.JobOptions{Deduplication: probe})
		if next.ID == first.ID {
			return "extended dedup id still held 2.5 s after the last add"
		}
		return ""
	})
	wantJSON(t, "data of the job added after the extended TTL", h.job(q, next.ID).Data, `{"n":4}`)
}
