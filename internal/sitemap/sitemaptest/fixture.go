package sitemaptest

import (
	"context"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/store"
	"github.com/sevra/atlas/internal/store/storetest"
)

// EachDialect runs fn in parallel subtests on a fresh store of every
// dialect, seeded with Seed: SQLite always, PostgreSQL when
// ATLAS_TEST_DATABASE_URL is set (skipped, or failed under
// ATLAS_TEST_REQUIRE_SERVICES=1, otherwise).
func EachDialect(t *testing.T, fn func(t *testing.T, s *store.Store)) {
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
			Seed(t, s)
			fn(t, s)
		})
	}
}

// Seed fills s with a small deterministic data set that exercises
// escaping, images, drafts and scheduled posts: 3 cities, 5 salons (ids
// 1–5), media in every status and 4 posts, of which 2 are listed at any
// time between 2025 and 2030 (1 best-salons-tehran and 4 edited-after;
// 2 is a draft, 3 is scheduled for 2030). A sitemap of it lists 10 URLs.
func Seed(t testing.TB, s *store.Store) {
	t.Helper()
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	exec(t, s, `INSERT INTO cities (id, slug, name, name_fa, province, stats_updated_at) VALUES
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
		exec(t, s, `INSERT INTO salons (id, slug, name, city_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
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
		exec(t, s, `INSERT INTO media (id, owner_type, owner_id, status, original_key, variants, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, i+1, m.typ, m.owner, m.status, "orig", m.variants, t0, t0)
	}
	pub := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	later := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	exec(t, s, `INSERT INTO posts (id, slug, title, body, published_at, updated_at) VALUES
		(1, 'best-salons-tehran', 'Best', 'b', ?, ?),
		(2, 'draft-post', 'Draft', 'b', NULL, ?),
		(3, 'scheduled-post', 'Later', 'b', ?, ?),
		(4, 'edited-after', 'Edited', 'b', ?, ?)`,
		pub, t0, t0, later, t0, pub, pub.Add(48*time.Hour))
}

// exec runs a statement written with '?' placeholders, failing the test
// on error.
func exec(t testing.TB, s *store.Store, q string, args ...any) {
	t.Helper()
	if _, err := s.DB().ExecContext(context.Background(), s.Rebind(q), args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}
