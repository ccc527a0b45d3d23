package jobqredis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// testURL returns ATLAS_TEST_REDIS_URL or skips (fails under
// ATLAS_TEST_REQUIRE_SERVICES=1).
func testURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("ATLAS_TEST_REDIS_URL")
	if u == "" {
		if os.Getenv("ATLAS_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("ATLAS_TEST_REDIS_URL is not set but ATLAS_TEST_REQUIRE_SERVICES=1")
		}
		t.Skip("set ATLAS_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0) to run Redis tests")
	}
	return u
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newTestDriver returns a driver with a unique hash-tagged prefix; every
// key under it is deleted when the test ends.
func newTestDriver(t testing.TB) *Driver {
	t.Helper()
	return newTestDriverPrefix(t, "{jqt-"+randHex(6)+"}")
}

func newTestDriverPrefix(t testing.TB, prefix string) *Driver {
	t.Helper()
	return newTestDriverAt(t, testURL(t), prefix)
}

// newTestDriverAt is newTestDriverPrefix for the server at url.
func newTestDriverAt(t testing.TB, url, prefix string) *Driver {
	t.Helper()
	ctx := context.Background()
	d, err := Open(ctx, url, &Config{Prefix: prefix})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		_ = d.Close()
		// a fresh client: the suite under test may have closed the driver
		opts, err := redis.ParseURL(testURL(t))
		if err != nil {
			return
		}
		c := redis.NewClient(opts)
		defer c.Close()
		cleanupPrefix(t, c, prefix)
	})
	return d
}

func cleanupPrefix(t testing.TB, c redis.UniversalClient, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iter := c.Scan(ctx, 0, globEscape(prefix)+":*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := delKeys(ctx, c, keys); err != nil {
		t.Logf("cleanup %s: %v", prefix, err)
	}
}

func mustAdd(t *testing.T, d *Driver, queue string, now int64, jobs ...*jobqdriver.Job) []jobqdriver.AddResult {
	t.Helper()
	res, err := d.Add(context.Background(), queue, jobs, now)
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	return res
}

func fetchN(t *testing.T, d *Driver, queue string, n int, now int64) jobqdriver.FetchResult {
	t.Helper()
	toks := make([]string, n)
	for i := range toks {
		toks[i] = "tok-" + randHex(4)
	}
	r, err := d.Fetch(context.Background(), jobqdriver.FetchParams{
		Queue: queue, WorkerName: "w1", Tokens: toks, LockDuration: 30000, Now: now,
	})
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	return r
}

func ids(jobs []*jobqdriver.Job) []string {
	out := make([]string, len(jobs))
	for i, j := range jobs {
		out[i] = j.ID
	}
	return out
}

func job(id, name string) *jobqdriver.Job {
	return &jobqdriver.Job{ID: id, Name: name, Data: []byte(`{"x":1}`)}
}
