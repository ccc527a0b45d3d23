package jobqtest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq"
	"github.com/sevra/atlas/jobq/jobqdriver"
)

// Bench runs the backend benchmarks (point 12): Add, AddBulk with 100 jobs
// per call, and the processing of no-op jobs by one worker at concurrency
// 1, 10 and 100. Each reports jobs/s. newBackend returns a fresh backend
// and registers its Close with tb.Cleanup.
func Bench(b *testing.B, newBackend func(tb testing.TB) jobqdriver.Driver) {
	open := func(b *testing.B) *jobq.Queue {
		drv := newBackend(b)
		return jobq.NewQueue(fmt.Sprintf("jqt-bench-%d", time.Now().UnixNano()), drv, nil)
	}
	data := map[string]any{"id": 12345, "kind": "benchmark"}
	b.Run("Add", func(b *testing.B) {
		q := open(b)
		ctx := b.Context()
		b.ResetTimer()
		for range b.N {
			if _, err := q.Add(ctx, "bench", data, nil); err != nil {
				b.Fatal(err)
			}
		}
		reportJobsPerSec(b, b.N)
	})
	b.Run("AddBulk100", func(b *testing.B) {
		q := open(b)
		ctx := b.Context()
		bulk := make([]jobq.BulkJob, 100)
		for i := range bulk {
			bulk[i] = jobq.BulkJob{Name: "bench", Data: data}
		}
		b.ResetTimer()
		for range b.N {
			if _, err := q.AddBulk(ctx, bulk); err != nil {
				b.Fatal(err)
			}
		}
		reportJobsPerSec(b, b.N*len(bulk))
	})
	for _, conc := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("Process/concurrency=%d", conc), func(b *testing.B) {
			q := open(b)
			ctx := b.Context()
			for off := 0; off < b.N; off += 1000 {
				bulk := make([]jobq.BulkJob, min(1000, b.N-off))
				for i := range bulk {
					bulk[i] = jobq.BulkJob{Name: "noop", Data: data}
				}
				if _, err := q.AddBulk(ctx, bulk); err != nil {
					b.Fatal(err)
				}
			}
			var done atomic.Int64
			all := make(chan struct{})
			w, err := jobq.NewWorker(q.Name(), q.Backend(), func(context.Context, *jobq.Job) (any, error) {
				return nil, nil
			}, &jobq.WorkerConfig{
				Concurrency: conc, RemoveOnComplete: jobq.RemoveAll(), DrainDelay: 100 * time.Millisecond,
				OnCompleted: func(*jobq.Job, []byte) {
					if done.Add(1) == int64(b.N) {
						close(all)
					}
				},
			})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			if err := w.Start(ctx); err != nil {
				b.Fatal(err)
			}
			select {
			case <-all:
			case <-time.After(10 * time.Minute):
				b.Fatalf("processed %d of %d jobs", done.Load(), b.N)
			}
			b.StopTimer()
			reportJobsPerSec(b, b.N)
			closeWorker(b, w)
		})
	}
}

func reportJobsPerSec(b *testing.B, n int) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(n)/s, "jobs/s")
	}
}
