package httpapi

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/cache"
	"github.com/sevra/atlas/internal/seo"
	"github.com/sevra/atlas/internal/store"
	"github.com/sevra/atlas/internal/store/storetest"
)

// recordedViews is a ViewRecorder that keeps the post ids and methods.
type recordedViews struct {
	mu    sync.Mutex
	views []string
}

func (v *recordedViews) Record(_ context.Context, id int64, method, _ string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.views = append(v.views, method+" "+strings.Repeat("#", int(id)))
	return nil
}

func (v *recordedViews) got() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return strings.Join(v.views, ",")
}

// countingPosts counts PostBySlug calls on a real store.
type countingPosts struct {
	*store.Store
	reads atomic.Int32
}

func (c *countingPosts) PostBySlug(ctx context.Context, now time.Time, slug string) (store.Post, error) {
	c.reads.Add(1)
	return c.Store.PostBySlug(ctx, now, slug)
}

// TestPostPagesCachedAndInvalidated: post pages are served from the
// read cache (no database read per view, every view still counted), a
// rename through seo.Redirects invalidates every slug of the post at
// once, CacheInvalidator.InvalidatePosts (the views flush) shows the new
// view_count, and a scheduled post is not cached as missing.
func TestPostPagesCachedAndInvalidated(t *testing.T) {
	t.Parallel()
	st := storetest.OpenSQLite(t)
	base := storetest.Base
	later := base.Add(time.Hour)
	storetest.Exec(t, st, `INSERT INTO posts (id, slug, title, body, published_at, view_count, updated_at) VALUES
		(1, 'hello', 'Hello', 'b1', ?, 5, ?), (2, 'soon', 'Soon', 'b2', ?, 0, ?)`, base, base, later, base)
	var clock atomic.Int64
	clock.Store(base.UnixNano())
	mc, err := cache.NewMemory(cache.MemoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	inv := CacheInvalidator{Cache: mc, Slugs: st}
	hub := &seo.CacheHub{}
	hub.Attach(inv)
	posts := seo.NewRedirects(st)
	posts.SetCache(hub)
	cp := &countingPosts{Store: st}
	rec := &recordedViews{}
	h, err := NewHandler(Deps{Store: cp, Views: rec, Cache: mc, Now: func() time.Time { return time.Unix(0, clock.Load()) },
		SEO: &SEODeps{Caches: hub, Posts: posts}})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string, string) {
		t.Helper()
		r := do(h, "GET", path)
		return r.Code, r.Body.String(), r.Header().Get("Location")
	}

	for range 3 {
		if code, body, _ := get("/api/v1/posts/hello"); code != 200 || !strings.Contains(body, `"title":"Hello"`) ||
			!strings.Contains(body, `"view_count":5`) {
			t.Fatalf("GET hello = %d %s", code, body)
		}
	}
	if n := cp.reads.Load(); n != 1 {
		t.Errorf("PostBySlug calls for 3 reads = %d, want 1 (cached)", n)
	}
	if r := do(h, "HEAD", "/api/v1/posts/hello"); r.Code != 200 {
		t.Errorf("HEAD hello = %d", r.Code)
	}
	if got, want := rec.got(), "GET #,GET #,GET #,HEAD #"; got != want {
		t.Errorf("views recorded %q, want %q (the recorder decides about HEAD)", got, want)
	}

	// Changes behind the cache's back stay unseen until an invalidation.
	storetest.Exec(t, st, "UPDATE posts SET title = 'Hello again', view_count = 9 WHERE id = 1")
	if _, body, _ := get("/api/v1/posts/hello"); !strings.Contains(body, `"view_count":5`) {
		t.Fatalf("not cached: %s", body)
	}
	if err := hub.Invalidate(context.Background(), seo.EntityPost, 1); err != nil {
		t.Fatal(err)
	}
	if _, body, _ := get("/api/v1/posts/hello"); !strings.Contains(body, `"view_count":9`) || !strings.Contains(body, `"title":"Hello again"`) {
		t.Fatalf("after Invalidate(post 1): %s", body)
	}

	// A rename: the old slug redirects at once, the new one answers.
	if err := posts.RenamePost(context.Background(), 1, "hello-2", base); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if code, _, loc := get("/api/v1/posts/hello?x=1"); code != 301 || loc != "/api/v1/posts/hello-2?x=1" {
			t.Fatalf("old slug after rename = %d %q", code, loc)
		}
	}
	if code, body, _ := get("/api/v1/posts/hello-2"); code != 200 || !strings.Contains(body, `"slug":"hello-2"`) {
		t.Fatalf("new slug = %d %s", code, body)
	}
	// And back: the cached 301 of "hello" and 200 of "hello-2" both go.
	if err := posts.RenamePost(context.Background(), 1, "hello", base); err != nil {
		t.Fatal(err)
	}
	if code, body, _ := get("/api/v1/posts/hello"); code != 200 || !strings.Contains(body, `"slug":"hello"`) {
		t.Fatalf("renamed back = %d %s", code, body)
	}
	if code, _, loc := get("/api/v1/posts/hello-2"); code != 301 || loc != "/api/v1/posts/hello" {
		t.Fatalf("second slug after renaming back = %d %q", code, loc)
	}

	// The views flush's batch invalidation.
	storetest.Exec(t, st, "UPDATE posts SET view_count = 40 WHERE id = 1")
	if err := inv.InvalidatePosts(context.Background(), 1, 2, 77); err != nil {
		t.Fatal(err)
	}
	if _, body, _ := get("/api/v1/posts/hello"); !strings.Contains(body, `"view_count":40`) {
		t.Fatalf("after InvalidatePosts: %s", body)
	}

	// A scheduled post is missing until it is published, then answers.
	if code, _, _ := get("/api/v1/posts/soon"); code != 404 {
		t.Fatalf("scheduled post = %d, want 404", code)
	}
	clock.Store(later.UnixNano())
	if code, body, _ := get("/api/v1/posts/soon"); code != 200 || !strings.Contains(body, `"title":"Soon"`) {
		t.Fatalf("published post = %d %s", code, body)
	}
	if got := rec.got(); !strings.HasSuffix(got, ",GET ##") || strings.Count(got, ",") != 9 {
		t.Errorf("views recorded %q: want one per 200 answer (10), none for 301 or 404", got)
	}
}
