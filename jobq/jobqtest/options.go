package jobqtest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq"
)

// optionTests covers point 2: per-job options.
func optionTests(t *testing.T, nb newBackendFunc) {
	runGroup(t, nb, []testCase{
		{"JobIDExisting", testJobIDExisting},
		{"JobIDInvalid", testJobIDInvalid},
		{"Delay", testDelay},
		{"PriorityRange", testPriorityRange},
		{"Attempts", testAttempts},
		{"BackoffFixed", testBackoffFixed},
		{"BackoffExponential", testBackoffExponential},
		{"BackoffJitter", testBackoffJitter},
		{"BackoffCustom", testBackoffCustom},
		{"BackoffCustomNegative", testBackoffCustomNegative},
		{"RemoveAll", testRemoveAll},
		{"KeepLast", testKeepLast},
		{"KeepForAge", testKeepForAge},
		{"WorkerDefaultRetention", testWorkerDefaultRetention},
		{"Deduplication", testDeduplication},
		{"DeduplicationReplace", testDeduplicationReplace},
		{"ParentOption", testParentOption},
		{"ParentMissing", testParentMissing},
	})
}

func testJobIDExisting(h *harness) {
	t := h.t
	q := h.queue("", nil)
	first := h.add(q, "one", map[string]int{"v": 1}, &jobq.JobOptions{JobID: "custom-id"})
	if first.ID != "custom-id" {
		t.Fatalf("custom job id = %q, want custom-id", first.ID)
	}
	again := h.add(q, "two", map[string]int{"v": 2}, &jobq.JobOptions{JobID: "custom-id"})
	if again.ID != "custom-id" {
		t.Errorf("second add returned id %q, want custom-id", again.ID)
	}
	wantJSON(t, "data returned by the duplicate add", again.Data, `{"v":1}`)
	if again.Name != "one" {
		t.Errorf("duplicate add returned name %q, want the existing job's name one", again.Name)
	}
	wantJSON(t, "stored data", h.job(q, "custom-id").Data, `{"v":1}`)
	if n := h.counts(q, jobq.StateWaiting)[jobq.StateWaiting]; n != 1 {
		t.Errorf("waiting = %d, want 1", n)
	}
	// Still a no-op after the job completed.
	h.worker(q.Name(), func(ctx context.Context, j *jobq.Job) (any, error) { return nil, nil }, nil)
	h.waitState(q, "custom-id", jobq.StateCompleted)
	third := h.add(q, "three", map[string]int{"v": 3}, &jobq.JobOptions{JobID: "custom-id"})
	wantJSON(t, "data after completion", third.Data, `{"v":1}`)
	if n := h.counts(q, jobq.StateWaiting, jobq.StateActive, jobq.StateCompleted); n[jobq.StateCompleted] != 1 || n[jobq.StateWaiting]+n[jobq.StateActive] != 0 {
		t.Errorf("counts after re-adding a completed id = %v, want just 1 completed", n)
	}
}

func testJobIDInvalid(h *harness) {
	t := h.t
	q := h.queue("", nil)
	for _, id := range []string{"123", "a:b", "a:b:c:d"} {
		_, err := q.Add(h.ctx, "x", nil, &jobq.JobOptions{JobID: id})
		wantErr(t, "JobID "+id, err, jobq.ErrInvalidOption)
	}
	if j := h.add(q, "x", nil, &jobq.JobOptions{JobID: "a:b:c"}); j.ID != "a:b:c" {
		t.Errorf("three-part id = %q", j.ID)
	}
	_, err := q.Add(h.ctx, "x", nil, &jobq.JobOptions{Delay: -time.Second})
	wantErr(t, "negative delay", err, jobq.ErrInvalidOption)
	_, err = q.Add(h.ctx, "x", nil, &jobq.JobOptions{Attempts: -1})
	wantErr(t, "negative attempts", err, jobq.ErrInvalidOption)
}

func testDelay(h *harness) {
	t := h.t
	clk := newFakeClock()
	q := h.queue("", &jobq.QueueConfig{Clock: clk.Now})
	var ran atomic.Int32
	h.worker(q.Name(), func(ctx context.Context, j *jobq.Job) (any, error) {
		ran.Add(1)
		return nil, nil
	}, &jobq.WorkerConfig{Clock: clk.Now})
	j := h.add(q, "later", nil, &jobq.JobOptions{Delay: 5 * time.Second})
	if s := h.state(q, j.ID); s != jobq.StateDelayed {
		t.Fatalf("state = %s, want delayed", s)
	}
	if got := h.job(q, j.ID); got.Delay != 5*time.Second {
		t.Errorf("job Delay = %s, want 5s", got.Delay)
	}
	if due, want := h.nextDelayed(q.Name(), clk.Now()), clk.Now().UnixMilli()+5000; due != want {
		t.Errorf("due at %d, want %d (add time + delay)", due, want)
	}
	clk.Advance(5*time.Second - time.Millisecond)
	never(t, 300*time.Millisecond, func() string {
		if ran.Load() > 0 {
			return "a delayed job ran 1 ms before its delay ended"
		}
		return ""
	})
	clk.Advance(time.Millisecond)
	h.waitState(q, j.ID, jobq.StateCompleted)
}

func testPriorityRange(h *harness) {
	t := h.t
	q := h.queue("", nil)
	for _, p := range []int{-1, jobq.MaxPriority + 1} {
		_, err := q.Add(h.ctx, "x", nil, &jobq.JobOptions{Priority: p})
		wantErr(t, fmt.Sprintf("priority %d", p), err, jobq.ErrInvalidOption)
	}
	for _, p := range []int{1, jobq.MaxPriority} {
		j := h.add(q, "x", nil, &jobq.JobOptions{Priority: p})
		if got := h.job(q, j.ID); got.Priority != p {
			t.Errorf("stored priority %d, want %d", got.Priority, p)
		}
		if s := h.state(q, j.ID); s != jobq.StatePrioritized {
			t.Errorf("job with priority %d is %s, want prioritized", p, s)
		}
	}
}

func testAttempts(h *harness) {
	t := h.t
	q := h.queue("", nil)
	var calls atomic.Int32
	h.worker(q.Name(), func(ctx context.Context, j *jobq.Job) (any, error) {
		calls.Add(1)
		if j.Name == "flaky" && j.AttemptsMade == 2 {
			return "third time lucky", nil
		}
		return nil, fmt.Errorf("attempt %d failed", j.AttemptsMade+1)
	}, nil)
	flaky := h.add(q, "flaky", nil, &jobq.JobOptions{Attempts: 3})
	got := h.waitState(q, flaky.ID, jobq.StateCompleted)
	if got.AttemptsMade != 3 {
		t.Errorf("flaky AttemptsMade = %d, want 3", got.AttemptsMade)
	}
	wantJSON(t, "return value", got.ReturnValue, `"third time lucky"`)

	doomed := h.add(q, "doomed", nil, &jobq.JobOptions{Attempts: 2})
	got = h.waitState(q, doomed.ID, jobq.StateFailed)
	if got.AttemptsMade != 2 {
		t.Errorf("doomed AttemptsMade = %d, want 2", got.AttemptsMade)
	}
	if got.FailedReason != "attempt 2 failed" {
		t.Errorf("FailedReason = %q, want the last attempt's error", got.FailedReason)
	}
	if len(got.Stacktrace) != 2 {
		t.Errorf("Stacktrace has %d entries, want one per failed attempt (2)", len(got.Stacktrace))
	}
	if calls.Load() != 5 {
		t.Errorf("processor ran %d times, want 3+2", calls.Load())
	}
}

// checkBackoff fails a job attempts times under a frozen clock and checks,
// after each failed attempt i, that the job is delayed by exactly want[i]
// (as the backend reports the next due time), does not run 1 ms early and
// runs once the clock reaches it.
func (h *harness) checkBackoff(b *jobq.Backoff, attempts int, want []time.Duration, cfg *jobq.WorkerConfig) {
	t := h.t
	t.Helper()
	clk := newFakeClock()
	q := h.queue("", &jobq.QueueConfig{Clock: clk.Now})
	var calls atomic.Int32
	wc := fastConfig(cfg)
	wc.Clock = clk.Now
	h.worker(q.Name(), func(ctx context.Context, j *jobq.Job) (any, error) {
		calls.Add(1)
		return nil, errors.New("fail")
	}, &wc)
	j := h.add(q, "b", nil, &jobq.JobOptions{Attempts: attempts, Backoff: b})
	for i, d := range want {
		eventually(t, waitTimeout, func() string {
			cur := h.job(q, j.ID)
			s, _ := cur.State(h.ctx)
			if cur.AttemptsMade != i+1 || s != jobq.StateDelayed {
				return fmt.Sprintf("job attempts %d state %s, want %d delayed", cur.AttemptsMade, s, i+1)
			}
			return ""
		})
		now := clk.Now()
		if got := h.nextDelayed(q.Name(), now); got != now.UnixMilli()+d.Milliseconds() {
			t.Errorf("after attempt %d: due in %d ms, want %s", i+1, got-now.UnixMilli(), d)
		}
		clk.Advance(d - time.Millisecond)
		never(t, 200*time.Millisecond, func() string {
			if n := calls.Load(); int(n) != i+1 {
				return fmt.Sprintf("attempt %d ran before its %s backoff ended", n, d)
			}
			return ""
		})
		clk.Advance(time.Millisecond)
	}
	got := h.waitState(q, j.ID, jobq.StateFailed)
	if got.AttemptsMade != attempts || int(calls.Load()) != attempts {
		t.Errorf("final AttemptsMade %d, calls %d, want %d", got.AttemptsMade, calls.Load(), attempts)
	}
}

func testBackoffFixed(h *harness) {
	h.checkBackoff(&jobq.Backoff{Type: jobq.BackoffFixed, Delay: 700 * time.Millisecond}, 3,
		[]time.Duration{700 * time.Millisecond, 700 * time.Millisecond}, nil)
}

func testBackoffExponential(h *harness) {
	h.checkBackoff(&jobq.Backoff{Type: jobq.BackoffExponential, Delay: 500 * time.Millisecond}, 4,
		[]time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second}, nil)
}

func testBackoffJitter(h *harness) {
	t := h.t
	clk := newFakeClock()
	q := h.queue("", &jobq.QueueConfig{Clock: clk.Now})
	h.worker(q.Name(), func(ctx context.Context, j *jobq.Job) (any, error) {
		return nil, errors.New("fail")
	}, &jobq.WorkerConfig{Clock: clk.Now, Concurrency: 5})
	const n = 8
	for range n {
		h.add(q, "j", nil, &jobq.JobOptions{Attempts: 2, Backoff: &jobq.Backoff{Type: jobq.BackoffFixed, Delay: time.Second, Jitter: 0.5}})
	}
	h.waitCount(q, jobq.StateDelayed, n)
	// The earliest of n jittered delays lies in [500ms, 1s); without
	// jitter every one would be exactly 1s.
	now := clk.Now()
	d := h.nextDelayed(q.Name(), now) - now.UnixMilli()
	if d < 500 || d >= 1000 {
		t.Errorf("earliest jittered delay = %d ms, want within [500, 1000)", d)
	}
	clk.Advance(time.Second)
	h.waitCount(q, jobq.StateFailed, n)
}

func testBackoffCustom(h *harness) {
	t := h.t
	type call struct {
		made int
		typ  string
		err  string
	}
	var calls recorder[call]
	h.checkBackoff(&jobq.Backoff{Type: "linear"}, 3, []time.Duration{300 * time.Millisecond, 600 * time.Millisecond},
		&jobq.WorkerConfig{BackoffStrategy: func(made int, typ string, err error, job *jobq.Job) time.Duration {
			calls.add(call{made, typ, err.Error()})
			return time.Duration(made) * 300 * time.Millisecond
		}})
	got := calls.all()
	if len(got) != 2 || got[0] != (call{1, "linear", "fail"}) || got[1] != (call{2, "linear", "fail"}) {
		t.Errorf("BackoffStrategy calls = %+v, want attemptsMade 1 then 2, type linear, err fail", got)
	}
}

func testBackoffCustomNegative(h *harness) {
	t := h.t
	q := h.queue("", nil)
	var calls atomic.Int32
	h.worker(q.Name(), func(ctx context.Context, j *jobq.Job) (any, error) {
		calls.Add(1)
		return nil, errors.New("no retry for you")
	}, &jobq.WorkerConfig{BackoffStrategy: func(int, string, error, *jobq.Job) time.Duration { return -1 }})
	j := h.add(q, "x", nil, &jobq.JobOptions{Attempts: 3, Backoff: &jobq.Backoff{Type: "never"}})
	got := h.waitState(q, j.ID, jobq.StateFailed)
	if got.AttemptsMade != 1 || calls.Load() != 1 {
		t.Errorf("AttemptsMade %d, calls %d; a negative backoff must fail at once (1, 1)", got.AttemptsMade, calls.Load())
	}
}

func testDeduplication(h *harness) {
	t := h.t
	q := h.queue("", nil)
	first := h.add(q, "d", map[string]int{"n": 1}, &jobq.JobOptions{Deduplication: &jobq.Deduplication{ID: "dd"}})
	second := h.add(q, "d", map[string]int{"n": 2}, &jobq.JobOptions{Deduplication: &jobq.Deduplication{ID: "dd"}})
	if second.ID != first.ID {
		t.Errorf("deduplicated add returned id %q, want the live job %q", second.ID, first.ID)
	}
	wantJSON(t, "deduplicated add's data", second.Data, `{"n":1}`)
	other := h.add(q, "d", nil, &jobq.JobOptions{Deduplication: &jobq.Deduplication{ID: "other"}})
	if other.ID == first.ID {
		t.Error("a different dedup id was deduplicated")
	}
	if n := h.counts(q, jobq.StateWaiting)[jobq.StateWaiting]; n != 2 {
		t.Errorf("waiting = %d, want 2", n)
	}
	if got := h.job(q, first.ID); got.DeduplicationID != "dd" {
		t.Errorf("DeduplicationID = %q, want dd", got.DeduplicationID)
	}
	// Without a TTL the dedup id is released when the job finishes.
	h.worker(q.Name(), func(ctx context.Context, j *jobq.Job) (any, error) { return nil, nil }, nil)
	h.waitState(q, first.ID, jobq.StateCompleted)
	third := h.add(q, "d", map[string]int{"n": 3}, &jobq.JobOptions{Deduplication: &jobq.Deduplication{ID: "dd"}})
	if third.ID == first.ID {
		t.Error("dedup id still held after its job completed")
	}
	wantJSON(t, "new job's data", h.job(q, third.ID).Data, `{"n":3}`)
}

// testDeduplicationReplace: BullMQ's replace (debounce) mode. While the job
// holding the id is delayed, an add removes it and takes its place; once
// the holder is waiting, adds are dropped.
func testDeduplicationReplace(h *harness) {
	t := h.t
	q := h.queue("", nil)
	dd := &jobq.Deduplication{ID: "deb", Replace: true}
	first := h.add(q, "d", map[string]int{"n": 1}, &jobq.JobOptions{Delay: time.Hour, Deduplication: dd})
	second := h.add(q, "d", map[string]int{"n": 2}, &jobq.JobOptions{Delay: time.Hour, Deduplication: dd})
	if second.ID == first.ID {
		t.Fatalf("replace add returned the delayed holder %s, want a new job", first.ID)
	}
	if _, err := q.GetJob(h.ctx, first.ID); !errors.Is(err, jobq.ErrJobNotFound) {
		t.Errorf("replaced delayed job %s: GetJob err = %v, want ErrJobNotFound", first.ID, err)
	}
	if got := h.job(q, second.ID); got.DeduplicationID != "deb" {
		t.Errorf("replacing job's DeduplicationID = %q, want deb", got.DeduplicationID)
	}
	wantJSON(t, "replacing job's data", h.job(q, second.ID).Data, `{"n":2}`)
	// an add without a delay replaces the delayed holder too, and waits
	third := h.add(q, "d", map[string]int{"n": 3}, &jobq.JobOptions{Deduplication: dd})
	if third.ID == second.ID {
		t.Fatalf("replace add returned the delayed holder %s, want a new job", second.ID)
	}
	if s := h.state(q, third.ID); s != jobq.StateWaiting {
		t.Errorf("replacing job without delay is %s, want waiting", s)
	}
	// the holder is waiting now: the next add is dropped
	fourth := h.add(q, "d", map[string]int{"n": 4}, &jobq.JobOptions{Deduplication: dd})
	if fourth.ID != third.ID {
		t.Errorf("add while the holder waits returned %s, want it dropped into %s", fourth.ID, third.ID)
	}
	c := h.counts(q, jobq.StateWaiting, jobq.StateDelayed)
	if c[jobq.StateWaiting] != 1 || c[jobq.StateDelayed] != 0 {
		t.Errorf("counts %v, want 1 waiting, 0 delayed", c)
	}
	wantJSON(t, "surviving job's data", h.job(q, third.ID).Data, `{"n":3}`)
}
