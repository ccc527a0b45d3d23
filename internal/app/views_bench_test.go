package app_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/sevra/atlas/internal/app"
	"github.com/sevra/atlas/internal/app/apptest"
	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/store/storetest"
	"github.com/sevra/atlas/internal/views"
	"github.com/sevra/atlas/jobq"
)

// browserUA is a desktop Chrome User-Agent: counted as a view (not a bot).
const browserUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

// benchBackend is where a benchmark App keeps its data: SQLite (database,
// queue, in-process buffer and cache) or PostgreSQL + Redis (queue, views
// buffer and read cache in Redis).
type benchBackend struct {
	name string
	pg   bool
}

var benchBackends = []benchBackend{{"sqlite", false}, {"postgres+redis", true}}

// startBenchApp starts an App with HTTP and workers on backend (skipping
// the PostgreSQL + Redis variant when ATLAS_TEST_DATABASE_URL or
// ATLAS_TEST_REDIS_URL is unset) behind a real listener, and returns it
// with the server's URL and its Redis prefix. The Redis keys go under a
// unique prefix, deleted when tb ends.
func startBenchApp(tb testing.TB, backend benchBackend, cfg app.Config) (*app.App, string, string) {
	tb.Helper()
	cfg.DataDir = storetest.TempDataDir(tb)
	cfg.HTTP, cfg.Workers = true, true
	if backend.pg {
		redisURL := os.Getenv("ATLAS_TEST_REDIS_URL")
		if redisURL == "" {
			tb.Skip("set ATLAS_TEST_REDIS_URL (and ATLAS_TEST_DATABASE_URL) for the PostgreSQL + Redis variant")
		}
		cfg.DatabaseURL = storetest.IsolatedPostgresURL(tb)
		var b [6]byte
		rand.Read(b[:])
		cfg.Redis = app.RedisConfig{URL: redisURL, Prefix: "atlasbench" + hex.EncodeToString(b[:]), AllowUnsafe: true}
		tb.Cleanup(func() { deleteRedisPrefix(tb, redisURL, cfg.Redis.Prefix) })
	}
	a := apptest.Start(tb, cfg, nil, false)
	srv := httptest.NewServer(a.Handler())
	tb.Cleanup(srv.Close)
	return a, srv.URL, cfg.Redis.Prefix
}

// deleteRedisPrefix deletes every key under prefix (the benchmark's queue,
// views buffer and cache).
func deleteRedisPrefix(tb testing.TB, url, prefix string) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		tb.Logf("redis cleanup: %v", err)
		return
	}
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	iter := c.Scan(ctx, 0, prefix+":*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	for i := 0; i < len(keys); i += 500 {
		c.Unlink(ctx, keys[i:min(i+500, len(keys))]...)
	}
	if err := iter.Err(); err != nil {
		tb.Logf("redis cleanup: %v", err)
	}
}

// benchClient is an HTTP client with keep-alive connections for many
// concurrent goroutines.
func benchClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute}}
}

// getOK sends a GET with a browser User-Agent and drains the answer; it
// returns an error unless the status is 200.
func getOK(c *http.Client, url string) error {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", browserUA)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		body, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("GET %s = %d %s", url, resp.StatusCode, body)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// counterValue sums the counter name in reg over the series whose labels
// include want.
func counterValue(tb testing.TB, reg prometheus.Gatherer, name string, want map[string]string) float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for k, v := range want {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == k && lp.GetValue() == v {
						found = true
					}
				}
				if !found {
					continue metric
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// viewsRun is the result of one views load run.
type viewsRun struct {
	sent       int64         // views sent (answered 200)
	elapsed    time.Duration // first request to last answer
	batches    int           // view_flushes rows after the final flush
	rowUpdates int64         // UPDATEs of post rows (async: an upper bound, see below)
	syncRecs   float64       // atlas_views_recorded_total{mode="sync"}
	dropped    int64         // atlas_views_dropped_total: buffer timeouts (some may have counted)
	counted    int64         // sum of posts.view_count after the final flush
}

// benchPosts is the number of published posts the views load spreads over.
const benchPosts = 10

// runViews starts an App on backend with the views module in mode, seeds
// benchPosts published posts, sends n GETs of /api/v1/posts/{slug} (round
// robin over the posts) from conc goroutines over keep-alive connections,
// flushes, checks that the posts' view_count adds up to the views sent,
// and counts the database row updates the views cost.
func runViews(tb testing.TB, backend benchBackend, mode rollout.Mode, n, conc int, timer func(start bool)) viewsRun {
	a, base, _ := startBenchApp(tb, backend, app.Config{Modes: rollout.Modes{views.Module: mode}})
	st := a.Store()
	pub := time.Now().Add(-time.Hour).UTC()
	urls := make([]string, benchPosts)
	for i := range benchPosts {
		slug := fmt.Sprintf("bench-post-%d", i+1)
		storetest.Exec(tb, st, "INSERT INTO posts (id, slug, title, body, published_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
			i+1, slug, "Post "+slug, "The body of "+slug+".", pub, pub)
		urls[i] = base + "/api/v1/posts/" + slug
	}
	client := benchClient()
	defer client.CloseIdleConnections()
	// Open the connections before the clock starts.
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() { _ = getOK(client, base+"/healthz") })
	}
	wg.Wait()

	var next, ok, failed atomic.Int64
	var firstErr sync.Once
	timer(true)
	start := time.Now()
	for range conc {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				if err := getOK(client, urls[i%benchPosts]); err != nil {
					failed.Add(1)
					firstErr.Do(func() { tb.Error(err) })
					continue
				}
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	timer(false)
	if failed.Load() > 0 {
		tb.Fatalf("%d of %d requests failed", failed.Load(), n)
	}

	// Flush what is buffered (the job runs Service.Flush in a worker: in
	// this process for the in-process buffer) and wait for the job.
	ctx := context.Background()
	job, err := a.Queues().Add(ctx, queues.QueueAnalytics, views.JobFlush, map[string]string{"source": "bench"}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		s, err := job.State(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		if s == jobq.StateCompleted {
			break
		}
		if s == jobq.StateFailed || time.Now().After(deadline) {
			tb.Fatalf("flush job %s: %s", job.ID, s)
		}
	}
	// A view the buffer did not take within its timeout (50 ms for Redis)
	// is counted as dropped; Redis may still have applied the HINCRBY
	// whose answer came late, so the views in the database are between
	// those sent less those dropped and those sent.
	dropped := int64(counterValue(tb, a.Metrics(), "atlas_views_dropped_total", nil))
	var total int64
	if err := st.DB().QueryRowContext(ctx, "SELECT coalesce(sum(view_count), 0) FROM posts").Scan(&total); err != nil {
		tb.Fatal(err)
	}
	if total < ok.Load()-dropped || total > ok.Load() {
		tb.Fatalf("posts.view_count adds up to %d, want the %d views sent (%d dropped)", total, ok.Load(), dropped)
	}
	run := viewsRun{sent: ok.Load(), elapsed: elapsed, dropped: dropped, counted: total,
		syncRecs: counterValue(tb, a.Metrics(), "atlas_views_recorded_total", map[string]string{"mode": "sync"})}
	// Each flushed batch is one view_flushes row with its views; it
	// updated at most min(benchPosts, views) post rows (one per distinct
	// post in the batch), so rowUpdates is an upper bound in async mode.
	rows, err := st.DB().QueryContext(ctx, "SELECT views FROM view_flushes")
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			tb.Fatal(err)
		}
		run.batches++
		run.rowUpdates += min(v, benchPosts)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	if mode == rollout.Sync {
		// One UPDATE per view, and nothing buffered.
		if run.batches != 0 || int64(run.syncRecs) != total {
			tb.Fatalf("sync: %d batches flushed, %v views recorded by UPDATE, want 0 and %d", run.batches, run.syncRecs, run.sent)
		}
		run.rowUpdates = int64(run.syncRecs)
	}
	return run
}

// BenchmarkPostViews measures post views ingested per second through
// GET /api/v1/posts/{slug} (the real handler of an App with HTTP and
// workers, a real listener, 64 client goroutines on keep-alive
// connections) in the views module's async mode (buffered, flushed in
// batches every 10 s by default) and sync mode (one UPDATE per view), on
// SQLite and on PostgreSQL + Redis. b.N is the number of requests; run it
// with a fixed count:
//
//	go test ./internal/app -run '^$' -bench BenchmarkPostViews -benchtime 100000x
//
// Metrics: views/s; row-updates (post rows the views cost: sync one per
// view, async at most one per post per flushed batch); views/row-update
// (1 in sync: the sync/async ratio of row updates is the async figure);
// batches flushed; dropped (views the buffer did not take within its
// timeout, atlas_views_dropped_total); counted (posts.view_count summed
// after the final flush). Every run checks that counted lies between the
// views sent less those dropped and the views sent (a Redis HINCRBY whose
// answer came after the timeout may still have applied).
func BenchmarkPostViews(b *testing.B) {
	for _, be := range benchBackends {
		for _, mode := range []rollout.Mode{rollout.Async, rollout.Sync} {
			b.Run(be.name+"/"+string(mode), func(b *testing.B) {
				run := runViews(b, be, mode, b.N, 64, func(start bool) {
					if start {
						b.ResetTimer()
					} else {
						b.StopTimer()
					}
				})
				b.ReportMetric(float64(run.sent)/run.elapsed.Seconds(), "views/s")
				b.ReportMetric(float64(run.rowUpdates), "row-updates")
				b.ReportMetric(float64(run.sent)/float64(max(run.rowUpdates, 1)), "views/row-update")
				b.ReportMetric(float64(run.batches), "batches")
				b.ReportMetric(float64(run.dropped), "dropped")
				b.ReportMetric(float64(run.counted), "counted")
			})
		}
	}
}

// TestPostViewsBenchSmoke runs the views benchmark's rig briefly on
// SQLite in both modes: every view sent reaches posts.view_count after
// the flush, one UPDATE per view in sync mode, batches in async mode.
func TestPostViewsBenchSmoke(t *testing.T) {
	t.Parallel()
	for _, mode := range []rollout.Mode{rollout.Async, rollout.Sync} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			run := runViews(t, benchBackends[0], mode, 400, 16, func(bool) {})
			if run.sent != 400 || run.dropped != 0 {
				t.Errorf("%d views sent, %d dropped, want 400 and 0", run.sent, run.dropped)
			}
			if mode == rollout.Async && (run.batches < 1 || run.rowUpdates > int64(run.batches)*benchPosts) {
				t.Errorf("async: %d batches, %d row updates", run.batches, run.rowUpdates)
			}
		})
	}
}
