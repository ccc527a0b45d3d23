package jobqtest

import (
	"testing"
	"time"

	"github.com/sevra/atlas/jobq"
)

// backendTests covers the backend's optional abilities, through jobq's
// helpers.
func backendTests(t *testing.T, nb newBackendFunc) {
	runGroup(t, nb, []testCase{
		{"Ping", testPing},
		{"Health", testHealth},
		{"OldestReady", testOldestReady},
	})
}

func testPing(h *harness) {
	if err := jobq.Ping(h.ctx, h.drv); err != nil {
		h.t.Fatalf("ping: %v", err)
	}
	// Pinging must not create a queue, nor change one.
	q := h.queue("", nil)
	h.add(q, "j", nil, nil)
	if err := jobq.Ping(h.ctx, h.drv); err != nil {
		h.t.Fatalf("ping with a job: %v", err)
	}
	counts, err := q.GetJobCounts(h.ctx, jobq.StateWaiting)
	if err != nil {
		h.t.Fatal(err)
	}
	if counts[jobq.StateWaiting] != 1 {
		h.t.Errorf("waiting = %d after ping, want 1", counts[jobq.StateWaiting])
	}
}

func testHealth(h *harness) {
	r, ok, err := jobq.Health(h.ctx, h.drv)
	if !ok {
		h.t.Skip("the backend reports no health")
	}
	if err != nil {
		h.t.Fatalf("health: %v", err)
	}
	if r.OK() != (len(r.Warnings) == 0) {
		h.t.Errorf("OK() = %v with warnings %q", r.OK(), r.Warnings)
	}
}

// testOldestReady checks the age source for autoscaling: the ready time of
// the job next in line in waiting or first in prioritized, whichever is
// earlier, with delayed jobs left out.
func testOldestReady(h *harness) {
	t0 := time.UnixMilli(1_700_000_000_000)
	now := t0
	q := h.queue("", &jobq.QueueConfig{Clock: func() time.Time { return now }})
	check := func(what string, want time.Time) {
		h.t.Helper()
		at, found, ok, err := jobq.OldestReady(h.ctx, h.drv, q.Name())
		if !ok {
			h.t.Skip("the backend cannot tell the oldest ready time")
		}
		if err != nil {
			h.t.Fatalf("%s: %v", what, err)
		}
		if found != !want.IsZero() || !at.Equal(want) {
			h.t.Fatalf("%s: oldest ready = %v (found %v), want %v", what, at, found, want)
		}
	}
	check("empty queue", time.Time{})
	addAt := func(id string, at time.Time, opts jobq.JobOptions) {
		now = at
		opts.JobID = id
		h.add(q, "age", nil, &opts)
	}
	addAt("d", t0.Add(5*time.Second), jobq.JobOptions{Delay: time.Hour})
	check("only a delayed job", time.Time{})
	addAt("a", t0.Add(10*time.Second), jobq.JobOptions{})
	addAt("b", t0.Add(20*time.Second), jobq.JobOptions{})
	addAt("p", t0.Add(30*time.Second), jobq.JobOptions{Priority: 1})
	check("a first", t0.Add(10*time.Second))
	for _, id := range []string{"a", "b"} {
		if err := q.Remove(h.ctx, id, false); err != nil {
			h.t.Fatal(err)
		}
	}
	check("only the prioritized job", t0.Add(30*time.Second))
	addAt("e", t0.Add(40*time.Second), jobq.JobOptions{})
	check("prioritized older than waiting", t0.Add(30*time.Second))
}
