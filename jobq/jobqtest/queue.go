package jobqtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq"
)

// queueTests covers point 1: the Queue's producer and admin API.
func queueTests(t *testing.T, nb newBackendFunc) {
	runGroup(t, nb, []testCase{
		{"AddAndGetJob", testAddAndGetJob},
		{"AddBulk", testAddBulk},
		{"GetJobsPaging", testGetJobsPaging},
		{"GetJobCounts", testGetJobCounts},
		{"PauseResume", testPauseResume},
		{"Promote", testPromote},
		{"RetryAndRetryAll", testRetryAndRetryAll},
		{"Remove", testRemove},
		{"Clean", testClean},
		{"Drain", testDrain},
		{"Obliterate", testObliterate},
	})
}

func testAddAndGetJob(h *harness) {
	t := h.t
	q := h.queue("", nil)
	j := h.add(q, "greet", map[string]any{"who": "world", "html": "<b>&</b>"}, &jobq.JobOptions{Attempts: 3})
	if j.ID == "" {
		t.Fatal("Add returned a job without id")
	}
	got := h.job(q, j.ID)
	if got.Name != "greet" || got.Queue != q.Name() {
		t.Errorf("job name/queue = %q/%q, want greet/%s", got.Name, got.Queue, q.Name())
	}
	wantJSON(t, "data", got.Data, `{"who":"world","html":"<b>&</b>"}`)
	var d struct{ Who string }
	if err := got.Decode(&d); err != nil || d.Who != "world" {
		t.Errorf("Decode = %+v, %v", d, err)
	}
	if got.Opts.Attempts != 3 {
		t.Errorf("Opts.Attempts = %d, want 3", got.Opts.Attempts)
	}
	if got.Timestamp.IsZero() || time.Since(got.Timestamp) > time.Minute {
		t.Errorf("Timestamp = %v, want about now", got.Timestamp)
	}
	if s := h.state(q, j.ID); s != jobq.StateWaiting {
		t.Errorf("state = %s, want waiting", s)
	}
	_, err := q.GetJob(h.ctx, "no-such-job")
	wantErr(t, "GetJob of a missing job", err, jobq.ErrJobNotFound)

	// Generated ids are distinct.
	j2 := h.add(q, "greet", nil, nil)
	if j2.ID == j.ID || j2.ID == "" {
		t.Errorf("second job id %q, first %q", j2.ID, j.ID)
	}
}

func testAddBulk(h *harness) {
	t := h.t
	q := h.queue("", nil)
	bulk := make([]jobq.BulkJob, 10)
	for i := range bulk {
		bulk[i] = jobq.BulkJob{Name: fmt.Sprintf("b%d", i), Data: map[string]int{"i": i}}
	}
	bulk[3].Opts = &jobq.JobOptions{Delay: time.Hour}
	bulk[4].Opts = &jobq.JobOptions{Priority: 7}
	jobs, err := q.AddBulk(h.ctx, bulk)
	if err != nil {
		t.Fatalf("AddBulk: %v", err)
	}
	if len(jobs) != len(bulk) {
		t.Fatalf("AddBulk returned %d jobs, want %d", len(jobs), len(bulk))
	}
	seen := map[string]bool{}
	for i, j := range jobs {
		if j.ID == "" || seen[j.ID] {
			t.Fatalf("job %d has id %q (duplicate or empty)", i, j.ID)
		}
		seen[j.ID] = true
		got := h.job(q, j.ID)
		if got.Name != bulk[i].Name {
			t.Errorf("job %s name %q, want %q", j.ID, got.Name, bulk[i].Name)
		}
		wantJSON(t, "data of "+j.ID, got.Data, fmt.Sprintf(`{"i":%d}`, i))
	}
	c := h.counts(q)
	if c[jobq.StateWaiting] != 8 || c[jobq.StateDelayed] != 1 || c[jobq.StatePrioritized] != 1 {
		t.Errorf("counts = %v, want 8 waiting, 1 delayed, 1 prioritized", c)
	}
}

func ids(jobs []*jobq.Job) []string {
	out := make([]string, len(jobs))
	for i, j := range jobs {
		out[i] = j.ID
	}
	return out
}

func testGetJobsPaging(h *harness) {
	t := h.t
	q := h.queue("", nil)
	var added []string
	for i := range 10 {
		added = append(added, h.add(q, "p", map[string]int{"i": i}, nil).ID)
	}
	delayed := []string{
		h.add(q, "d", nil, &jobq.JobOptions{Delay: time.Hour}).ID,
		h.add(q, "d", nil, &jobq.JobOptions{Delay: 2 * time.Hour}).ID,
	}
	get := func(states []jobq.State, start, end int, asc bool) []string {
		t.Helper()
		js, err := q.GetJobs(h.ctx, states, start, end, asc)
		if err != nil {
			t.Fatalf("GetJobs(%v, %d, %d, %v): %v", states, start, end, asc, err)
		}
		return ids(js)
	}
	w := []jobq.State{jobq.StateWaiting}
	if got := get(w, 0, 3, true); !slices.Equal(got, added[:4]) {
		t.Errorf("waiting asc [0,3] = %v, want %v", got, added[:4])
	}
	if got := get(w, 4, 9, true); !slices.Equal(got, added[4:]) {
		t.Errorf("waiting asc [4,9] = %v, want %v", got, added[4:])
	}
	if got := get(w, 0, 2, false); !slices.Equal(got, []string{added[9], added[8], added[7]}) {
		t.Errorf("waiting desc [0,2] = %v, want newest first %v", got, []string{added[9], added[8], added[7]})
	}
	if got := get(w, 0, -1, true); !slices.Equal(got, added) {
		t.Errorf("waiting asc [0,-1] = %v, want %v", got, added)
	}
	if got := get(w, 20, 30, true); len(got) != 0 {
		t.Errorf("page past the end = %v, want none", got)
	}
	if got := get([]jobq.State{jobq.StateDelayed}, 0, -1, true); !slices.Equal(got, delayed) {
		t.Errorf("delayed asc = %v, want %v", got, delayed)
	}
	both := get([]jobq.State{jobq.StateWaiting, jobq.StateDelayed}, 0, -1, true)
	slices.Sort(both)
	want := append(slices.Clone(added), delayed...)
	slices.Sort(want)
	if !slices.Equal(both, want) {
		t.Errorf("waiting+delayed = %v, want %v", both, want)
	}
}

func testGetJobCounts(h *harness) {
	t := h.t
	q := h.queue("", nil)
	for range 3 {
		h.add(q, "w", nil, nil)
	}
	for range 2 {
		h.add(q, "d", nil, &jobq.JobOptions{Delay: time.Hour})
	}
	h.add(q, "p", nil, &jobq.JobOptions{Priority: 3})
	h.add(q, "f", nil, &jobq.JobOptions{Priority: 1})
	c := h.counts(q)
	want := map[jobq.State]int64{
		jobq.StateWaiting: 3, jobq.StateDelayed: 2, jobq.StatePrioritized: 2,
		jobq.StateActive: 0, jobq.StateCompleted: 0, jobq.StateFailed: 0, jobq.StateWaitingChildren: 0,
	}
	for s, n := range want {
		if c[s] != n {
			t.Errorf("count %s = %d, want %d (all: %v)", s, c[s], n, c)
		}
	}
	only := h.counts(q, jobq.StateDelayed)
	if len(only) != 1 || only[jobq.StateDelayed] != 2 {
		t.Errorf("GetJobCounts(delayed) = %v, want only delayed: 2", only)
	}
	// Process everything: the "f" job fails, the others complete.
	h.worker(q.Name(), func(ctx context.Context, j *jobq.Job) (any, error) {
		if j.Name == "f" {
			return nil, errors.New("boom")
		}
		return nil, nil
	}, nil)
	h.waitCount(q, jobq.StateCompleted, 4)
	h.waitCount(q, jobq.StateFailed, 1)
	c = h.counts(q, jobq.StateWaiting, jobq.StatePrioritized, jobq.StateActive)
	for s, n := range c {
		if n != 0 {
			t.Errorf("after processing, %s = %d, want 0", s, n)
		}
	}
}

func testPauseResume(h *harness) {
	t := h.t
	q := h.queue("", nil)
	if p, err := q.IsPaused(h.ctx); err != nil || p {
		t.Fatalf("new queue IsPaused = %v, %v; want false", p, err)
	}
	if err := q.Pause(h.ctx); err != nil {
		t.Fatalf("Pause: %v", err)
	}
	if p, err := q.IsPaused(h.ctx); err != nil || !p {
		t.Fatalf("after Pause, IsPaused = %v, %v; want true", p, err)
	}
	var ran atomic.Int32
	h.worker(q.Name(), func(ctx context.Context, j *jobq.Job) (any, error) {
		ran.Add(1)
		return nil, nil
	}, nil)
	j := h.add(q, "x", nil, nil)
	h.add(q, "y", nil, &jobq.JobOptions{Priority: 2})
	never(t, 500*time.Millisecond, func() string {
		if n := ran.Load(); n > 0 {
			return fmt.Sprintf("a paused queue's worker ran %d jobs", n)
		}
		return ""
	})
	if s := h.state(q, j.ID); s != jobq.StateWaiting && s != jobq.StatePaused {
		t.Errorf("job in a paused queue is %s, want waiting (or paused)", s)
	}
	if err := q.Resume(h.ctx); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	if p, err := q.IsPaused(h.ctx); err != nil || p {
		t.Fatalf("after Resume, IsPaused = %v, %v; want false", p, err)
	}
	h.waitCount(q, jobq.StateCompleted, 2)
}

func testPromote(h *harness) {
	t := h.t
	q := h.queue("", nil)
	var ran atomic.Int32
	h.worker(q.Name(), func(ctx context.Context, j *jobq.Job) (any, error) {
		ran.Add(1)
		return "ok", nil
	}, nil)
	j := h.add(q, "later", nil, &jobq.JobOptions{Delay: time.Hour})
	if s := h.state(q, j.ID); s != jobq.StateDelayed {
		t.Fatalf("state = %s, want delayed", s)
	}
	if err := q.Promote(h.ctx, j.ID); err != nil {
		t.Fatalf("Promote: %v", err)
	}
	h.waitState(q, j.ID, jobq.StateCompleted)
	wantErr(t, "Promote of a completed job", q.Promote(h.ctx, j.ID), jobq.ErrNotInState)
	wantErr(t, "Promote of a missing job", q.Promote(h.ctx, "missing-job"), jobq.ErrJobNotFound)
	if n := ran.Load(); n != 1 {
		t.Errorf("processor ran %d times, want 1", n)
	}
}

func testRetryAndRetryAll(h *harness) {
	t := h.t
	q := h.queue("", nil)
	calls := map[string]int{}
	var mu sync.Mutex
	h.worker(q.Name(), func(ctx context.Context, j *jobq.Job) (any, error) {
		mu.Lock()
		calls[j.ID]++
		n := calls[j.ID]
		mu.Unlock()
		if n == 1 {
			return nil, errors.New("first try fails")
		}
		return n, nil
	}, &jobq.WorkerConfig{Concurrency: 3})
	one := h.add(q, "one", nil, nil)
	failed := h.waitState(q, one.ID, jobq.StateFailed)
	if failed.AttemptsMade != 1 || failed.FailedReason != "first try fails" {
		t.Errorf("failed job: attempts %d reason %q", failed.AttemptsMade, failed.FailedReason)
	}
	if err := q.Retry(h.ctx, one.ID); err != nil {
		t.Fatalf("Retry: %v", err)
	}
	done := h.waitState(q, one.ID, jobq.StateCompleted)
	wantJSON(t, "return value", done.ReturnValue, "2")
	if done.AttemptsMade != 1 {
		t.Errorf("after Retry and success, AttemptsMade = %d, want 1 (Retry resets attempts)", done.AttemptsMade)
	}
	wantErr(t, "Retry of a completed job", q.Retry(h.ctx, one.ID), jobq.ErrNotInState)

	var more []string
	for range 3 {
		more = append(more, h.add(q, "more", nil, nil).ID)
	}
	h.waitCount(q, jobq.StateFailed, 3)
	n, err := q.RetryAll(h.ctx)
	if err != nil || n != 3 {
		t.Fatalf("RetryAll = %d, %v; want 3", n, err)
	}
	for _, id := range more {
		h.waitState(q, id, jobq.StateCompleted)
	}
	if c := h.counts(q, jobq.StateFailed)[jobq.StateFailed]; c != 0 {
		t.Errorf("failed count after RetryAll = %d, want 0", c)
	}
}

func testRemove(h *harness) {
	t := h.t
	q := h.queue("", nil)
	j := h.add(q, "gone", nil, nil)
	if err := q.Remove(h.ctx, j.ID, false); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	_, err := q.GetJob(h.ctx, j.ID)
	wantErr(t, "GetJob after Remove", err, jobq.ErrJobNotFound)
	if c := h.counts(q, jobq.StateWaiting)[jobq.StateWaiting]; c != 0 {
		t.Errorf("waiting after Remove = %d, want 0", c)
	}

	g := newGate()
	defer g.open()
	started := make(chan string, 1)
	h.worker(q.Name(), func(ctx context.Context, j *jobq.Job) (any, error) {
		started <- j.ID
		return nil, g.wait(ctx)
	}, nil)
	active := h.add(q, "busy", nil, nil)
	select {
	case <-started:
	case <-time.After(waitTimeout):
		t.Fatal("job never started")
	}
	wantErr(t, "Remove of an active job", q.Remove(h.ctx, active.ID, false), jobq.ErrJobActive)
	if s := h.state(q, active.ID); s != jobq.StateActive {
		t.Errorf("after a refused Remove, state = %s, want active", s)
	}
	g.open()
	h.waitState(q, active.ID, jobq.StateCompleted)
	if err := q.Remove(h.ctx, active.ID, false); err != nil {
		t.Errorf("Remove of a completed job: %v", err)
	}
}

func testClean(h *harness) {
	t := h.t
	q := h.queue("", nil)
	h.worker(q.Name(), func(ctx context.Context, j *jobq.Job) (any, error) {
		if j.Name == "bad" {
			return nil, errors.New("bad")
		}
		return nil, nil
	}, nil)
	for range 5 {
		h.add(q, "good", nil, nil)
	}
	h.add(q, "bad", nil, nil)
	h.waitCount(q, jobq.StateCompleted, 5)
	h.waitCount(q, jobq.StateFailed, 1)
	got, err := q.Clean(h.ctx, time.Hour, 0, jobq.StateCompleted)
	if err != nil || len(got) != 0 {
		t.Fatalf("Clean(grace 1h) = %v, %v; want nothing (jobs are younger)", got, err)
	}
	got, err = q.Clean(h.ctx, 0, 2, jobq.StateCompleted)
	if err != nil || len(got) != 2 {
		t.Fatalf("Clean(limit 2) = %v, %v; want 2 ids", got, err)
	}
	for _, id := range got {
		if _, err := q.GetJob(h.ctx, id); !errors.Is(err, jobq.ErrJobNotFound) {
			t.Errorf("cleaned job %s still readable: %v", id, err)
		}
	}
	if c := h.counts(q, jobq.StateCompleted)[jobq.StateCompleted]; c != 3 {
		t.Errorf("completed after cleaning 2 = %d, want 3", c)
	}
	got, err = q.Clean(h.ctx, 0, 0, jobq.StateCompleted)
	if err != nil || len(got) != 3 {
		t.Errorf("Clean(no limit) = %v, %v; want 3 ids", got, err)
	}
	if c := h.counts(q, jobq.StateFailed)[jobq.StateFailed]; c != 1 {
		t.Errorf("cleaning completed touched failed: %d failed, want 1", c)
	}
	got, err = q.Clean(h.ctx, 0, 0, jobq.StateFailed)
	if err != nil || len(got) != 1 {
		t.Errorf("Clean(failed) = %v, %v; want 1 id", got, err)
	}
}

func testDrain(h *harness) {
	t := h.t
	q := h.queue("", nil)
	for range 3 {
		h.add(q, "w", nil, nil)
	}
	for range 2 {
		h.add(q, "p", nil, &jobq.JobOptions{Priority: 5})
	}
	for range 2 {
		h.add(q, "d", nil, &jobq.JobOptions{Delay: time.Hour})
	}
	if err := q.Drain(h.ctx, false); err != nil {
		t.Fatalf("Drain(false): %v", err)
	}
	c := h.counts(q, jobq.StateWaiting, jobq.StatePrioritized, jobq.StateDelayed)
	if c[jobq.StateWaiting] != 0 || c[jobq.StatePrioritized] != 0 || c[jobq.StateDelayed] != 2 {
		t.Errorf("after Drain(false) counts = %v, want 0 waiting, 0 prioritized, 2 delayed", c)
	}
	if err := q.Drain(h.ctx, true); err != nil {
		t.Fatalf("Drain(true): %v", err)
	}
	if n := h.counts(q, jobq.StateDelayed)[jobq.StateDelayed]; n != 0 {
		t.Errorf("after Drain(true) delayed = %d, want 0", n)
	}
}

func testObliterate(h *harness) {
	t := h.t
	idle := h.queue("idle", nil)
	for range 3 {
		h.add(idle, "w", nil, nil)
	}
	j := h.add(idle, "d", nil, &jobq.JobOptions{Delay: time.Hour})
	if err := idle.Obliterate(h.ctx, false); err != nil {
		t.Fatalf("Obliterate of an idle queue: %v", err)
	}
	if _, err := idle.GetJob(h.ctx, j.ID); !errors.Is(err, jobq.ErrJobNotFound) {
		t.Errorf("job survived Obliterate: %v", err)
	}
	for s, n := range h.counts(idle) {
		if n != 0 {
			t.Errorf("after Obliterate, %s = %d", s, n)
		}
	}

	busy := h.queue("busy", nil)
	g := newGate()
	defer g.open()
	started := make(chan struct{}, 1)
	h.worker(busy.Name(), func(ctx context.Context, j *jobq.Job) (any, error) {
		started <- struct{}{}
		return nil, g.wait(ctx)
	}, nil)
	a := h.add(busy, "a", nil, nil)
	h.add(busy, "b", nil, nil)
	select {
	case <-started:
	case <-time.After(waitTimeout):
		t.Fatal("job never started")
	}
	wantErr(t, "Obliterate with an active job", busy.Obliterate(h.ctx, false), jobq.ErrQueueNotEmpty)
	if s := h.state(busy, a.ID); s != jobq.StateActive {
		t.Errorf("after a refused Obliterate the active job is %s", s)
	}
	if err := busy.Obliterate(h.ctx, true); err != nil {
		t.Fatalf("Obliterate(force): %v", err)
	}
	if _, err := busy.GetJob(h.ctx, a.ID); !errors.Is(err, jobq.ErrJobNotFound) {
		t.Errorf("active job survived forced Obliterate: %v", err)
	}
}
