package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/sitemap"
	"github.com/sevra/atlas/internal/store"
)

// sizes returns the salon counts to benchmark: 10k and 100k, plus
// ATLAS_BENCH_SALONS when set.
func sizes(b *testing.B) []int {
	out := []int{10_000, 100_000}
	if v := os.Getenv("ATLAS_BENCH_SALONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("ATLAS_BENCH_SALONS=%q: want a positive integer", v)
		}
		out = append(out, n)
	}
	return out
}

// BenchmarkRebuild seeds N salons with seedData (200 cities, 1,000 posts,
// no reviews, one ready media item on every tenth salon), then times full
// rebuilds: keyset pages of 5,000, 45,000 URLs per gzipped child, fsync
// and atomic publish. It reports rows/s, the uncompressed and gzipped
// output, and the peak Go heap (sampled every 5 ms) above the heap in use
// before the rebuild.
func BenchmarkRebuild(b *testing.B) {
	for _, n := range sizes(b) {
		b.Run(fmt.Sprintf("salons=%d", n), func(b *testing.B) {
			ctx := context.Background()
			dir := b.TempDir()
			s, err := store.Open(ctx, "", dir)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if _, err := s.Migrate(ctx); err != nil {
				b.Fatal(err)
			}
			t0 := time.Now()
			if err := seedData(ctx, s, n); err != nil {
				b.Fatal(err)
			}
			b.Logf("seeded %d salons in %v", n, time.Since(t0).Round(time.Millisecond))
			pub, err := sitemap.NewPublisher(dir, nil)
			if err != nil {
				b.Fatal(err)
			}
			builder, err := sitemap.NewBuilder(sitemap.Config{DB: s, Publisher: pub, BaseURL: "https://atlas.example"})
			if err != nil {
				b.Fatal(err)
			}
			var last sitemap.Stats
			var peak uint64
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			baseline := ms.HeapInuse
			b.ReportAllocs()
			for b.Loop() {
				stop := sampleHeap(&peak)
				last, err = builder.Rebuild(ctx, nil)
				stop()
				if err != nil {
					b.Fatal(err)
				}
			}
			rows := last.Salons + last.Cities + last.Posts
			b.ReportMetric(float64(rows)/(b.Elapsed().Seconds()/float64(b.N)), "rows/s")
			b.ReportMetric(float64(last.Bytes)/1e6, "xml-MB")
			b.ReportMetric(float64(dirSize(b, pub))/1e6, "disk-MB")
			b.ReportMetric(float64(peak-min(peak, baseline))/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(last.MaxPageQuery.Microseconds())/1e3, "max-page-ms")
			b.Logf("%+v", last)
		})
	}
}

// sampleHeap records the largest HeapInuse seen into peak until stop is
// called.
func sampleHeap(peak *uint64) (stop func()) {
	var done atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for !done.Load() {
			runtime.ReadMemStats(&ms)
			*peak = max(*peak, ms.HeapInuse)
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return func() { done.Store(true); wg.Wait() }
}

// dirSize sums the live generation's files (gzipped children and index).
func dirSize(b *testing.B, p *sitemap.Publisher) int64 {
	live, err := p.Live()
	if err != nil {
		b.Fatal(err)
	}
	ents, err := os.ReadDir(live.Dir)
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	for _, e := range ents {
		if fi, err := e.Info(); err == nil {
			n += fi.Size()
		}
	}
	return n
}
