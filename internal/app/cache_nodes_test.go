package app_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sevra/atlas/internal/app"
	"github.com/sevra/atlas/internal/app/apptest"
	"github.com/sevra/atlas/internal/geo"
	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/review"
	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/store"
	"github.com/sevra/atlas/internal/store/storetest"
)

// freshWithin is how soon after the database shows a change every node
// must serve it.
const freshWithin = time.Second

// testRedisPrefix returns ATLAS_TEST_REDIS_URL and a key prefix unique to
// this test, whose keys are deleted when the test ends (after the Apps
// started later have closed); it skips without the variable (fails under
// ATLAS_TEST_REQUIRE_SERVICES=1).
func testRedisPrefix(t *testing.T) (string, string) {
	t.Helper()
	u := os.Getenv("ATLAS_TEST_REDIS_URL")
	if u == "" {
		if os.Getenv("ATLAS_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("ATLAS_TEST_REDIS_URL is not set but ATLAS_TEST_REQUIRE_SERVICES=1")
		}
		t.Skip("two-node cache tests skipped: set ATLAS_TEST_REDIS_URL=redis://… (and ATLAS_TEST_DATABASE_URL) to run them")
	}
	opts, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("ATLAS_TEST_REDIS_URL: %v", err)
	}
	c := redis.NewClient(opts)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "atlas-nodes-test-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		defer c.Close()
		ctx := context.Background()
		var keys []string
		iter := c.Scan(ctx, 0, prefix+":*", 1000).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("cleanup %s: %v", prefix, err)
			return
		}
		for len(keys) > 0 {
			n := min(len(keys), 500)
			if err := c.Del(ctx, keys[:n]...).Err(); err != nil {
				t.Errorf("cleanup %s: %v", prefix, err)
				return
			}
			keys = keys[n:]
		}
	})
	return u, prefix
}

// node is one Atlas process serving HTTP.
type node struct {
	app *app.App
	srv *httptest.Server
}

// get answers GET path without following redirects: the status, the
// decoded JSON body and the Location header.
func (n node) get(t *testing.T, path string) (int, map[string]any, string) {
	t.Helper()
	return n.do(t, http.MethodGet, path, "", "")
}

func (n node) do(t *testing.T, method, path, token, body string) (int, map[string]any, string) {
	t.Helper()
	req, err := http.NewRequest(method, n.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	c := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s %s: %d %q: %v", method, path, res.StatusCode, b, err)
	}
	return res.StatusCode, m, res.Header.Get("Location")
}

// quickRoutes shortens the coalescing windows (delay still above the
// dedup TTL) so the test waits less for the jobs; freshness is measured
// from the job's database write, not from the review.
func quickRoutes(rs outbox.Routes) {
	for k, r := range rs {
		if r.Dedup != "" {
			r.Delay, r.DedupTTL = 300*time.Millisecond, 200*time.Millisecond
		}
		rs[k] = r
	}
}

// waitSQL polls query (one row, one int64) until it returns want and
// returns the time it first did.
func waitSQL(t *testing.T, st *store.Store, want int64, query string, args ...any) time.Time {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got int64
		if err := st.DB().QueryRow(st.Rebind(query), args...).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got == want {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %d after 10s, want %d", query, got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitFresh polls fresh every 20 ms until it reports true, failing when
// that takes longer than freshWithin after since; it returns the lag.
func waitFresh(t *testing.T, what string, since time.Time, fresh func() (bool, string)) time.Duration {
	t.Helper()
	for {
		ok, last := fresh()
		if ok {
			lag := time.Since(since)
			t.Logf("%s fresh on node 2 %v after the database", what, lag.Round(time.Millisecond))
			return lag
		}
		if time.Since(since) > freshWithin {
			t.Fatalf("%s still stale on node 2 %v after the database changed: %s", what, freshWithin, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTwoNodesServeFreshReads runs two API nodes and one worker over one
// PostgreSQL database and one Redis: what node 2 cached is replaced within
// a second of the job's write made through node 1's review, for the salon,
// the salon list and the city; a slug change through node 1 redirects on
// node 2 at once.
func TestTwoNodesServeFreshReads(t *testing.T) {
	t.Parallel()
	redisURL, prefix := testRedisPrefix(t)
	dbURL := storetest.IsolatedPostgresURL(t)
	const token = "nodes-admin-token"
	modes := rollout.Modes{review.Module: rollout.Async, geo.Module: rollout.Async}
	cfg := func(http, workers bool) app.Config {
		return app.Config{DataDir: t.TempDir(), DatabaseURL: dbURL, HTTP: http, Workers: workers, AdminToken: token,
			Redis: app.RedisConfig{URL: redisURL, Prefix: prefix, AllowUnsafe: true}, Modes: modes,
			SEO: app.SEOConfig{ScheduleTZ: "UTC"}}
	}
	hooks := func() *app.Hooks {
		return &app.Hooks{Routes: quickRoutes, Relay: outbox.RelayConfig{Interval: 50 * time.Millisecond}}
	}
	var nodes [2]node
	for i := range nodes {
		a := apptest.Start(t, cfg(true, false), hooks(), false)
		srv := httptest.NewServer(a.Handler())
		t.Cleanup(srv.Close)
		nodes[i] = node{app: a, srv: srv}
	}
	apptest.Start(t, cfg(false, true), hooks(), false) // the worker
	n1, n2 := nodes[0], nodes[1]
	st := n1.app.Store()
	ctx := context.Background()

	storetest.AddCity(t, st, 1, "tehran", "Tehran")
	storetest.AddSalon(t, st, 10, 1, "rose", "Rose", 0, 0, storetest.Base)
	if err := st.RefreshCityStats(ctx, storetest.Base); err != nil {
		t.Fatal(err)
	}

	// Node 2 reads and caches the three answers.
	const salonPath, listPath, cityPath = "/api/v1/salons/rose", "/api/v1/salons?city=tehran", "/api/v1/cities/tehran"
	for _, p := range []string{salonPath, listPath, cityPath} {
		if code, body, _ := n2.get(t, p); code != http.StatusOK {
			t.Fatalf("GET %s: %d %v", p, code, body)
		}
	}
	// They are cached: a change behind the cache's back stays unseen.
	storetest.Exec(t, st, "UPDATE salons SET name = 'Rose (unseen)' WHERE id = 10")
	storetest.Exec(t, st, "UPDATE cities SET name = 'Tehran (unseen)' WHERE id = 1")
	if _, body, _ := n2.get(t, salonPath); body["name"] != "Rose" {
		t.Fatalf("salon not cached on node 2: %v", body)
	}
	if _, body, _ := n2.get(t, listPath); firstItem(body)["name"] != "Rose" {
		t.Fatalf("salon list not cached on node 2: %v", body)
	}
	if _, body, _ := n2.get(t, cityPath); body["name"] != "Tehran" {
		t.Fatalf("city not cached on node 2: %v", body)
	}

	// A review through node 1; the worker recomputes and invalidates.
	if code, body, _ := n1.do(t, http.MethodPost, salonPath+"/reviews", token, `{"rating":4,"body":"two nodes"}`); code != http.StatusCreated {
		t.Fatalf("POST review: %d %v", code, body)
	}
	written := waitSQL(t, st, 1, "SELECT rating_count FROM salons WHERE id = ?", 10)
	waitFresh(t, "salon detail", written, func() (bool, string) {
		_, body, _ := n2.get(t, salonPath)
		return body["rating_count"] == 1.0 && body["rating_avg"] == 4.0 && body["rating_sum"] == 4.0, jsonString(body)
	})
	waitFresh(t, "salon list", written, func() (bool, string) {
		_, body, _ := n2.get(t, listPath)
		it := firstItem(body)
		return it["rating_count"] == 1.0 && it["rating_avg"] == 4.0, jsonString(body)
	})
	// Then refresh-city-stats (after the SalonChanged delay).
	written = waitSQL(t, st, 1, "SELECT review_count FROM cities WHERE id = ?", 1)
	waitFresh(t, "city page", written, func() (bool, string) {
		_, body, _ := n2.get(t, cityPath)
		return body["review_count"] == 1.0 && body["avg_rating"] == 4.0 && body["salon_count"] == 1.0, jsonString(body)
	})

	// A slug change through node 1: node 2 redirects the old slug on its
	// very next read (the cached 200 is gone when PATCH answers).
	if code, body, _ := n2.get(t, salonPath); code != http.StatusOK {
		t.Fatalf("GET %s before PATCH: %d %v", salonPath, code, body)
	}
	if code, body, _ := n1.do(t, http.MethodPatch, salonPath, token, `{"slug":"rose-garden"}`); code != http.StatusOK || body["slug"] != "rose-garden" {
		t.Fatalf("PATCH: %d %v", code, body)
	}
	code, body, loc := n2.get(t, salonPath)
	if code != http.StatusMovedPermanently || loc != "/api/v1/salons/rose-garden" {
		t.Fatalf("old slug on node 2 right after PATCH: %d %v Location %q, want 301 to /api/v1/salons/rose-garden", code, body, loc)
	}
	if code, body, _ := n2.get(t, "/api/v1/salons/rose-garden"); code != http.StatusOK || body["id"] != 10.0 {
		t.Fatalf("new slug on node 2: %d %v", code, body)
	}
}

// firstItem is the first element of a list answer's items (nil if none).
func firstItem(body map[string]any) map[string]any {
	items, _ := body["items"].([]any)
	if len(items) == 0 {
		return nil
	}
	m, _ := items[0].(map[string]any)
	return m
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestFailedAuthCountedAcrossNodes: failed authentications are counted in
// Redis, so the budget is one for all API nodes, not one per node: after
// 20 wrong tokens through node 1, the first wrong token through node 2 is
// refused (429), and so is the right one, unchecked.
func TestFailedAuthCountedAcrossNodes(t *testing.T) {
	t.Parallel()
	redisURL, prefix := testRedisPrefix(t)
	dbURL := storetest.IsolatedPostgresURL(t)
	const token = "nodes-admin-token"
	var nodes [2]node
	for i := range nodes {
		a := apptest.Start(t, app.Config{DataDir: t.TempDir(), DatabaseURL: dbURL, HTTP: true, AdminToken: token,
			Redis: app.RedisConfig{URL: redisURL, Prefix: prefix, AllowUnsafe: true}}, nil, false)
		srv := httptest.NewServer(a.Handler())
		t.Cleanup(srv.Close)
		nodes[i] = node{app: a, srv: srv}
	}
	for i := range 20 {
		if code, body, _ := nodes[0].do(t, http.MethodPost, "/api/v1/salons/rose/reviews", "wrong-"+token, `{"rating":4}`); code != http.StatusUnauthorized {
			t.Fatalf("wrong token %d through node 1: %d %v, want 401", i+1, code, body)
		}
	}
	if code, body, _ := nodes[1].do(t, http.MethodPost, "/api/v1/salons/rose/reviews", "wrong-"+token, `{"rating":4}`); code != http.StatusTooManyRequests {
		t.Fatalf("21st wrong token, through node 2: %d %v, want 429 (the count is shared)", code, body)
	}
	if code, _, _ := nodes[1].do(t, http.MethodPost, "/api/v1/salons/rose/reviews", token, `{"rating":4}`); code != http.StatusTooManyRequests {
		t.Fatalf("right token from the blocked address through node 2: %d, want 429", code)
	}
}
