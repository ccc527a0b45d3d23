package sitemap

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/sitemap/sitemaptest"
)

// liveChildren fetches the index through h and returns the child paths it
// lists, failing unless every child answers 200.
func liveChildren(t *testing.T, h http.Handler) []string {
	t.Helper()
	r := get(t, h, "GET", "/sitemap.xml")
	if r.StatusCode != 200 {
		t.Fatalf("GET /sitemap.xml = %d", r.StatusCode)
	}
	var paths []string
	for _, m := range regexp.MustCompile(`<loc>https://atlas\.example(/sitemaps/[^<]+)</loc>`).FindAllStringSubmatch(body(t, r), -1) {
		paths = append(paths, m[1])
		if c := get(t, h, "GET", m[1]); c.StatusCode != 200 {
			t.Errorf("GET %s = %d, want 200", m[1], c.StatusCode)
		}
	}
	if len(paths) == 0 {
		t.Fatal("index lists no children")
	}
	return paths
}

// TestCrashMidBuildKeepsPreviousLive: a rebuild that dies after writing
// some children (cancelled, or the process gone) leaves the previous
// generation live and complete; the leftover directory is collected by a
// later successful rebuild.
func TestCrashMidBuildKeepsPreviousLive(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	sitemaptest.Seed(t, s)
	dataDir := t.TempDir()
	pub := newTestPublisher(t, dataDir)
	cfg := Config{DB: s, Publisher: pub, PageSize: 1, Limits: Limits{MaxURLs: 1}}
	b := newFixtureBuilder(t, cfg)
	first, err := b.Rebuild(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	h := newTestHandler(t, pub)
	before := liveChildren(t, h)

	tests := []struct {
		name     string
		cancelAt func(done, total int64) bool
	}{
		{"after some children", func(done, _ int64) bool { return done == 3 }},
		{"after every child, before the switch", func(done, total int64) bool { return done == total }},
	}
	for _, tc := range tests {
		ctx, cancel := context.WithCancel(context.Background())
		var wrote bool
		_, err := b.Rebuild(ctx, func(done, total int64) {
			if tc.cancelAt(done, total) {
				wrote = len(genDirs(t, pub)) == 2 // the new generation exists on disk
				cancel()
			}
		})
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("%s: Rebuild = %v, want context.Canceled", tc.name, err)
		}
		if !wrote {
			t.Errorf("%s: the cancelled build had no directory on disk when cancelled", tc.name)
		}
		if live, err := pub.Live(); err != nil || live.ID != first.Generation {
			t.Fatalf("%s: live = %+v, %v; want the first generation %s", tc.name, live, err, first.Generation)
		}
		if got := liveChildren(t, h); !slices.Equal(got, before) {
			t.Errorf("%s: live children changed:\n%v\nwant\n%v", tc.name, got, before)
		}
		if got := genDirs(t, pub); !slices.Equal(got, []string{first.Generation}) {
			t.Errorf("%s: generations on disk = %v, want only the live one (the failed build aborted)", tc.name, got)
		}
	}

	// A hard crash: a process wrote children and died before Commit and
	// before Abort. A new process (a new Publisher) takes over.
	crashed := newTestPublisher(t, dataDir)
	crashed.rand = &fixedRand{b: 100}
	gen, err := crashed.Begin()
	if err != nil {
		t.Fatal(err)
	}
	w := NewURLSetWriter(gen, childName("salons", gen.ID()), Limits{}, false)
	if err := w.Add(URL{Loc: testBase + "/salons/half-built"}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(pub.Dir(), pointerTmp), []byte("garbage from a crashed switch"), 0o644)

	restarted := newTestPublisher(t, dataDir)
	restarted.rand = &fixedRand{b: 200}
	h = newTestHandler(t, restarted)
	if got := liveChildren(t, h); !slices.Equal(got, before) {
		t.Errorf("after the crash, live children = %v, want %v", got, before)
	}
	if r := get(t, h, "GET", "/sitemaps/salons-1-"+gen.ID()+".xml.gz"); r.StatusCode != 404 {
		t.Errorf("a child of the unpublished generation answered %d, want 404", r.StatusCode)
	}
	cfg.Publisher = restarted
	b2 := newFixtureBuilder(t, cfg)
	second, err := b2.Rebuild(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := genDirs(t, restarted), sorted(first.Generation, second.Generation); !slices.Equal(got, want) {
		t.Errorf("after the next rebuild, generations = %v, want live and previous %v (crash leftover collected)", got, want)
	}
	third, err := b2.Rebuild(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := genDirs(t, restarted), sorted(second.Generation, third.Generation); !slices.Equal(got, want) {
		t.Errorf("after a third rebuild, generations = %v, want %v", got, want)
	}
	if live, _ := restarted.Live(); live.Previous != second.Generation {
		t.Errorf("previous = %q, want %q", live.Previous, second.Generation)
	}
}

func sorted(s ...string) []string { slices.Sort(s); return s }

// TestReadersNeverMixGenerations rebuilds repeatedly while readers fetch
// the index and its children: every child an index lists belongs to that
// index's generation, and every fetch of a listed child either succeeds
// or (after a later switch removed it) answers 404, never another
// generation's content.
func TestReadersNeverMixGenerations(t *testing.T) {
	t.Parallel()
	b := newFixtureBuilder(t, Config{Limits: Limits{MaxURLs: 2}})
	if _, err := b.Rebuild(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	readDuringRebuilds(t, newTestHandler(t, b.cfg.Publisher), b)
}

// readDuringRebuilds rebuilds with b four times while a reader fetches
// the index and its children through h, and checks what
// TestReadersNeverMixGenerations says.
func readDuringRebuilds(t *testing.T, h http.Handler, b *Builder) {
	t.Helper()
	genOf := regexp.MustCompile(`-(\d{8}T\d{6}Z-[0-9a-f]{8})\.xml\.gz$`)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads int
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			r := get(t, h, "GET", "/sitemap.xml")
			idx := body(t, r)
			gens := map[string]bool{}
			for _, m := range regexp.MustCompile(`<loc>https://atlas\.example(/sitemaps/[^<]+)</loc>`).FindAllStringSubmatch(idx, -1) {
				gens[genOf.FindStringSubmatch(m[1])[1]] = true
				c := get(t, h, "GET", m[1])
				if c.StatusCode != 200 && c.StatusCode != 404 {
					t.Errorf("GET %s = %d", m[1], c.StatusCode)
				}
			}
			if len(gens) != 1 {
				t.Errorf("one index lists children of %d generations: %v", len(gens), gens)
			}
			reads++
		}
	}()
	for range 4 {
		if _, err := b.Rebuild(context.Background(), nil); err != nil {
			t.Error(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if reads == 0 {
		t.Error("no reads happened during the rebuilds")
	}
}

func TestLivePointer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
		wantErr bool
		want    Live
	}{
		{"live only", "20250601T120000Z-01020304\n", false, Live{ID: "20250601T120000Z-01020304"}},
		{"live and previous", "20250601T120000Z-01020304\n20250501T120000Z-0a0b0c0d\n", false,
			Live{ID: "20250601T120000Z-01020304", Previous: "20250501T120000Z-0a0b0c0d"}},
		{"traversal", "../../etc\n", true, Live{}},
		{"empty", "", true, Live{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newTestPublisher(t, t.TempDir())
			os.WriteFile(filepath.Join(p.Dir(), pointerFile), []byte(tc.content), 0o644)
			got, err := p.Live()
			if (err != nil) != tc.wantErr {
				t.Fatalf("Live = %+v, %v; want error %v", got, err, tc.wantErr)
			}
			if err == nil && (got.ID != tc.want.ID || got.Previous != tc.want.Previous ||
				got.Dir != filepath.Join(p.Dir(), genPrefix+tc.want.ID)) {
				t.Errorf("Live = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestGenerationCreateRejectsBadNames(t *testing.T) {
	t.Parallel()
	p := newTestPublisher(t, t.TempDir())
	g, err := p.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer g.Abort()
	for _, name := range []string{"../x.xml.gz", "a/b.xml.gz", ".hidden.xml", "x.txt", ""} {
		if _, err := g.Create(name); err == nil {
			t.Errorf("Create(%q): want an error", name)
		}
	}
	if err := g.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(g.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Abort left %s behind", g.dir)
	}
	if _, err := p.Live(); !errors.Is(err, ErrNoSitemap) {
		t.Errorf("Live after an aborted first build = %v, want ErrNoSitemap", err)
	}
}
