package jobqtest

import (
	"testing"

	"github.com/sevra/atlas/jobq"
)

// backendTests covers the backend's optional abilities, through jobq's
// helpers.
func backendTests(t *testing.T, nb newBackendFunc) {
	runGroup(t, nb, []testCase{
		{"Ping", testPing},
		{"Health", testHealth},
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
