package jobqtest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq"
)

// loadTests covers point 11: many jobs through several workers. It runs
// alone (not in parallel with other tests).
func loadTests(t *testing.T, nb newBackendFunc) {
	t.Run("ManyJobs", func(t *testing.T) { testLoad(newHarness(t, nb)) })
}

func testLoad(h *harness) {
	t := h.t
	n := 50_000
	if testing.Short() {
		n = 5_000
	}
	const workers, conc, batch = 4, 25, 1000
	q := h.queue("", nil)
	var mu sync.Mutex
	runs := make(map[string]int, n)
	for range workers {
		h.worker(q.Name(), func(ctx context.Context, j *jobq.Job) (any, error) {
			mu.Lock()
			runs[j.ID]++
			mu.Unlock()
			return nil, nil
		}, &jobq.WorkerConfig{Concurrency: conc, LockDuration: 10 * time.Second, StalledInterval: 5 * time.Second})
	}
	start := time.Now()
	added := make([]string, 0, n)
	for off := 0; off < n; off += batch {
		bulk := make([]jobq.BulkJob, min(batch, n-off))
		for i := range bulk {
			bulk[i] = jobq.BulkJob{Name: "load", Data: map[string]int{"i": off + i}}
		}
		jobs, err := q.AddBulk(h.ctx, bulk)
		if err != nil {
			t.Fatalf("AddBulk at %d: %v", off, err)
		}
		added = append(added, ids(jobs)...)
	}
	addDone := time.Since(start)
	deadline := time.Now().Add(5 * time.Minute)
	for {
		c := h.counts(q, jobq.StateCompleted, jobq.StateFailed)
		if c[jobq.StateCompleted] == int64(n) {
			break
		}
		if c[jobq.StateFailed] > 0 || time.Now().After(deadline) {
			t.Fatalf("after %s: %v of %d jobs", time.Since(start), c, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	elapsed := time.Since(start)
	t.Logf("%d jobs: added in %s, all completed in %s (%.0f jobs/s)", n, addDone, elapsed, float64(n)/elapsed.Seconds())
	mu.Lock()
	defer mu.Unlock()
	var missing, twiceUnproven []string
	for _, id := range added {
		switch c := runs[id]; {
		case c == 0:
			missing = append(missing, id)
		case c > 1:
			if j := h.job(q, id); j.StalledCount == 0 {
				twiceUnproven = append(twiceUnproven, fmt.Sprintf("%s(%dx)", id, c))
			}
		}
	}
	if len(runs) != n {
		t.Errorf("processor saw %d distinct jobs, want %d", len(runs), n)
	}
	if len(missing) > 0 {
		t.Errorf("%d completed jobs never reached a processor, e.g. %v", len(missing), missing[:min(5, len(missing))])
	}
	if len(twiceUnproven) > 0 {
		t.Errorf("%d jobs ran more than once without having stalled, e.g. %v", len(twiceUnproven), twiceUnproven[:min(5, len(twiceUnproven))])
	}
}
