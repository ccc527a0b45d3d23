package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sevra/atlas/internal/app"
	"github.com/sevra/atlas/internal/store/storetest"
)

const benchAdminToken = "bench-admin-token-0123456789abcdef"

// cacheRoundTrips is a go-redis hook that counts the round trips (one per
// command, one per pipeline or transaction) touching the read cache's
// keys, i.e. those with an argument under the cache prefix (the views
// buffer and rate limits share the client).
type cacheRoundTrips struct {
	prefix string
	n      atomic.Int64
}

func (h *cacheRoundTrips) touches(cmds ...redis.Cmder) bool {
	for _, c := range cmds {
		for _, a := range c.Args() {
			if s, ok := a.(string); ok && strings.HasPrefix(s, h.prefix) {
				return true
			}
		}
	}
	return false
}

func (h *cacheRoundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *cacheRoundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.touches(cmd) {
			h.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (h *cacheRoundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if h.touches(cmds...) {
			h.n.Add(1)
		}
		return next(ctx, cmds)
	}
}

// salonReadRun is one run of salon-detail reads under a burst of reviews.
type salonReadRun struct {
	lat        []time.Duration // sorted read latencies
	reviews    int64           // reviews posted during the reads
	hits, miss float64         // atlas_cache_requests_total
	roundTrips int64           // Redis round trips on cache keys (Redis only)
}

// runSalonReads starts an App on backend (cacheTTL as app.Config.CacheTTL:
// 0 the default cache, negative uncached), seeds a city and a salon, and
// reads GET /api/v1/salons/{slug} n times at readRate per second (an open
// loop: each read starts on its tick) while reviews of the same salon are
// posted at reviewRate per second with the admin token (each one
// recomputes the salon's aggregates in a job, which invalidates its cached
// detail). At the end it waits until a read shows every review.
func runSalonReads(tb testing.TB, backend benchBackend, cacheTTL time.Duration, n, readRate, reviewRate int) salonReadRun {
	a, base, prefix := startBenchApp(tb, backend, app.Config{AdminToken: benchAdminToken, CacheTTL: cacheTTL})
	st := a.Store()
	storetest.AddCity(tb, st, 1, "tehran", "Tehran")
	storetest.AddSalon(tb, st, 1, 1, "bench-salon", "Bench Salon", 0, 0, time.Now().Add(-time.Hour))
	url := base + "/api/v1/salons/bench-salon"
	client := benchClient()
	defer client.CloseIdleConnections()
	if err := getOK(client, url); err != nil { // warm: the first read fills the cache
		tb.Fatal(err)
	}
	var hook *cacheRoundTrips
	if rc := a.Backend().RedisClient(); rc != nil {
		hook = &cacheRoundTrips{prefix: prefix + ":atlas:cache"}
		rc.AddHook(hook)
	}
	hits0 := counterValue(tb, a.Metrics(), "atlas_cache_requests_total", map[string]string{"result": "hit"})
	miss0 := counterValue(tb, a.Metrics(), "atlas_cache_requests_total", map[string]string{"result": "miss"})

	// Reviews in the background.
	stop := make(chan struct{})
	var reviews atomic.Int64
	var writer sync.WaitGroup
	writer.Go(func() {
		tick := time.NewTicker(time.Second / time.Duration(reviewRate))
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			req, _ := http.NewRequest("POST", url+"/reviews", strings.NewReader(fmt.Sprintf(`{"rating":%d,"body":"bench review %d"}`, 1+i%5, i)))
			req.Header.Set("Authorization", "Bearer "+benchAdminToken)
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				tb.Error(err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 201 {
				tb.Errorf("POST review = %d %s", resp.StatusCode, body)
				return
			}
			reviews.Add(1)
		}
	})

	// Reads, paced in ticks of 10 ms.
	var (
		mu     sync.Mutex
		lat    = make([]time.Duration, 0, n)
		reads  sync.WaitGroup
		failed atomic.Int64
	)
	const tick = 10 * time.Millisecond
	perTick := max(readRate*int(tick)/int(time.Second), 1)
	t := time.NewTicker(tick)
	for sent := 0; sent < n; {
		for range min(perTick, n-sent) {
			sent++
			reads.Go(func() {
				start := time.Now()
				err := getOK(client, url)
				d := time.Since(start)
				if err != nil {
					if failed.Add(1) == 1 {
						tb.Error(err)
					}
					return
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			})
		}
		<-t.C
	}
	t.Stop()
	reads.Wait()
	close(stop)
	writer.Wait()
	run := salonReadRun{reviews: reviews.Load(),
		hits: counterValue(tb, a.Metrics(), "atlas_cache_requests_total", map[string]string{"result": "hit"}) - hits0,
		miss: counterValue(tb, a.Metrics(), "atlas_cache_requests_total", map[string]string{"result": "miss"}) - miss0}
	if hook != nil {
		run.roundTrips = hook.n.Load()
	}
	slices.Sort(lat)
	run.lat = lat
	if failed.Load() > 0 {
		tb.Fatalf("%d of %d reads failed", failed.Load(), n)
	}

	// The cache must not hide the reviews: once the recompute jobs ran, a
	// read shows every one of them.
	want := run.reviews
	deadline := time.Now().Add(30 * time.Second)
	for {
		var s struct {
			RatingCount int64 `json:"rating_count"`
		}
		resp, err := client.Get(url)
		if err != nil {
			tb.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&s)
		resp.Body.Close()
		if err != nil {
			tb.Fatal(err)
		}
		if s.RatingCount == want {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("salon detail shows %d reviews 30 s after the burst, want %d", s.RatingCount, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return run
}

// BenchmarkSalonReadUnderReviews measures the latency of GET
// /api/v1/salons/{slug} (the real handler of an App with HTTP and
// workers, over a real listener) read at 1,000 reads/s while 20 reviews/s
// of the same salon are posted (POST …/reviews, admin token; each review's
// aggregate recompute invalidates the salon's cached detail), with the
// read cache (default: in process on SQLite, Redis with PostgreSQL) and
// without it (app.Config.CacheTTL < 0: every read queries the database).
// b.N is the number of reads; run it with a fixed count:
//
//	go test ./internal/app -run '^$' -bench BenchmarkSalonReadUnderReviews -benchtime 10000x
//
// ns/op is suppressed (it is only the arrival interval). Metrics: p50,
// p99 and max latency; reviews posted; cache hits per read; with Redis,
// Redis round trips per read on the cache's keys (go-redis hook: a
// pipeline or MULTI counts once).
func BenchmarkSalonReadUnderReviews(b *testing.B) {
	for _, be := range benchBackends {
		for _, v := range []struct {
			name string
			ttl  time.Duration
		}{{"cached", 0}, {"uncached", -1}} {
			b.Run(be.name+"/"+v.name, func(b *testing.B) {
				run := runSalonReads(b, be, v.ttl, b.N, 1000, 20)
				b.ReportMetric(0, "ns/op")
				b.ReportMetric(ms(percentile(run.lat, 50)), "p50-ms")
				b.ReportMetric(ms(percentile(run.lat, 99)), "p99-ms")
				b.ReportMetric(ms(run.lat[len(run.lat)-1]), "max-ms")
				b.ReportMetric(float64(run.reviews), "reviews")
				b.ReportMetric(run.hits/float64(len(run.lat)), "hits/read")
				b.ReportMetric(run.miss, "misses")
				if be.pg {
					b.ReportMetric(float64(run.roundTrips)/float64(len(run.lat)), "redis-rt/read")
				}
			})
		}
	}
}

// BenchmarkCachedSalonReadRedisRoundTrips counts the Redis round trips of
// b.N cached salon-detail reads (no writes meanwhile) through the real
// handler, on PostgreSQL + Redis: the target is one (an MGET of the value
// and its version) per hit.
//
//	go test ./internal/app -run '^$' -bench BenchmarkCachedSalonReadRedisRoundTrips -benchtime 2000x
func BenchmarkCachedSalonReadRedisRoundTrips(b *testing.B) {
	a, base, prefix := startBenchApp(b, benchBackends[1], app.Config{})
	storetest.AddCity(b, a.Store(), 1, "tehran", "Tehran")
	storetest.AddSalon(b, a.Store(), 1, 1, "bench-salon", "Bench Salon", 0, 0, time.Now().Add(-time.Hour))
	url := base + "/api/v1/salons/bench-salon"
	client := benchClient()
	defer client.CloseIdleConnections()
	if err := getOK(client, url); err != nil { // the miss that fills the cache
		b.Fatal(err)
	}
	hook := &cacheRoundTrips{prefix: prefix + ":atlas:cache"}
	a.Backend().RedisClient().AddHook(hook)
	hits0 := counterValue(b, a.Metrics(), "atlas_cache_requests_total", map[string]string{"result": "hit"})
	b.ResetTimer()
	for range b.N {
		if err := getOK(client, url); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	hits := counterValue(b, a.Metrics(), "atlas_cache_requests_total", map[string]string{"result": "hit"}) - hits0
	b.ReportMetric(float64(hook.n.Load())/float64(b.N), "redis-rt/read")
	b.ReportMetric(hits/float64(b.N), "hits/read")
}
