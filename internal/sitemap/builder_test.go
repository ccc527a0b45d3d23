package sitemap

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/sitemap/sitemaptest"
	"github.com/sevra/atlas/internal/store"
)

// newFixtureBuilder returns a builder over the fixture DB with a fixed
// clock, writing to a temp data dir.
func newFixtureBuilder(t *testing.T, cfg Config) *Builder {
	t.Helper()
	if cfg.DB == nil {
		s := openStore(t)
		sitemaptest.Seed(t, s)
		cfg.DB = s
	}
	if cfg.Publisher == nil {
		cfg.Publisher = newTestPublisher(t, t.TempDir())
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = testBase
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return fixedNow }
	}
	b, err := NewBuilder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRebuildGolden rebuilds the fixture and compares the index and every
// (decompressed) child with the golden files, on SQLite and (with
// ATLAS_TEST_DATABASE_URL) PostgreSQL: both dialects give the same bytes.
func TestRebuildGolden(t *testing.T) {
	t.Parallel()
	sitemaptest.EachDialect(t, testRebuildGolden)
}

func testRebuildGolden(t *testing.T, s *store.Store) {
	b := newFixtureBuilder(t, Config{DB: s, PageSize: 2})
	var calls int
	var last [2]int64
	st, err := b.Rebuild(context.Background(), func(done, total int64) { calls++; last = [2]int64{done, total} })
	if err != nil {
		t.Fatal(err)
	}
	if st.Salons != 5 || st.Cities != 3 || st.Posts != 2 || st.Images != 3 || st.Files != 3 || st.Skipped != 0 {
		t.Errorf("stats = %+v, want 5 salons, 3 cities, 2 posts, 3 images, 3 files", st)
	}
	if calls == 0 || last != [2]int64{10, 10} {
		t.Errorf("progress: %d calls, last %v, want last [10 10]", calls, last)
	}
	live, err := b.cfg.Publisher.Live()
	if err != nil || live.ID != st.Generation {
		t.Fatalf("Live = %+v, %v; want generation %s", live, err, st.Generation)
	}
	for _, name := range generationFiles(t, live.Dir) {
		data, err := os.ReadFile(filepath.Join(live.Dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, ".gz") {
			data = gunzip(t, data)
			name = strings.TrimSuffix(name, ".gz")
		}
		golden(t, "rebuild/"+name, data)
	}
}

// TestRebuildSplits uses a small per-file limit: sections roll over and
// the index lists every child once.
func TestRebuildSplits(t *testing.T) {
	t.Parallel()
	b := newFixtureBuilder(t, Config{PageSize: 3, Limits: Limits{MaxURLs: 2}, NoImages: true})
	st, err := b.Rebuild(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 3+2+1 || st.Images != 0 {
		t.Fatalf("files = %d, images = %d; want 6 files (3 salons, 2 cities, 1 posts), no images", st.Files, st.Images)
	}
	live, _ := b.cfg.Publisher.Live()
	index, err := os.ReadFile(filepath.Join(live.Dir, IndexFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range generationFiles(t, live.Dir) {
		if name == IndexFile {
			continue
		}
		if n := strings.Count(string(index), "/sitemaps/"+name+"</loc>"); n != 1 {
			t.Errorf("index lists %s %d times, want once", name, n)
		}
		if strings.Contains(string(gunzip(t, mustRead(t, filepath.Join(live.Dir, name)))), "image:") {
			t.Errorf("%s mentions images with NoImages set", name)
		}
	}
}

func TestRebuildEmptyDB(t *testing.T) {
	t.Parallel()
	b := newFixtureBuilder(t, Config{DB: openStore(t)})
	st, err := b.Rebuild(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 3 || st.Salons+st.Cities+st.Posts != 0 {
		t.Errorf("stats = %+v, want 3 empty sections", st)
	}
}

func TestRebuildSingleton(t *testing.T) {
	t.Parallel()
	b := newFixtureBuilder(t, Config{PageSize: 1})
	entered, release := make(chan struct{}), make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		first := true
		_, err := b.Rebuild(context.Background(), func(int64, int64) {
			if first {
				first = false
				close(entered)
				<-release
			}
		})
		errc <- err
	}()
	<-entered
	if _, err := b.Rebuild(context.Background(), nil); !errors.Is(err, ErrRebuildRunning) {
		t.Errorf("concurrent Rebuild = %v, want ErrRebuildRunning", err)
	}
	close(release)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestNewBuilderValidates(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	p := newTestPublisher(t, t.TempDir())
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no db", Config{Publisher: p, BaseURL: testBase}},
		{"no publisher", Config{DB: s, BaseURL: testBase}},
		{"bad base", Config{DB: s, Publisher: p, BaseURL: "atlas.example"}},
	}
	for _, tc := range tests {
		if _, err := NewBuilder(tc.cfg); err == nil {
			t.Errorf("%s: want an error", tc.name)
		}
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
