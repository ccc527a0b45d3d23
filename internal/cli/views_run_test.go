package cli

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/store"
	"github.com/sevra/atlas/internal/store/storetest"
)

// TestServeAndWorkerCountViews: `atlas serve` counts post views into the
// Redis buffer and `atlas worker` (another data dir, the same PostgreSQL
// and Redis) applies them with flush-post-views: the database count equals
// the views sent by people, not bots or HEAD requests.
func TestServeAndWorkerCountViews(t *testing.T) {
	t.Parallel()
	serveEnv := otpEnv(t)
	withServices(t, serveEnv)
	serveEnv["ATLAS_VIEWS_FLUSH_EVERY"] = "300ms"
	workerEnv := maps.Clone(serveEnv)
	workerEnv["ATLAS_DATA_DIR"] = storetest.TempDataDir(t)
	delete(workerEnv, "ATLAS_ADDR")

	base, cancel, done := startServer(t, "serve", serveEnv)
	defer stopCommand(t, "serve", cancel, done)
	st, err := store.Open(context.Background(), serveEnv["ATLAS_DATABASE_URL"], serveEnv["ATLAS_DATA_DIR"])
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	storetest.Exec(t, st, `INSERT INTO posts (id, slug, title, body, published_at, updated_at) VALUES (1, 'hello', 'Hello', 'b', ?, ?)`,
		storetest.Base, storetest.Base)

	get := func(method, ua string) {
		req, _ := http.NewRequest(method, base+"/api/v1/posts/hello", nil)
		req.Header.Set("User-Agent", ua)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s /api/v1/posts/hello = %d", method, resp.StatusCode)
		}
	}
	const people = 40
	for i := range people {
		get("GET", fmt.Sprintf("Mozilla/5.0 (reader %d)", i))
	}
	for range 5 {
		get("GET", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
		get("HEAD", "Mozilla/5.0")
	}
	// Nothing applies the views until a worker runs.
	time.Sleep(600 * time.Millisecond)
	if n := viewCount(t, st); n != 0 {
		t.Fatalf("view_count %d before any worker ran, want 0", n)
	}
	_, _, wcancel, wdone := startCommand(t, "worker", workerEnv)
	defer stopCommand(t, "worker", wcancel, wdone)
	deadline := time.Now().Add(30 * time.Second)
	for viewCount(t, st) != people {
		if time.Now().After(deadline) {
			t.Fatalf("view_count %d after 30 s, want %d", viewCount(t, st), people)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // later flushes must not add anything
	if n := viewCount(t, st); n != people {
		t.Fatalf("view_count %d after more flushes, want %d", n, people)
	}
}

func viewCount(t *testing.T, st *store.Store) int {
	t.Helper()
	var n int
	if err := st.DB().QueryRow("SELECT view_count FROM posts WHERE id = 1").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
