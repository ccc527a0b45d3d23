package views

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sevra/atlas/internal/redistest"

	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/store"
	"github.com/sevra/atlas/internal/store/storetest"
)

// stores are the databases every flush test runs on.
var stores = []struct {
	name string
	open storetest.Opener
}{
	{"sqlite", storetest.OpenSQLite},
	{"postgres", storetest.OpenPostgres},
}

// buffers are the buffers every flush test runs with.
var buffers = []struct {
	name string
	open func(t testing.TB) Buffer
}{
	{"memory", func(testing.TB) Buffer { return NewMemoryBuffer() }},
	{"redis", func(t testing.TB) Buffer {
		// a generous timeout: these tests count views exactly, and a view
		// over the timeout is dropped by design (tested on its own)
		b := NewRedisBuffer(testRedis(t), RedisConfig{Prefix: testPrefix(t), Timeout: 5 * time.Second})
		t.Cleanup(func() { b.Close(context.Background()) })
		return b
	}},
}

func testRedis(t testing.TB) *redis.Client { return redistest.Client(t) }

func testPrefix(t testing.TB) string { return redistest.Prefix(t, testRedis(t), "atlas-test-views") }

// addPosts inserts published posts with the given ids and no views.
func addPosts(t testing.TB, st *store.Store, ids ...int64) {
	t.Helper()
	for _, id := range ids {
		storetest.Exec(t, st, `INSERT INTO posts (id, slug, title, body, published_at, view_count, updated_at)
			VALUES (?, ?, ?, ?, ?, 0, ?)`, id, fmt.Sprintf("post-%d", id), "Post", "Body", storetest.Base, storetest.Base)
	}
}

// viewCounts reads every post's view_count.
func viewCounts(t testing.TB, st *store.Store) map[int64]int64 {
	t.Helper()
	rows, err := st.DB().QueryContext(context.Background(), "SELECT id, view_count FROM posts ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]int64{}
	for rows.Next() {
		var id, n int64
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		out[id] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// queryInt runs a '?' query that returns one integer.
func queryInt(t testing.TB, st *store.Store, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := st.DB().QueryRowContext(context.Background(), st.Rebind(q), args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// newService returns a service on st and buf in mode, failing the test on
// error.
func newService(t testing.TB, st *store.Store, buf Buffer, mode rollout.Mode, shadow rollout.Comparer) *Service {
	t.Helper()
	s, err := New(Config{Store: st, Buffer: buf, Mode: mode, Shadow: shadow})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// browser is a user agent that counts.
const browser = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"

// record counts one view of post id as a browser, failing the test on
// error.
func record(t testing.TB, s *Service, id int64) {
	t.Helper()
	if err := s.Record(context.Background(), id, "GET", browser); err != nil {
		t.Fatalf("Record(%d): %v", id, err)
	}
}

// drained checks that buf holds nothing: no sealed batch, nothing to seal.
func drained(t testing.TB, buf Buffer, hash Hash) {
	t.Helper()
	ctx := context.Background()
	if ids, err := buf.Batches(ctx, hash); err != nil || len(ids) != 0 {
		t.Errorf("Batches(%s) = %v, %v; want none", hash, ids, err)
	}
	if ok, err := buf.Seal(ctx, hash, "probe-"+time.Now().Format("150405.000000000")); err != nil || ok {
		t.Errorf("Seal(%s) = %v, %v; want an empty buffer", hash, ok, err)
	}
}
