package seo

import (
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/store"
	"github.com/sevra/atlas/internal/store/storetest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// testBase is the base URL of every test sitemap.
const testBase = "https://atlas.example"

// fixedNow is the clock of the deterministic tests.
var fixedNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// memSink is an in-memory FileCreator.
type memSink struct {
	mu    sync.Mutex
	files map[string]*bytes.Buffer
}

func newMemSink() *memSink { return &memSink{files: map[string]*bytes.Buffer{}} }

func (m *memSink) Create(name string) (io.WriteCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := &bytes.Buffer{}
	m.files[name] = b
	return nopCloser{b}, nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// gunzip returns the uncompressed content of a gzip stream.
func gunzip(t testing.TB, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return out
}

// golden compares got with testdata/<name>, rewriting it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file (run with -update if intended)\n--- got ---\n%s\n--- want ---\n%s", name, got, want)
	}
}

// fixedRand yields a fixed byte sequence, for deterministic generation ids.
type fixedRand struct{ b byte }

func (r *fixedRand) Read(p []byte) (int, error) {
	for i := range p {
		r.b++
		p[i] = r.b
	}
	return len(p), nil
}

// eachDialect runs fn in parallel subtests on a fresh fixture store of
// every dialect: SQLite always, PostgreSQL when ATLAS_TEST_DATABASE_URL is
// set (skipped, or failed under ATLAS_TEST_REQUIRE_SERVICES=1, otherwise).
func eachDialect(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Helper()
	for _, tc := range []struct {
		name string
		open storetest.Opener
	}{
		{"sqlite", storetest.OpenSQLite},
		{"postgres", func(t testing.TB) *store.Store { storetest.PostgresURL(t); return storetest.OpenPostgres(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := tc.open(t)
			seedFixture(t, s)
			fn(t, s)
		})
	}
}

// openStore opens a migrated SQLite store in the test's temp dir.
func openStore(t testing.TB) *store.Store { return storetest.OpenSQLite(t) }

// mustExec runs statements, failing the test on error.
func mustExec(t testing.TB, s *store.Store, q string, args ...any) {
	t.Helper()
	if _, err := s.DB().ExecContext(context.Background(), s.Rebind(q), args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// seedFixture fills s with a small deterministic data set that exercises
// escaping, images, drafts and scheduled posts.
func seedFixture(t testing.TB, s *store.Store) {
	t.Helper()
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	mustExec(t, s, `INSERT INTO cities (id, slug, name, name_fa, province, stats_updated_at) VALUES
		(1, 'tehran', 'Tehran', 'تهران', 'Tehran', ?), (2, 'shiraz', 'Shiraz', 'شیراز', 'Fars', NULL),
		(3, 'مشهد', 'Mashhad', 'مشهد', 'Razavi Khorasan', NULL)`, t0)
	salons := []struct {
		id   int64
		slug string
		city int64
	}{
		{1, "rose-beauty-tehran-1", 1},
		{2, "salon-&-spa<1>", 1},
		{3, "it's-\"quoted\"", 2},
		{4, "آرایشگاه-گل", 3},
		{5, "plain-shiraz-5", 2},
	}
	for i, x := range salons {
		mustExec(t, s, `INSERT INTO salons (id, slug, name, city_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
			x.id, x.slug, "Salon "+x.slug, x.city, t0, t0.Add(time.Duration(i)*time.Hour))
	}
	media := []struct {
		owner    int64
		typ      string
		status   string
		variants string
	}{
		{1, "salon", "ready", `{"thumb":"salons/1/a-thumb.webp","w1600":"salons/1/a-1600.webp","w800":"salons/1/a-800.webp"}`},
		{1, "salon", "ready", `{"large":"salons/1/b large.jpg","small":"salons/1/b-small.jpg"}`},
		{1, "salon", "processing", `{}`},
		{2, "salon", "failed", `{}`},
		{3, "user", "ready", `{"w800":"users/3/x.webp"}`},
		{5, "salon", "ready", `{"w400":"salons/5/a&b.webp"}`},
	}
	for i, m := range media {
		mustExec(t, s, `INSERT INTO media (id, owner_type, owner_id, status, original_key, variants, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, i+1, m.typ, m.owner, m.status, "orig", m.variants, t0, t0)
	}
	pub := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	later := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	mustExec(t, s, `INSERT INTO posts (id, slug, title, body, published_at, updated_at) VALUES
		(1, 'best-salons-tehran', 'Best', 'b', ?, ?),
		(2, 'draft-post', 'Draft', 'b', NULL, ?),
		(3, 'scheduled-post', 'Later', 'b', ?, ?),
		(4, 'edited-after', 'Edited', 'b', ?, ?)`,
		pub, t0, t0, later, t0, pub, pub.Add(48*time.Hour))
}

// newTestPublisher returns a Publisher in a temp data dir with a fixed
// clock and id source.
func newTestPublisher(t testing.TB, dataDir string) *Publisher {
	t.Helper()
	p, err := NewPublisher(dataDir, &PublisherOptions{Now: func() time.Time { return fixedNow }, Rand: &fixedRand{}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// generationFiles returns the names of the files in dir, sorted.
func generationFiles(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// genDirs lists the generation ids present under the publisher's dir.
func genDirs(t testing.TB, p *Publisher) []string {
	t.Helper()
	var out []string
	for _, n := range generationFiles(t, p.Dir()) {
		if id, ok := strings.CutPrefix(n, genPrefix); ok {
			out = append(out, id)
		}
	}
	return out
}
