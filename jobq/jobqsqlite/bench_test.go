package jobqsqlite

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

func openBench(b *testing.B, sync string) *Driver {
	b.Helper()
	d, err := Open(context.Background(), filepath.Join(b.TempDir(), "q.db"), &Config{Synchronous: sync, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	return d
}

func reportJobs(b *testing.B, jobs int) {
	b.ReportMetric(float64(jobs)/b.Elapsed().Seconds(), "jobs/s")
}

// BenchmarkAdd adds one job per call (one transaction each).
func BenchmarkAdd(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run(sync, func(b *testing.B) {
			d := openBench(b, sync)
			ctx := context.Background()
			for b.Loop() {
				if _, err := d.Add(ctx, "q", []*jobqdriver.Job{{Name: "n", Data: []byte(`{"i":1}`)}}, 1); err != nil {
					b.Fatal(err)
				}
			}
			reportJobs(b, b.N)
		})
	}
}

// BenchmarkAddBulk adds 100 jobs per call.
func BenchmarkAddBulk(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run(sync, func(b *testing.B) {
			d := openBench(b, sync)
			ctx := context.Background()
			for b.Loop() {
				jobs := make([]*jobqdriver.Job, 100)
				for i := range jobs {
					jobs[i] = &jobqdriver.Job{Name: "n", Data: []byte(`{"i":1}`)}
				}
				if _, err := d.Add(ctx, "q", jobs, 1); err != nil {
					b.Fatal(err)
				}
			}
			reportJobs(b, 100*b.N)
		})
	}
}

// BenchmarkFetchFinish fetches a batch and finishes it (two transactions
// per batch); one op is one batch.
func BenchmarkFetchFinish(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		for _, batch := range []int{1, 10, 50} {
			b.Run(fmt.Sprintf("%s/batch=%d", sync, batch), func(b *testing.B) {
				d := openBench(b, sync)
				ctx := context.Background()
				toks := make([]string, batch)
				for i := range toks {
					toks[i] = fmt.Sprint("t", i)
				}
				fill := func() {
					jobs := make([]*jobqdriver.Job, 1000)
					for i := range jobs {
						jobs[i] = &jobqdriver.Job{Name: "n", Data: []byte(`{}`)}
					}
					if _, err := d.Add(ctx, "q", jobs, 1); err != nil {
						b.Fatal(err)
					}
				}
				fill()
				done := 0
				for b.Loop() {
					res, err := d.Fetch(ctx, jobqdriver.FetchParams{Queue: "q", Tokens: toks, LockDuration: 30000, Now: 2})
					if err != nil {
						b.Fatal(err)
					}
					if len(res.Jobs) < batch {
						b.StopTimer()
						fill()
						b.StartTimer()
					}
					items := make([]jobqdriver.FinishParams, len(res.Jobs))
					for i, j := range res.Jobs {
						items[i] = jobqdriver.FinishParams{Queue: "q", ID: j.ID, Token: j.Token, Keep: &jobqdriver.Keep{}, Now: 3}
					}
					if _, _, err := d.Finish(ctx, items, nil); err != nil {
						b.Fatal(err)
					}
					done += len(res.Jobs)
				}
				reportJobs(b, done)
			})
		}
	}
}

// BenchmarkAddParallel adds one job per call from 16 goroutines: with
// group commit, concurrent calls share transactions (and fsyncs).
func BenchmarkAddParallel(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run(sync, func(b *testing.B) {
			d := openBench(b, sync)
			ctx := context.Background()
			b.SetParallelism(8) // 8 x GOMAXPROCS goroutines
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := d.Add(ctx, "q", []*jobqdriver.Job{{Name: "n", Data: []byte(`{"i":1}`)}}, 1); err != nil {
						b.Error(err)
						return
					}
				}
			})
			reportJobs(b, b.N)
			b.ReportMetric(float64(d.committedOps.Load())/float64(max(d.commits.Load(), 1)), "ops/commit")
		})
	}
}

// BenchmarkFinishNext is a worker's cycle at concurrency 10 done two ways:
// Fetch then Finish (two commits per cycle) and Finish with next (the
// fetch of the next batch in the same transaction: one commit). One op is
// one cycle of 10 jobs.
func BenchmarkFinishNext(b *testing.B) {
	const batch = 10
	for _, mode := range []string{"separate", "next"} {
		b.Run(mode, func(b *testing.B) {
			d := openBench(b, "FULL")
			ctx := context.Background()
			toks := make([]string, batch)
			for i := range toks {
				toks[i] = fmt.Sprint("t", i)
			}
			fetchP := jobqdriver.FetchParams{Queue: "q", Tokens: toks, LockDuration: 30000, Now: 2}
			fill := func() {
				jobs := make([]*jobqdriver.Job, 1000)
				for i := range jobs {
					jobs[i] = &jobqdriver.Job{Name: "n", Data: []byte(`{}`)}
				}
				if _, err := d.Add(ctx, "q", jobs, 1); err != nil {
					b.Fatal(err)
				}
			}
			fill()
			res, err := d.Fetch(ctx, fetchP)
			if err != nil {
				b.Fatal(err)
			}
			done := 0
			for b.Loop() {
				if len(res.Jobs) < batch {
					b.StopTimer()
					fill()
					if res, err = d.Fetch(ctx, fetchP); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				items := make([]jobqdriver.FinishParams, len(res.Jobs))
				for i, j := range res.Jobs {
					items[i] = jobqdriver.FinishParams{Queue: "q", ID: j.ID, Token: j.Token, Keep: &jobqdriver.Keep{}, Now: 3}
				}
				done += len(items)
				if mode == "next" {
					_, res, err = d.Finish(ctx, items, &fetchP)
				} else {
					if _, _, err = d.Finish(ctx, items, nil); err == nil {
						res, err = d.Fetch(ctx, fetchP)
					}
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			reportJobs(b, done)
		})
	}
}
