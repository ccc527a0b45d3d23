package jobqtest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq"
)

// orderingTests covers point 8: processing order of many jobs added in
// the same millisecond.
func orderingTests(t *testing.T, nb newBackendFunc) {
	runGroup(t, nb, []testCase{
		{"FIFO", testOrderFIFO},
		{"LIFO", testOrderLIFO},
		{"Priority", testOrderPriority},
		{"Delayed", testOrderDelayed},
	})
}

const orderN = 200

// runInOrder adds the jobs in one AddBulk (one clock reading), then runs
// them through one worker at concurrency 1 and returns the ids in the
// order the worker took them.
func (h *harness) runInOrder(q *jobq.Queue, bulk []jobq.BulkJob, clk *fakeClock, advance time.Duration) (added, order []string) {
	h.t.Helper()
	jobs, err := q.AddBulk(h.ctx, bulk)
	if err != nil {
		h.t.Fatalf("AddBulk: %v", err)
	}
	added = ids(jobs)
	var seen recorder[string]
	cfg := &jobq.WorkerConfig{Concurrency: 1}
	if clk != nil {
		cfg.Clock = clk.Now
		clk.Advance(advance)
	}
	h.worker(q.Name(), func(ctx context.Context, j *jobq.Job) (any, error) {
		seen.add(j.ID)
		return nil, nil
	}, cfg)
	eventually(h.t, waitTimeout, func() string {
		if n := seen.len(); n < len(bulk) {
			return fmt.Sprintf("%d of %d jobs ran", n, len(bulk))
		}
		return ""
	})
	return added, seen.all()
}

func wantOrder(t testing.TB, what string, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Errorf("%s: position %d ran job %s, want %s (%d jobs ran, %d expected)", what, i, got[i], want[i], len(got), len(want))
			return
		}
	}
	t.Errorf("%s: %d jobs ran, want %d", what, len(got), len(want))
}

func testOrderFIFO(h *harness) {
	q := h.queue("", nil)
	bulk := make([]jobq.BulkJob, orderN)
	for i := range bulk {
		bulk[i] = jobq.BulkJob{Name: "fifo", Data: map[string]int{"i": i}}
	}
	added, order := h.runInOrder(q, bulk, nil, 0)
	wantOrder(h.t, "FIFO", order, added)
}

func testOrderLIFO(h *harness) {
	q := h.queue("", nil)
	bulk := make([]jobq.BulkJob, orderN)
	for i := range bulk {
		bulk[i] = jobq.BulkJob{Name: "lifo", Opts: &jobq.JobOptions{LIFO: true}}
	}
	added, order := h.runInOrder(q, bulk, nil, 0)
	slices.Reverse(added)
	wantOrder(h.t, "LIFO", order, added)
}

func testOrderPriority(h *harness) {
	q := h.queue("", nil)
	bulk := make([]jobq.BulkJob, orderN)
	prio := make([]int, orderN)
	for i := range bulk {
		if i%4 != 0 {
			prio[i] = []int{5, 1, jobq.MaxPriority, 3, 1, 2}[i%6]
		}
		bulk[i] = jobq.BulkJob{Name: "prio", Opts: &jobq.JobOptions{Priority: prio[i]}}
	}
	added, order := h.runInOrder(q, bulk, nil, 0)
	// Jobs without priority first, in insertion order; then by priority,
	// ties in insertion order.
	idx := make([]int, orderN)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		pa, pb := prio[a], prio[b]
		if pa == 0 {
			pa = -1
		}
		if pb == 0 {
			pb = -1
		}
		return pa - pb
	})
	want := make([]string, orderN)
	for i, k := range idx {
		want[i] = added[k]
	}
	wantOrder(h.t, "priority", order, want)
}

func testOrderDelayed(h *harness) {
	clk := newFakeClock()
	q := h.queue("", &jobq.QueueConfig{Clock: clk.Now})
	bulk := make([]jobq.BulkJob, orderN)
	for i := range bulk {
		d := time.Second
		if i < orderN/2 {
			d = 2 * time.Second // the first half is due later
		}
		bulk[i] = jobq.BulkJob{Name: "delayed", Opts: &jobq.JobOptions{Delay: d}}
	}
	added, order := h.runInOrder(q, bulk, clk, 2*time.Second)
	want := append(slices.Clone(added[orderN/2:]), added[:orderN/2]...)
	wantOrder(h.t, "delayed (by due time, then insertion)", order, want)
}
