package seo

import (
	"testing"
	"time"

	"github.com/sevra/atlas/internal/sitemap"
	"github.com/sevra/atlas/internal/sitemap/sitemaptest"
	"github.com/sevra/atlas/internal/store/storetest"
)

// fixedNow is the clock of the deterministic tests.
var fixedNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// eachDialect runs fn on a fresh fixture store of every dialect.
var eachDialect = sitemaptest.EachDialect

// newFixtureBuilder returns a sitemap builder over a SQLite copy of the
// fixture with a fixed clock, writing to a temp data dir.
func newFixtureBuilder(t *testing.T) *sitemap.Builder {
	t.Helper()
	s := storetest.OpenSQLite(t)
	sitemaptest.Seed(t, s)
	pub, err := sitemap.NewPublisher(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := sitemap.NewBuilder(sitemap.Config{DB: s, Publisher: pub, BaseURL: "https://atlas.example",
		Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
