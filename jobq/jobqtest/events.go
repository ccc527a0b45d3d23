package jobqtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq"
	"github.com/sevra/atlas/jobq/jobqdriver"
)

// eventTests covers point 6: QueueEvents.
func eventTests(t *testing.T, nb newBackendFunc) {
	runGroup(t, nb, []testCase{
		{"AllEventNames", testAllEventNames},
		{"WaitUntilFinished", testWaitUntilFinished},
	})
}

// eventLog records every event of one queue.
type eventLog struct {
	h   *harness
	qe  *jobq.QueueEvents
	rec recorder[jobq.Event]
}

// events starts a subscriber on queue; it is closed when the test ends.
func (h *harness) events(queue string) *eventLog {
	h.t.Helper()
	qe := jobq.NewQueueEvents(queue, h.drv, &jobq.QueueEventsConfig{BlockTimeout: 200 * time.Millisecond})
	l := &eventLog{h: h, qe: qe}
	qe.On("", func(e jobq.Event) { l.rec.add(e) })
	if err := qe.Start(h.ctx); err != nil {
		h.t.Fatalf("start events: %v", err)
	}
	h.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := qe.Close(ctx); err != nil {
			h.t.Errorf("close events: %v", err)
		}
	})
	return l
}

// waitFor waits for n events named name about jobID ("" = any job) and
// returns them in order.
func (l *eventLog) waitFor(name, jobID string, n int) []jobq.Event {
	l.h.t.Helper()
	var got []jobq.Event
	eventually(l.h.t, waitTimeout, func() string {
		got = got[:0]
		for _, e := range l.rec.all() {
			if e.Name == name && (jobID == "" || e.JobID == jobID) {
				got = append(got, e)
			}
		}
		if len(got) < n {
			return fmt.Sprintf("saw %d %q events for job %q, want %d (all events: %s)", len(got), name, jobID, n, l.summary())
		}
		return ""
	})
	return got
}

func (l *eventLog) summary() string {
	var b strings.Builder
	for _, e := range l.rec.all() {
		fmt.Fprintf(&b, "%s(%s) ", e.Name, e.JobID)
	}
	return b.String()
}

func jobqFetch(queue string, tokens []string, lock time.Duration) jobqdriver.FetchParams {
	return jobqdriver.FetchParams{
		Queue: queue, WorkerName: "jobqtest-dead-worker", Tokens: tokens,
		LockDuration: lock.Milliseconds(), Now: time.Now().UnixMilli(),
	}
}

func testAllEventNames(h *harness) {
	t := h.t
	q := h.queue("", nil)
	ev := h.events(q.Name())
	if err := q.Pause(h.ctx); err != nil {
		t.Fatal(err)
	}
	if err := q.Resume(h.ctx); err != nil {
		t.Fatal(err)
	}
	s := h.add(q, "s", nil, nil)
	if got := h.deadFetch(q.Name(), 1, 300*time.Millisecond); len(got) != 1 || got[0] != s.ID {
		t.Fatalf("dead worker took %v, want %s", got, s.ID)
	}
	a := h.add(q, "a", nil, nil)
	h.add(q, "dup", nil, &jobq.JobOptions{JobID: "dup"})
	h.add(q, "dup", nil, &jobq.JobOptions{JobID: "dup"})
	dd := h.add(q, "dd", nil, &jobq.JobOptions{Deduplication: &jobq.Deduplication{ID: "x"}})
	h.add(q, "dd", nil, &jobq.JobOptions{Deduplication: &jobq.Deduplication{ID: "x"}})
	f := h.add(q, "f", nil, &jobq.JobOptions{Attempts: 1})
	d := h.add(q, "d", nil, &jobq.JobOptions{Delay: time.Hour})
	if err := q.Remove(h.ctx, d.ID, false); err != nil {
		t.Fatal(err)
	}
	h.worker(q.Name(), func(ctx context.Context, j *jobq.Job) (any, error) {
		switch j.Name {
		case "a":
			return "a-done", j.UpdateProgress(ctx, 50)
		case "f":
			return nil, errors.New("f-failed")
		}
		return nil, nil
	}, &jobq.WorkerConfig{StalledInterval: 200 * time.Millisecond})
	h.waitState(q, s.ID, jobq.StateCompleted)
	h.waitState(q, a.ID, jobq.StateCompleted)

	for _, c := range []struct{ name, jobID string }{
		{jobq.EventPaused, ""}, {jobq.EventResumed, ""},
		{jobq.EventAdded, a.ID}, {jobq.EventWaiting, a.ID}, {jobq.EventActive, a.ID},
		{jobq.EventProgress, a.ID}, {jobq.EventCompleted, a.ID},
		{jobq.EventDelayed, d.ID}, {jobq.EventRemoved, d.ID},
		{jobq.EventFailed, f.ID}, {jobq.EventRetriesExhausted, f.ID},
		{jobq.EventStalled, s.ID},
		{jobq.EventDuplicated, "dup"}, {jobq.EventDeduplicated, dd.ID},
		{jobq.EventDrained, ""},
	} {
		ev.waitFor(c.name, c.jobID, 1)
	}
	done := ev.waitFor(jobq.EventCompleted, a.ID, 1)[0]
	wantJSON(t, "completed event returnvalue", []byte(done.Fields["returnvalue"]), `"a-done"`)
	if r := ev.waitFor(jobq.EventFailed, f.ID, 1)[0].Fields["failedReason"]; r != "f-failed" {
		t.Errorf("failed event failedReason = %q, want f-failed", r)
	}
	if id := ev.waitFor(jobq.EventDeduplicated, dd.ID, 1)[0].Fields["deduplicationId"]; id != "x" {
		t.Errorf("deduplicated event deduplicationId = %q, want x", id)
	}
	if n := len(ev.waitFor(jobq.EventDuplicated, "dup", 1)); n != 1 {
		t.Errorf("%d duplicated events, want 1", n)
	}
}

func testWaitUntilFinished(h *harness) {
	t := h.t
	q := h.queue("", nil)
	ev := h.events(q.Name())
	g := newGate()
	defer g.open()
	h.worker(q.Name(), func(ctx context.Context, j *jobq.Job) (any, error) {
		if err := g.wait(ctx); err != nil {
			return nil, err
		}
		if j.Name == "bad" {
			return nil, errors.New("nope")
		}
		return map[string]int{"r": 1}, nil
	}, &jobq.WorkerConfig{Concurrency: 2})
	ok := h.add(q, "ok", nil, nil)
	bad := h.add(q, "bad", nil, &jobq.JobOptions{Attempts: 1})
	type result struct {
		v   []byte
		err error
	}
	okCh, badCh := make(chan result, 1), make(chan result, 1)
	ctx, cancel := context.WithTimeout(h.ctx, waitTimeout)
	defer cancel()
	go func() { v, err := ev.qe.WaitUntilFinished(ctx, ok); okCh <- result{v, err} }()
	go func() { v, err := ev.qe.WaitUntilFinished(ctx, bad); badCh <- result{v, err} }()
	time.Sleep(50 * time.Millisecond) // let the waiters register; not an assertion
	g.open()
	r := waitChan(t, okCh, "WaitUntilFinished(ok)")
	if r.err != nil {
		t.Errorf("WaitUntilFinished(ok): %v", r.err)
	}
	wantJSON(t, "WaitUntilFinished value", r.v, `{"r":1}`)
	r = waitChan(t, badCh, "WaitUntilFinished(bad)")
	if !errors.Is(r.err, jobq.ErrJobFailed) || !strings.Contains(fmt.Sprint(r.err), "nope") {
		t.Errorf("WaitUntilFinished(bad) = %v, want ErrJobFailed with the reason", r.err)
	}
	// Jobs that already finished answer at once.
	v, err := ev.qe.WaitUntilFinished(ctx, ok)
	if err != nil {
		t.Errorf("WaitUntilFinished of a completed job: %v", err)
	}
	wantJSON(t, "WaitUntilFinished value of a completed job", v, `{"r":1}`)
	if _, err := ev.qe.WaitUntilFinished(ctx, bad); !errors.Is(err, jobq.ErrJobFailed) {
		t.Errorf("WaitUntilFinished of a failed job = %v, want ErrJobFailed", err)
	}
}

// metricsTests covers point 7: per-minute metrics.
func metricsTests(t *testing.T, nb newBackendFunc) {
	runGroup(t, nb, []testCase{{"CompletedAndFailed", testMetrics}})
}

func testMetrics(h *harness) {
	t := h.t
	q := h.queue("", nil)
	var f finishedCounter
	h.worker(q.Name(), okOrFail, f.hook(&jobq.WorkerConfig{MetricsMaxDataPoints: 10, Concurrency: 4}))
	for range 7 {
		h.add(q, "ok", nil, nil)
	}
	for range 3 {
		h.add(q, "bad", nil, &jobq.JobOptions{Attempts: 1})
	}
	h.waitFinished(&f, 7, 3)
	for kind, want := range map[jobq.MetricsKind]int64{jobq.MetricsCompleted: 7, jobq.MetricsFailed: 3} {
		m, err := q.GetMetrics(h.ctx, kind, 0, -1)
		if err != nil {
			t.Fatalf("GetMetrics(%s): %v", kind, err)
		}
		if m.Count != want {
			t.Errorf("GetMetrics(%s).Count = %d, want %d", kind, m.Count, want)
		}
	}
	// A worker without MetricsMaxDataPoints records nothing.
	off := h.queue("off", nil)
	var g finishedCounter
	h.worker(off.Name(), okOrFail, g.hook(&jobq.WorkerConfig{}))
	h.add(off, "ok", nil, nil)
	h.waitFinished(&g, 1, 0)
	if m, err := off.GetMetrics(h.ctx, jobq.MetricsCompleted, 0, -1); err != nil || m.Count != 0 {
		t.Errorf("metrics without MetricsMaxDataPoints = %+v, %v; want none", m, err)
	}
}
