package jobqsqlite

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq"
)

// BenchmarkSteady offers jobs at a steady 1,000/s (16 producers, one Add
// each) to a worker of concurrency 100 and reports the enqueue→start
// latency percentiles (start of the handler minus the moment Add was
// called), and the Add call's own latency (its commit), which separates
// the commit from the wake-up and fetch, the operations per commit and
// the share of commits made without an fsync in COMMIT, and the disk
// flushes per commit. FULL-inline is FULL with SQLite's fsync inside
// COMMIT (the pipelined fsync off), for comparison. One iteration is the whole run:
// ATLAS_BENCH_STEADY_SECS seconds (default 5).
//
//	go test ./jobq/jobqsqlite -run '^$' -bench Steady -benchtime 1x
func BenchmarkSteady(b *testing.B) {
	secs := 5.0
	if v, err := strconv.ParseFloat(os.Getenv("ATLAS_BENCH_STEADY_SECS"), 64); err == nil && v > 0 {
		secs = v
	}
	modes := []struct {
		name string
		cfg  Config
	}{
		{"FULL", Config{Synchronous: "FULL"}},
		// SQLite's own fsync inside COMMIT, on the writer: the fallback
		// when the pipelined fsync (walsync.go) cannot start.
		{"FULL-inline", Config{Synchronous: "FULL", inlineSync: true}},
		{"NORMAL", Config{Synchronous: "NORMAL"}},
	}
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			for b.Loop() {
				cfg := m.cfg
				cfg.Logger = slog.New(slog.DiscardHandler)
				d, err := Open(context.Background(), filepath.Join(b.TempDir(), "q.db"), &cfg)
				if err != nil {
					b.Fatal(err)
				}
				runSteady(b, d, 1000, secs)
				d.Close()
			}
		})
	}
}

func runSteady(b *testing.B, d *Driver, rate int, secs float64) {
	ctx := context.Background()
	q := jobq.NewQueue("steady", d, nil)
	total := int(float64(rate) * secs)
	var mu sync.Mutex
	startLat := make([]time.Duration, 0, total)
	addLat := make([]time.Duration, 0, total)
	enq := make([]time.Time, total)
	done := make(chan struct{})
	var n int
	w, err := jobq.NewWorker("steady", d, func(ctx context.Context, j *jobq.Job) (any, error) {
		i, _ := strconv.Atoi(string(j.Data))
		now := time.Now()
		mu.Lock()
		startLat = append(startLat, now.Sub(enq[i]))
		n++
		if n == total {
			close(done)
		}
		mu.Unlock()
		return nil, nil
	}, &jobq.WorkerConfig{Concurrency: 100})
	if err != nil {
		b.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer w.Close(ctx)
	opts := &jobq.JobOptions{RemoveOnComplete: jobq.RemoveAll()}
	const producers = 16
	per := time.Second / time.Duration(rate)
	start := time.Now()
	var wg sync.WaitGroup
	for k := range producers {
		wg.Go(func() {
			for i := k; i < total; i += producers {
				if dl := time.Until(start.Add(time.Duration(i) * per)); dl > 0 {
					time.Sleep(dl)
				}
				t0 := time.Now()
				mu.Lock()
				enq[i] = t0
				mu.Unlock()
				if _, err := q.Add(ctx, "s", []byte(strconv.Itoa(i)), opts); err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				addLat = append(addLat, time.Since(t0))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	select {
	case <-done:
	case <-time.After(time.Duration(secs*float64(time.Second)) + 30*time.Second):
		b.Fatalf("only %d of %d jobs started", n, total)
	}
	mu.Lock()
	defer mu.Unlock()
	report := func(v []time.Duration, unit string) {
		slices.Sort(v)
		at := func(q float64) float64 {
			i := min(max(int(q*float64(len(v))+0.5)-1, 0), len(v)-1)
			return float64(v[i]) / 1e6
		}
		b.ReportMetric(at(0.50), "p50-"+unit)
		b.ReportMetric(at(0.99), "p99-"+unit)
		b.ReportMetric(at(0.999), "p999-"+unit)
	}
	report(startLat, "start-ms")
	report(addLat, "add-ms")
	commits := float64(max(d.commits.Load(), 1))
	b.ReportMetric(float64(d.committedOps.Load())/commits, "ops/commit")
	b.ReportMetric(float64(d.noSyncCommits.Load())/commits, "nosync/commit")
	if d.cfg.Synchronous == "FULL" {
		// Disk flushes: SQLite's own in COMMIT plus the syncer's.
		b.ReportMetric(float64(d.commits.Load()-d.noSyncCommits.Load()+d.fsyncs.Load())/commits, "fsyncs/commit")
	}
}
