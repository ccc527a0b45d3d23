package jobqtest

import (
	"context"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq"
)

// accuracyTests covers point 9: retention by count and age, dedup TTL
// expiry and rate-limit accuracy.
func accuracyTests(t *testing.T, nb newBackendFunc) {
	runGroup(t, nb, []testCase{
		{"RetentionByCountAndAge", testRetentionCountAndAge},
		{"DeduplicationTTLExpiry", testDeduplicationTTL},
		{"DeduplicationExtend", testDeduplicationExtend},
		{"RateLimitAccuracy", testRateLimitAccuracy},
	})
}

func testRateLimitAccuracy(h *harness) {
	t := h.t
	q := h.queue("", nil)
	const max, n = 4, 24
	window := 300 * time.Millisecond
	var starts startTimes
	h.worker(q.Name(), func(ctx context.Context, j *jobq.Job) (any, error) {
		starts.add(time.Now())
		return nil, nil
	}, &jobq.WorkerConfig{Concurrency: 8, Limiter: &jobq.Limiter{Max: max, Duration: window}})
	bulk := make([]jobq.BulkJob, n)
	for i := range bulk {
		bulk[i] = jobq.BulkJob{Name: "r"}
	}
	if _, err := q.AddBulk(h.ctx, bulk); err != nil {
		t.Fatal(err)
	}
	h.waitCount(q, jobq.StateCompleted, n)
	ideal := time.Duration(n/max-1) * window
	span := starts.span()
	if span < ideal*9/10 {
		t.Errorf("%d jobs started within %s; %d per %s needs %s", n, span, max, window, ideal)
	}
	// The worker must not idle much past each window (it sleeps for the
	// limiter's remaining time, not a fixed interval).
	if span > ideal*2+time.Second {
		t.Errorf("%d jobs at %d per %s took %s, ideal %s", n, max, window, span, ideal)
	}
	if m := starts.maxInWindow(window); m > 2*max {
		t.Errorf("%d starts within one %s window, want at most %d", m, window, 2*max)
	}
}
