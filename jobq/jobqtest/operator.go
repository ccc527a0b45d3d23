package jobqtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq"
)

// operatorTests cover what operators' tools need: state errors that name
// the job's state, the workers online, and scheduler pause, resume and
// run-now.
func operatorTests(t *testing.T, nb newBackendFunc) {
	runGroup(t, nb, []testCase{
		{"StateErrorNamesState", testStateErrorNamesState},
		{"WorkersOnline", testWorkersOnline},
		{"SchedulerPauseResumeRunNow", testSchedulerPauseResumeRunNow},
	})
}

func testStateErrorNamesState(h *harness) {
	t := h.t
	q := h.queue("", nil)
	h.worker(q.Name(), func(ctx context.Context, j *jobq.Job) (any, error) { return "ok", nil }, nil)
	j := h.add(q, "done", nil, nil)
	h.waitState(q, j.ID, jobq.StateCompleted)
	for _, c := range []struct {
		action string
		err    error
		want   string
	}{
		{"retry", q.Retry(h.ctx, j.ID), fmt.Sprintf("job %s is completed; retry applies to failed jobs", j.ID)},
		{"promote", q.Promote(h.ctx, j.ID), fmt.Sprintf("job %s is completed; promote applies to delayed jobs", j.ID)},
	} {
		var se *jobq.StateError
		if !errors.As(c.err, &se) || se.State != jobq.StateCompleted || !errors.Is(c.err, jobq.ErrNotInState) {
			t.Errorf("%s of a completed job: %v, want a StateError wrapping ErrNotInState", c.action, c.err)
			continue
		}
		if !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: message %q lacks %q", c.action, c.err, c.want)
		}
	}
	wantErr(t, "Retry of a missing job", q.Retry(h.ctx, "missing-job"), jobq.ErrJobNotFound)
}

func testWorkersOnline(h *harness) {
	t := h.t
	q := h.queue("", nil)
	if _, err := q.GetWorkers(h.ctx); errors.Is(err, jobq.ErrNoWorkerList) {
		t.Skip("backend cannot list workers")
	}
	before := time.Now().Add(-time.Second)
	w := h.worker(q.Name(), func(ctx context.Context, j *jobq.Job) (any, error) { return nil, nil },
		&jobq.WorkerConfig{Name: "op-worker-1", Concurrency: 3})
	var got []jobq.WorkerInfo
	eventually(t, 5*time.Second, func() string {
		var err error
		if got, err = q.GetWorkers(h.ctx); err != nil {
			return err.Error()
		}
		if len(got) != 1 || got[0].Name != "op-worker-1" {
			return fmt.Sprintf("workers %+v, want op-worker-1", got)
		}
		return ""
	})
	wi := got[0]
	if wi.Started.Before(before.Add(-2*time.Second)) || wi.LastSeen.Before(before.Add(-2*time.Second)) || wi.Host == "" {
		t.Errorf("worker %+v: started/last seen before the worker started, or no host", wi)
	}
	if wi.Pid != 0 && (wi.Pid != os.Getpid() || wi.Concurrency != 3) {
		t.Errorf("worker %+v: pid %d concurrency 3 expected when reported", wi, os.Getpid())
	}
	closeWorker(t, w)
	eventually(t, 5*time.Second, func() string {
		if got, err := q.GetWorkers(h.ctx); err != nil || len(got) != 0 {
			return fmt.Sprintf("after Close: workers %+v, %v; want none", got, err)
		}
		return ""
	})
}

func testSchedulerPauseResumeRunNow(h *harness) {
	t := h.t
	q := h.queue("", nil)
	if _, err := q.UpsertJobScheduler(h.ctx, "hourly", jobq.Repeat{Every: time.Hour},
		&jobq.JobTemplate{Name: "tick", Data: map[string]int{"n": 7}}); err != nil {
		t.Fatal(err)
	}
	s, err := q.GetJobScheduler(h.ctx, "hourly")
	if err != nil || s.Paused {
		t.Fatalf("new scheduler %+v, %v: want running", s, err)
	}
	pending := fmt.Sprintf("repeat:hourly:%d", s.Next.UnixMilli())
	if ok, err := q.PauseJobScheduler(h.ctx, "hourly"); !ok || err != nil {
		t.Fatalf("PauseJobScheduler = %v, %v", ok, err)
	}
	if st := h.state(q, pending); st != jobq.StateUnknown {
		t.Errorf("pending job %s after pause: %s, want gone", pending, st)
	}
	if s, err = q.GetJobScheduler(h.ctx, "hourly"); err != nil || !s.Paused {
		t.Errorf("after pause %+v, %v: want paused", s, err)
	}
	if ok, err := q.PauseJobScheduler(h.ctx, "hourly"); ok || err != nil {
		t.Errorf("second pause = %v, %v; want false, nil", ok, err)
	}
	if ok, err := q.ResumeJobScheduler(h.ctx, "hourly"); !ok || err != nil {
		t.Fatalf("ResumeJobScheduler = %v, %v", ok, err)
	}
	s, err = q.GetJobScheduler(h.ctx, "hourly")
	if err != nil || s.Paused {
		t.Fatalf("after resume %+v, %v: want running", s, err)
	}
	if st := h.state(q, fmt.Sprintf("repeat:hourly:%d", s.Next.UnixMilli())); st != jobq.StateDelayed {
		t.Errorf("pending job after resume: %s, want delayed", st)
	}
	j, err := q.RunJobSchedulerNow(h.ctx, "hourly")
	if err != nil {
		t.Fatal(err)
	}
	if st := h.state(q, j.ID); st != jobq.StateWaiting || j.Name != "tick" || string(j.Data) != `{"n":7}` {
		t.Errorf("run-now job %s %q %s: state %s; want waiting tick {\"n\":7}", j.ID, j.Name, j.Data, st)
	}
	after, _ := q.GetJobScheduler(h.ctx, "hourly")
	if !after.Next.Equal(s.Next) || after.Iterations != s.Iterations {
		t.Errorf("run-now moved the schedule: %+v, was %+v", after, s)
	}
	_, err = q.RunJobSchedulerNow(h.ctx, "nope")
	wantErr(t, "RunJobSchedulerNow of a missing scheduler", err, jobq.ErrJobNotFound)
}
