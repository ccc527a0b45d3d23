package jobqtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq"
)

// workerTests covers point 3: the Worker.
func workerTests(t *testing.T, nb newBackendFunc) {
	runGroup(t, nb, []testCase{
		{"ProcessorSignature", testProcessorSignature},
		{"Concurrency", testConcurrency},
		{"LimiterAcrossWorkers", testLimiterAcrossWorkers},
		{"LockRenewal", testLockRenewal},
		{"StalledRecovery", testStalledRecovery},
		{"MaxStalledCount", testMaxStalledCount},
		{"Unrecoverable", testUnrecoverable},
		{"DelayUntil", testDelayUntil},
		{"RateLimitError", testRateLimitError},
		{"ProgressAndLogs", testProgressAndLogs},
		{"LockLostCancelsContext", testLockLostCancelsContext},
		{"ClosePastGracePeriod", testClosePastGracePeriod},
		{"CloseFinishesActiveJobs", testCloseFinishesActiveJobs},
	})
}

func waitChan[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

func testProcessorSignature(h *harness) {
	t := h.t
	q := h.queue("", nil)
	type payload struct {
		A int    `json:"a"`
		B string `json:"b"`
	}
	seen := make(chan *jobq.Job, 3)
	w := h.worker(q.Name(), func(ctx context.Context, j *jobq.Job) (any, error) {
		seen <- j
		switch j.Name {
		case "nil":
			return nil, nil
		case "panic":
			panic("processor exploded")
		}
		var p payload
		if err := j.Decode(&p); err != nil {
			return nil, err
		}
		return map[string]any{"sum": p.A + 1, "b": p.B}, nil
	}, nil)
	j := h.add(q, "sig", payload{A: 1, B: "x"}, nil)
	got := waitChan(t, seen, "the processor")
	if got.ID != j.ID || got.Name != "sig" || got.Queue != q.Name() {
		t.Errorf("processor got job %s/%s/%s, want %s/sig/%s", got.ID, got.Name, got.Queue, j.ID, q.Name())
	}
	wantJSON(t, "processor's job data", got.Data, `{"a":1,"b":"x"}`)
	if got.AttemptsStarted < 1 || got.ProcessedOn.IsZero() {
		t.Errorf("processor's job: AttemptsStarted %d, ProcessedOn %v; want a started attempt", got.AttemptsStarted, got.ProcessedOn)
	}
	done := h.waitState(q, j.ID, jobq.StateCompleted)
	wantJSON(t, "return value", done.ReturnValue, `{"sum":2,"b":"x"}`)
	if done.FinishedOn.IsZero() || done.ProcessedBy != w.Name() || done.AttemptsMade != 1 {
		t.Errorf("completed job: FinishedOn %v ProcessedBy %q AttemptsMade %d; want set, %q, 1", done.FinishedOn, done.ProcessedBy, done.AttemptsMade, w.Name())
	}

	n := h.add(q, "nil", nil, nil)
	waitChan(t, seen, "the nil processor")
	wantJSON(t, "nil return value", h.waitState(q, n.ID, jobq.StateCompleted).ReturnValue, "null")

	p := h.add(q, "panic", nil, &jobq.JobOptions{Attempts: 1})
	waitChan(t, seen, "the panicking processor")
	failed := h.waitState(q, p.ID, jobq.StateFailed)
	if !strings.Contains(failed.FailedReason, "processor exploded") {
		t.Errorf("panic FailedReason = %q, want the panic value", failed.FailedReason)
	}
}

func testConcurrency(h *harness) {
	t := h.t
	q := h.queue("", nil)
	const conc, n = 5, 25
	var inFlight, maxSeen atomic.Int32
	h.worker(q.Name(), func(ctx context.Context, j *jobq.Job) (any, error) {
		cur := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := maxSeen.Load()
			if cur <= m || maxSeen.CompareAndSwap(m, cur) {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
		return nil, nil
	}, &jobq.WorkerConfig{Concurrency: conc})
	bulk := make([]jobq.BulkJob, n)
	for i := range bulk {
		bulk[i] = jobq.BulkJob{Name: "c"}
	}
	if _, err := q.AddBulk(h.ctx, bulk); err != nil {
		t.Fatal(err)
	}
	h.waitCount(q, jobq.StateCompleted, n)
	if m := maxSeen.Load(); m != conc {
		t.Errorf("max jobs in flight = %d, want exactly Concurrency %d", m, conc)
	}
}

// startTimes records when each job started, in real time.
type startTimes struct{ recorder[time.Time] }

// maxInWindow returns the largest number of starts within any window of
// length d.
func (s *startTimes) maxInWindow(d time.Duration) int {
	ts := s.all()
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	best := 0
	for i := range ts {
		j := i
		for j < len(ts) && ts[j].Sub(ts[i]) < d {
			j++
		}
		best = max(best, j-i)
	}
	return best
}

func (s *startTimes) span() time.Duration {
	ts := s.all()
	if len(ts) == 0 {
		return 0
	}
	return slices.MaxFunc(ts, func(a, b time.Time) int { return a.Compare(b) }).Sub(
		slices.MinFunc(ts, func(a, b time.Time) int { return a.Compare(b) }))
}

func testLimiterAcrossWorkers(h *harness) {
	t := h.t
	q := h.queue("", nil)
	const max, n = 5, 20
	window := 500 * time.Millisecond
	var starts startTimes
	proc := func(ctx context.Context, j *jobq.Job) (any, error) {
		starts.add(time.Now())
		return nil, nil
	}
	lim := &jobq.Limiter{Max: max, Duration: window}
	h.worker(q.Name(), proc, &jobq.WorkerConfig{Concurrency: 10, Limiter: lim})
	h.worker(q.Name(), proc, &jobq.WorkerConfig{Concurrency: 10, Limiter: lim})
	bulk := make([]jobq.BulkJob, n)
	for i := range bulk {
		bulk[i] = jobq.BulkJob{Name: "r"}
	}
	if _, err := q.AddBulk(h.ctx, bulk); err != nil {
		t.Fatal(err)
	}
	h.waitCount(q, jobq.StateCompleted, n)
	// n jobs at max per window need n/max windows: the first and last start
	// are at least (n/max-1) windows apart. Two workers that each allowed
	// max per window would finish in half that.
	if min := time.Duration(n/max-1) * window * 9 / 10; starts.span() < min {
		t.Errorf("%d jobs started within %s; a limit of %d per %s needs at least %s", n, starts.span(), max, window, min)
	}
	// Any window-long stretch overlaps at most two limiter windows.
	if m := starts.maxInWindow(window); m > 2*max {
		t.Errorf("%d starts within %s, want at most %d", m, window, 2*max)
	}
}

func testLockRenewal(h *harness) {
	t := h.t
	q := h.queue("", nil)
	lock := 500 * time.Millisecond
	var calls atomic.Int32
	proc := func(ctx context.Context, j *jobq.Job) (any, error) {
		calls.Add(1)
		select {
		case <-time.After(3 * lock):
			return "survived", nil
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
	cfg := &jobq.WorkerConfig{LockDuration: lock, StalledInterval: 200 * time.Millisecond}
	h.worker(q.Name(), proc, cfg)
	h.worker(q.Name(), proc, cfg)
	j := h.add(q, "long", nil, nil)
	done := h.waitState(q, j.ID, jobq.StateCompleted)
	if calls.Load() != 1 || done.StalledCount != 0 {
		t.Errorf("a job running 3x LockDuration ran %d times, stalled %d times; want 1, 0 (locks must be renewed)", calls.Load(), done.StalledCount)
	}
	wantJSON(t, "return value", done.ReturnValue, `"survived"`)
}

// deadFetch takes up to n jobs as a worker that then dies: it locks them
// for lock and never finishes or renews them.
func (h *harness) deadFetch(queue string, n int, lock time.Duration) []string {
	h.t.Helper()
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("dead-worker-token:%d", i)
	}
	var got []string
	eventually(h.t, waitTimeout, func() string {
		res, err := h.drv.Fetch(h.ctx, jobqFetch(queue, tokens, lock))
		if err != nil {
			h.t.Fatalf("dead worker's fetch: %v", err)
		}
		for _, j := range res.Jobs {
			got = append(got, j.ID)
		}
		if len(got) == 0 {
			return "the dead worker fetched nothing"
		}
		return ""
	})
	return got
}

func testStalledRecovery(h *harness) {
	t := h.t
	q := h.queue("", nil)
	j := h.add(q, "orphan", nil, nil)
	if got := h.deadFetch(q.Name(), 1, 300*time.Millisecond); !slices.Equal(got, []string{j.ID}) {
		t.Fatalf("dead worker took %v, want %s", got, j.ID)
	}
	if s := h.state(q, j.ID); s != jobq.StateActive {
		t.Fatalf("fetched job is %s, want active", s)
	}
	var calls atomic.Int32
	h.worker(q.Name(), func(ctx context.Context, job *jobq.Job) (any, error) {
		calls.Add(1)
		return "recovered", nil
	}, &jobq.WorkerConfig{StalledInterval: 200 * time.Millisecond})
	done := h.waitState(q, j.ID, jobq.StateCompleted)
	wantJSON(t, "return value", done.ReturnValue, `"recovered"`)
	if done.StalledCount != 1 || calls.Load() != 1 {
		t.Errorf("StalledCount %d, calls %d; want 1, 1", done.StalledCount, calls.Load())
	}
}

func testMaxStalledCount(h *harness) {
	t := h.t
	q := h.queue("", nil)
	j := h.add(q, "orphan", nil, &jobq.JobOptions{Attempts: 3})
	h.deadFetch(q.Name(), 1, 300*time.Millisecond)
	var calls atomic.Int32
	h.worker(q.Name(), func(ctx context.Context, job *jobq.Job) (any, error) {
		calls.Add(1)
		return nil, nil
	}, &jobq.WorkerConfig{StalledInterval: 200 * time.Millisecond, MaxStalledCount: -1})
	failed := h.waitState(q, j.ID, jobq.StateFailed)
	if !strings.Contains(strings.ToLower(failed.FailedReason), "stalled") {
		t.Errorf("FailedReason = %q, want a stalled reason", failed.FailedReason)
	}
	if calls.Load() != 0 {
		t.Errorf("processor ran %d times for a job that stalled past MaxStalledCount", calls.Load())
	}
}

func testUnrecoverable(h *harness) {
	t := h.t
	q := h.queue("", nil)
	var calls atomic.Int32
	h.worker(q.Name(), func(ctx context.Context, j *jobq.Job) (any, error) {
		calls.Add(1)
		return nil, fmt.Errorf("wrapped: %w", jobq.Unrecoverable(errors.New("fatal")))
	}, nil)
	j := h.add(q, "u", nil, &jobq.JobOptions{Attempts: 5, Backoff: &jobq.Backoff{Type: jobq.BackoffFixed, Delay: 10 * time.Millisecond}})
	failed := h.waitState(q, j.ID, jobq.StateFailed)
	if failed.AttemptsMade != 1 || calls.Load() != 1 {
		t.Errorf("unrecoverable: AttemptsMade %d, calls %d; want 1, 1", failed.AttemptsMade, calls.Load())
	}
	if !strings.Contains(failed.FailedReason, "fatal") {
		t.Errorf("FailedReason = %q", failed.FailedReason)
	}
}

func testDelayUntil(h *harness) {
	t := h.t
	q := h.queue("", nil)
	type call struct {
		at   time.Time
		made int
	}
	var calls recorder[call]
	delayed := make(chan struct{}, 1)
	h.worker(q.Name(), func(ctx context.Context, j *jobq.Job) (any, error) {
		calls.add(call{time.Now(), j.AttemptsMade})
		if calls.len() == 1 {
			defer func() { delayed <- struct{}{} }()
			return nil, jobq.DelayUntil(time.Now().Add(600 * time.Millisecond))
		}
		return "later", nil
	}, nil)
	j := h.add(q, "d", nil, &jobq.JobOptions{Attempts: 1})
	waitChan(t, delayed, "the first run")
	eventually(t, 500*time.Millisecond, func() string {
		if s := h.state(q, j.ID); s != jobq.StateDelayed {
			return fmt.Sprintf("after DelayUntil the job is %s, want delayed", s)
		}
		return ""
	})
	done := h.waitState(q, j.ID, jobq.StateCompleted)
	cs := calls.all()
	if len(cs) != 2 {
		t.Fatalf("processor ran %d times, want 2", len(cs))
	}
	if gap := cs[1].at.Sub(cs[0].at); gap < 500*time.Millisecond {
		t.Errorf("second run %s after the first, want at least the delay (600ms)", gap)
	}
	if cs[1].made != 0 || done.AttemptsMade != 1 {
		t.Errorf("AttemptsMade at second run %d, final %d; want 0, 1 (DelayUntil counts no attempt)", cs[1].made, done.AttemptsMade)
	}
}

func testRateLimitError(h *harness) {
	t := h.t
	q := h.queue("", nil)
	type call struct {
		id   string
		at   time.Time
		made int
	}
	var calls recorder[call]
	var limited atomic.Bool
	h.worker(q.Name(), func(ctx context.Context, j *jobq.Job) (any, error) {
		calls.add(call{j.ID, time.Now(), j.AttemptsMade})
		if j.Name == "a" && limited.CompareAndSwap(false, true) {
			return nil, jobq.RateLimit(700 * time.Millisecond)
		}
		return nil, nil
	}, nil)
	a := h.add(q, "a", nil, &jobq.JobOptions{Attempts: 1})
	b := h.add(q, "b", nil, &jobq.JobOptions{Attempts: 1})
	da := h.waitState(q, a.ID, jobq.StateCompleted)
	h.waitState(q, b.ID, jobq.StateCompleted)
	cs := calls.all()
	if len(cs) != 3 || cs[0].id != a.ID {
		t.Fatalf("calls = %+v, want a (rate limited), then a and b", cs)
	}
	for _, c := range cs[1:] {
		if gap := c.at.Sub(cs[0].at); gap < 600*time.Millisecond {
			t.Errorf("job %s started %s after the 700ms rate limit began; the queue must wait", c.id, gap)
		}
		if c.id == a.ID && c.made != 0 {
			t.Errorf("a's AttemptsMade on its re-run = %d, want 0 (a rate limit counts no attempt)", c.made)
		}
	}
	if da.AttemptsMade != 1 {
		t.Errorf("a's final AttemptsMade = %d, want 1", da.AttemptsMade)
	}
}

func testProgressAndLogs(h *harness) {
	t := h.t
	q := h.queue("", nil)
	ev := h.events(q.Name())
	h.worker(q.Name(), func(ctx context.Context, j *jobq.Job) (any, error) {
		if err := j.UpdateProgress(ctx, 42); err != nil {
			return nil, err
		}
		if err := j.Log(ctx, "one"); err != nil {
			return nil, err
		}
		if err := j.Log(ctx, "two"); err != nil {
			return nil, err
		}
		if err := j.Log(ctx, "three"); err != nil {
			return nil, err
		}
		return nil, j.UpdateProgress(ctx, map[string]int{"step": 2})
	}, nil)
	j := h.add(q, "p", nil, nil)
	capped := h.add(q, "p", nil, &jobq.JobOptions{KeepLogs: 2})
	done := h.waitState(q, j.ID, jobq.StateCompleted)
	wantJSON(t, "progress", done.Progress, `{"step":2}`)
	lines, total, err := q.JobLogs(h.ctx, j.ID, 0, -1, true)
	if err != nil || total != 3 || !slices.Equal(lines, []string{"one", "two", "three"}) {
		t.Errorf("JobLogs = %v, %d, %v; want [one two three], 3", lines, total, err)
	}
	if lines, _ := done.Logs(h.ctx); !slices.Equal(lines, []string{"one", "two", "three"}) {
		t.Errorf("Job.Logs = %v", lines)
	}
	h.waitState(q, capped.ID, jobq.StateCompleted)
	if lines, _, err := q.JobLogs(h.ctx, capped.ID, 0, -1, true); err != nil || !slices.Equal(lines, []string{"two", "three"}) {
		t.Errorf("logs with KeepLogs 2 = %v, %v; want [two three]", lines, err)
	}
	got := ev.waitFor(jobq.EventProgress, j.ID, 2)
	wantJSON(t, "first progress event data", []byte(got[0].Fields["data"]), "42")
	wantJSON(t, "second progress event data", []byte(got[1].Fields["data"]), `{"step":2}`)
}

func testLockLostCancelsContext(h *harness) {
	t := h.t
	q := h.queue("", nil)
	started := make(chan struct{}, 1)
	causes := make(chan error, 1)
	// Worker a renews its locks too late to keep them.
	h.worker(q.Name(), func(ctx context.Context, j *jobq.Job) (any, error) {
		started <- struct{}{}
		select {
		case <-ctx.Done():
			causes <- context.Cause(ctx)
			return nil, ctx.Err()
		case <-time.After(waitTimeout):
			causes <- nil
			return "a-finished", nil
		}
	}, &jobq.WorkerConfig{LockDuration: 300 * time.Millisecond, LockRenewTime: 700 * time.Millisecond, SkipStalledCheck: true})
	j := h.add(q, "contested", nil, nil)
	waitChan(t, started, "worker a to start the job")
	var bCalls atomic.Int32
	h.worker(q.Name(), func(ctx context.Context, j *jobq.Job) (any, error) {
		bCalls.Add(1)
		return "b-finished", nil
	}, &jobq.WorkerConfig{StalledInterval: 200 * time.Millisecond})
	cause := waitChan(t, causes, "worker a's job context to end")
	if !errors.Is(cause, jobq.ErrLockLost) {
		t.Errorf("context.Cause of the job whose lock was lost = %v, want ErrLockLost", cause)
	}
	done := h.waitState(q, j.ID, jobq.StateCompleted)
	wantJSON(t, "return value", done.ReturnValue, `"b-finished"`)
	if done.StalledCount != 1 || bCalls.Load() != 1 {
		t.Errorf("StalledCount %d, b's calls %d; want 1, 1", done.StalledCount, bCalls.Load())
	}
	if done.FailedReason != "" {
		t.Errorf("worker a recorded a failure (%q) for a job it no longer owned", done.FailedReason)
	}
}

func newWorker(h *harness, queue string, proc jobq.Processor, cfg *jobq.WorkerConfig) *jobq.Worker {
	h.t.Helper()
	c := fastConfig(cfg)
	w, err := jobq.NewWorker(queue, h.drv, proc, &c)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := w.Start(h.ctx); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { closeWorker(h.t, w) })
	return w
}

func testClosePastGracePeriod(h *harness) {
	t := h.t
	q := h.queue("", nil)
	started := make(chan struct{}, 1)
	ended := make(chan error, 1)
	w := newWorker(h, q.Name(), func(ctx context.Context, j *jobq.Job) (any, error) {
		started <- struct{}{}
		<-ctx.Done()
		ended <- ctx.Err()
		return nil, ctx.Err()
	}, nil)
	j := h.add(q, "stuck", nil, &jobq.JobOptions{Attempts: 1})
	waitChan(t, started, "the job to start")
	ctx, cancel := context.WithTimeout(h.ctx, 300*time.Millisecond)
	defer cancel()
	err := w.Close(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close past its grace period = %v, want context.DeadlineExceeded", err)
	}
	select {
	case e := <-ended:
		if e == nil {
			t.Error("processor's context was not cancelled")
		}
	default:
		t.Error("Close returned before the processor did")
	}
	got := h.job(q, j.ID)
	s, _ := got.State(h.ctx)
	if s != jobq.StateWaiting || got.AttemptsMade != 0 || got.FailedReason != "" {
		t.Errorf("job after Close: state %s, AttemptsMade %d, FailedReason %q; want waiting, 0, none", s, got.AttemptsMade, got.FailedReason)
	}
	// Another worker takes it.
	h.worker(q.Name(), func(ctx context.Context, j *jobq.Job) (any, error) { return nil, nil }, nil)
	h.waitState(q, j.ID, jobq.StateCompleted)
}

func testCloseFinishesActiveJobs(h *harness) {
	t := h.t
	q := h.queue("", nil)
	started := make(chan struct{}, 1)
	w := newWorker(h, q.Name(), func(ctx context.Context, j *jobq.Job) (any, error) {
		started <- struct{}{}
		select {
		case <-time.After(400 * time.Millisecond):
			return "finished", nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}, nil)
	j := h.add(q, "busy", nil, nil)
	waitChan(t, started, "the job to start")
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if s := h.state(q, j.ID); s != jobq.StateCompleted {
		t.Errorf("right after Close the in-progress job is %s, want completed", s)
	}
	next := h.add(q, "after-close", nil, nil)
	never(t, 300*time.Millisecond, func() string {
		if s := h.state(q, next.ID); s != jobq.StateWaiting {
			return fmt.Sprintf("a closed worker took a job (state %s)", s)
		}
		return ""
	})
}
