package app_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/sevra/atlas/internal/app"
	"github.com/sevra/atlas/internal/app/apptest"
	"github.com/sevra/atlas/internal/media/storage"
	"github.com/sevra/atlas/internal/store"
	"github.com/sevra/atlas/internal/store/storetest"
)

// TestSitemapServedByEveryNode runs two Apps with their own data dirs
// sharing one database and one storage directory: a rebuild on either is
// what the other serves, for the index, its children and robots.txt.
func TestSitemapServedByEveryNode(t *testing.T) {
	t.Parallel()
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			st, url, sq := sharedDB(t, db)
			nodes := map[*httptest.Server]*app.App{}
			shared := t.TempDir()
			start := func(demo bool) *httptest.Server {
				a := apptest.Start(t, app.Config{DataDir: t.TempDir(), DatabaseURL: url, Demo: demo, HTTP: true,
					Storage: storage.Spec{Dir: shared}, SEO: app.SEOConfig{BaseURL: "https://atlas.example"}},
					&app.Hooks{Store: st}, true)
				srv := httptest.NewServer(a.Handler())
				t.Cleanup(srv.Close)
				nodes[srv] = a
				return srv
			}
			// The demo seed builds the first sitemap on node 1.
			n1 := start(true)
			n2 := start(false)
			first := liveGeneration(t, sq)
			checkServes(t, n2, shared, first)
			checkServes(t, n1, shared, first)

			stats, err := nodes[n2].SEO().RebuildNow(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if stats.Generation == first || liveGeneration(t, sq) != stats.Generation {
				t.Fatalf("rebuild on node 2 published %s; the database names %s (first %s)", stats.Generation, liveGeneration(t, sq), first)
			}
			checkServes(t, n1, shared, stats.Generation)
			checkServes(t, n2, shared, stats.Generation)
		})
	}
}

// sharedDB returns one database for several Apps: an open SQLite store to
// pass as Hooks.Store, or an isolated PostgreSQL URL for
// Config.DatabaseURL (skipped without ATLAS_TEST_DATABASE_URL); and a
// store for the test's own SQL.
func sharedDB(t *testing.T, db string) (hook *store.Store, url string, sq *store.Store) {
	t.Helper()
	if db == "sqlite" {
		st := storetest.OpenSQLite(t)
		return st, "", st
	}
	url = storetest.IsolatedPostgresURL(t)
	sq, err := store.Open(context.Background(), url, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sq.Close() })
	if _, err := sq.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return nil, url, sq
}

// liveGeneration reads the live pointer row with SQL.
func liveGeneration(t *testing.T, sq *store.Store) string {
	t.Helper()
	var gen string
	if err := sq.DB().QueryRow(`SELECT generation FROM sitemap_live WHERE id = 1`).Scan(&gen); err != nil {
		t.Fatalf("read sitemap_live: %v", err)
	}
	return gen
}

// checkServes fetches /sitemap.xml, every child and /robots.txt from srv
// and checks they are generation gen's files in the shared storage.
func checkServes(t *testing.T, srv *httptest.Server, shared, gen string) {
	t.Helper()
	read := func(path string) string {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("GET %s = %d %s", path, res.StatusCode, b)
		}
		return string(b)
	}
	file := func(name string) string {
		b, err := os.ReadFile(filepath.Join(shared, "sitemaps", gen, name))
		if err != nil {
			t.Fatalf("generation %s in the shared storage: %v", gen, err)
		}
		return string(b)
	}
	idx := read("/sitemap.xml")
	if idx != file("sitemap.xml") {
		t.Fatalf("GET /sitemap.xml is not generation %s's index:\n%.300s", gen, idx)
	}
	locs := regexp.MustCompile(`<loc>https://atlas\.example/sitemaps/([^<]+)</loc>`).FindAllStringSubmatch(idx, -1)
	if len(locs) == 0 {
		t.Fatal("the index lists no children")
	}
	for _, m := range locs {
		if got := read("/sitemaps/" + m[1]); got != file(m[1]) {
			t.Errorf("GET /sitemaps/%s differs from the stored file", m[1])
		}
	}
	if r := read("/robots.txt"); !regexp.MustCompile(`(?m)^Sitemap: https://atlas\.example/sitemap\.xml$`).MatchString(r) {
		t.Errorf("robots.txt does not point at the index:\n%s", r)
	}
}
