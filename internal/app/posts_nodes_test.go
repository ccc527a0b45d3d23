package app_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sevra/atlas/internal/app"
	"github.com/sevra/atlas/internal/app/apptest"
	"github.com/sevra/atlas/internal/cache"
	"github.com/sevra/atlas/internal/httpapi"
	"github.com/sevra/atlas/internal/seo"
	"github.com/sevra/atlas/internal/store/storetest"
)

// TestPostPagesFreshAcrossNodes: an API node serves post pages from the
// shared Redis cache; the views flush, run by a separate worker process,
// makes the new view_count visible on the API node at once, and a rename
// written elsewhere (another process's cache invalidator on the same
// Redis) turns the node's cached 200 into a 301 on its next read.
func TestPostPagesFreshAcrossNodes(t *testing.T) {
	t.Parallel()
	redisURL, prefix := testRedisPrefix(t)
	dbURL := storetest.IsolatedPostgresURL(t)
	cfg := func(http, workers bool) app.Config {
		return app.Config{DataDir: t.TempDir(), DatabaseURL: dbURL, HTTP: http, Workers: workers,
			Redis: app.RedisConfig{URL: redisURL, Prefix: prefix, AllowUnsafe: true}, SEO: app.SEOConfig{ScheduleTZ: "UTC"},
			Views: app.ViewsConfig{FlushEvery: 200 * time.Millisecond}}
	}
	a := apptest.Start(t, cfg(true, false), nil, false)
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	n := node{app: a, srv: srv}
	st := a.Store()
	storetest.Exec(t, st, `INSERT INTO posts (id, slug, title, body, published_at, view_count, updated_at)
		VALUES (1, 'hello', 'Hello', 'b', ?, 0, ?)`, storetest.Base, storetest.Base)

	for range 6 {
		if code, body, _ := n.get(t, "/api/v1/posts/hello"); code != http.StatusOK || body["view_count"] != 0.0 {
			t.Fatalf("GET hello before any flush: %d %v", code, body)
		}
	}
	// The worker applies the 6 views; its flush invalidates the page.
	apptest.Start(t, cfg(false, true), nil, false)
	written := waitSQL(t, st, 6, "SELECT view_count FROM posts WHERE id = ?", 1)
	waitFresh(t, "post view_count", written, func() (bool, string) {
		_, body, _ := n.get(t, "/api/v1/posts/hello")
		c, _ := body["view_count"].(float64)
		return c >= 6, jsonString(body)
	})

	// A rename by another process sharing the Redis cache.
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	opts.ContextTimeoutEnabled = true
	rc := redis.NewClient(opts)
	t.Cleanup(func() { rc.Close() })
	other, err := cache.NewRedis(rc, cache.RedisConfig{Prefix: prefix + ":atlas:cache"})
	if err != nil {
		t.Fatal(err)
	}
	r := seo.NewRedirects(st)
	r.SetCache(httpapi.CacheInvalidator{Cache: other, Slugs: st})
	if err := r.RenamePost(context.Background(), 1, "hello-2", time.Now()); err != nil {
		t.Fatal(err)
	}
	if code, body, loc := n.get(t, "/api/v1/posts/hello"); code != http.StatusMovedPermanently || loc != "/api/v1/posts/hello-2" {
		t.Fatalf("old slug right after the rename: %d %v Location %q", code, body, loc)
	}
	if code, body, _ := n.get(t, "/api/v1/posts/hello-2"); code != http.StatusOK || body["slug"] != "hello-2" {
		t.Fatalf("new slug: %d %v", code, body)
	}
}
