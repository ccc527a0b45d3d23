package seed

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/sevra/atlas/internal/slug"
	"github.com/sevra/atlas/internal/store"
	"github.com/sevra/atlas/internal/store/storetest"
)

func TestRun(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		open storetest.Opener
	}{{"sqlite", storetest.OpenSQLite}, {"postgres", storetest.OpenPostgres}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := tc.open(t)
			ctx := context.Background()
			o := Options{Cities: 35, Salons: 300, Reviews: 4000, Posts: 20, Seed: 7}
			res, err := Run(ctx, s, o)
			if err != nil {
				t.Fatal(err)
			}
			want := Result{Cities: 35, Users: 80, Salons: 300, Reviews: 4000, Posts: 20, Redirects: 3}
			if res != want {
				t.Errorf("Run = %+v, want %+v", res, want)
			}
			checkConsistent(t, s)
			// A second run continues the ids and keeps slugs unique.
			if _, err := Run(ctx, s, Options{Cities: 2, Salons: 10, Reviews: 50, Posts: 1, Seed: 7}); err != nil {
				t.Fatalf("second Run: %v", err)
			}
			checkConsistent(t, s)
			if n := count(t, s, "SELECT count(*) FROM reviews"); n != 4050 {
				t.Errorf("reviews after two runs = %d, want 4050", n)
			}
			// Reviews may join existing cities.
			if _, err := Run(ctx, s, Options{Salons: 5, Reviews: 5, Seed: 8}); err != nil {
				t.Fatalf("Run into existing cities: %v", err)
			}
			checkConsistent(t, s)
		})
	}
}

// checkConsistent asserts that stored aggregates match the stored reviews.
func checkConsistent(t *testing.T, s *store.Store) {
	t.Helper()
	bad := count(t, s, `SELECT count(*) FROM salons s WHERE
		s.rating_sum   <> (SELECT coalesce(sum(rating), 0) FROM reviews r WHERE r.salon_id = s.id AND r.status = 'published') OR
		s.rating_count <> (SELECT count(*) FROM reviews r WHERE r.salon_id = s.id AND r.status = 'published') OR
		abs(s.rating_avg - CASE WHEN s.rating_count = 0 THEN 0 ELSE 1.0 * s.rating_sum / s.rating_count END) > 1e-9 OR
		abs(s.bayesian_score - (3.5 * 10 + s.rating_sum) / (10.0 + s.rating_count)) > 1e-9`) // the documented prior, written out
	if bad != 0 {
		t.Errorf("%d salons have aggregates that disagree with their reviews", bad)
	}
	bad = count(t, s, `SELECT count(*) FROM cities c WHERE
		c.salon_count <> (SELECT count(*) FROM salons s WHERE s.city_id = c.id) OR
		c.review_count <> (SELECT coalesce(sum(rating_count), 0) FROM salons s WHERE s.city_id = c.id)`)
	if bad != 0 {
		t.Errorf("%d cities have stats that disagree with their salons", bad)
	}
	if n := count(t, s, "SELECT count(*) FROM slug_history h LEFT JOIN salons s ON s.id = h.entity_id WHERE s.id IS NULL"); n != 0 {
		t.Errorf("%d redirects point nowhere", n)
	}
}

func count(t *testing.T, s *store.Store, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := s.DB().QueryRowContext(context.Background(), s.Rebind(q), args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// fingerprint summarises the seeded rows.
func fingerprint(t *testing.T, s *store.Store) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		"SELECT count(*) FROM salons", "SELECT sum(rating_sum * id) FROM salons",
		"SELECT sum(rating * id) FROM reviews", "SELECT sum(length(name)) FROM salons",
		"SELECT sum(user_id) FROM reviews", "SELECT count(*) FROM posts WHERE published_at IS NULL",
	} {
		fmt.Fprintf(&b, "%d;", count(t, s, q))
	}
	return b.String()
}

func TestRunDeterministic(t *testing.T) {
	t.Parallel()
	o := Options{Cities: 5, Salons: 100, Reviews: 1000, Posts: 10, Seed: 42}
	seedInto := func(o Options) string {
		s := storetest.OpenSQLite(t)
		if _, err := Run(context.Background(), s, o); err != nil {
			t.Fatal(err)
		}
		return fingerprint(t, s)
	}
	a, b := seedInto(o), seedInto(o)
	if a != b {
		t.Errorf("same seed, different data: %s vs %s", a, b)
	}
	o.Seed = 43
	if c := seedInto(o); c == a {
		t.Errorf("seeds 42 and 43 gave the same data: %s", c)
	}
}

func TestRunInvalid(t *testing.T) {
	t.Parallel()
	s := storetest.OpenSQLite(t)
	for _, o := range []Options{
		{Salons: -1},
		{Reviews: 10},
		{Salons: 10}, // no cities yet
	} {
		if _, err := Run(context.Background(), s, o); !errors.Is(err, ErrInvalid) {
			t.Errorf("Run(%+v) error = %v, want ErrInvalid", o, err)
		}
	}
}

func TestReviewCounts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ n, total int }{{1, 0}, {1, 5}, {10, 3}, {1000, 100000}, {100000, 1000000}} {
		counts := reviewCounts(rand.New(rand.NewPCG(1, 2)), tc.n, tc.total)
		sum := 0
		for _, c := range counts {
			sum += c
		}
		if len(counts) != tc.n || sum != tc.total {
			t.Errorf("reviewCounts(%d, %d): %d salons, %d reviews", tc.n, tc.total, len(counts), sum)
		}
		if tc.total >= 100*tc.n {
			sorted := slices.Sorted(slices.Values(counts))
			median, top := sorted[len(sorted)/2], sorted[len(sorted)-1]
			if top < 10*median {
				t.Errorf("reviewCounts(%d, %d): top %d, median %d; want a skewed spread", tc.n, tc.total, top, median)
			}
		}
	}
}

func TestSlugify(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Golden Rose Beauty Salon": "golden-rose-beauty-salon",
		"  Bandar  Abbas ":         "bandar-abbas",
		"سالن زیبایی رز":           "",
		"Nail Bar 24/7":            "nail-bar-24-7",
	} {
		if got := slugify(in); got != want {
			t.Errorf("slugify(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzSlugify(f *testing.F) {
	f.Add("Golden Rose")
	f.Add("--a--b--")
	f.Fuzz(func(t *testing.T, s string) {
		got := slugify(s)
		if strings.HasPrefix(got, "-") || strings.HasSuffix(got, "-") || strings.Contains(got, "--") {
			t.Fatalf("slugify(%q) = %q has stray dashes", s, got)
		}
		for _, r := range got {
			if !(r == '-' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
				t.Fatalf("slugify(%q) = %q has %q", s, got, r)
			}
		}
	})
}

// BenchmarkSeed measures seeding 2,000 salons and 20,000 reviews into a
// fresh SQLite database per iteration; see docs/BENCHMARKS.md.
func BenchmarkSeed(b *testing.B) {
	o := Options{Cities: 20, Salons: 2000, Reviews: 20000, Posts: 10, Seed: 1}
	for b.Loop() {
		b.StopTimer()
		s := storetest.OpenSQLite(b)
		b.StartTimer()
		if _, err := Run(context.Background(), s, o); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(o.Reviews)*float64(b.N)/b.Elapsed().Seconds(), "reviews/s")
}

func TestInserterRefusesBadSlugs(t *testing.T) {
	t.Parallel()
	in := &inserter{table: "cities", cols: []string{"id", "slug", "name"}, perStmt: 10}
	for _, s := range []string{"a\x00b", "Tehran", "a<b"} {
		if err := in.add(context.Background(), int64(1), s, "n"); !errors.Is(err, slug.ErrInvalid) {
			t.Errorf("add slug %q: %v, want slug.ErrInvalid", s, err)
		}
	}
	if err := in.add(context.Background(), int64(1), "tehran", "Tehran"); err != nil {
		t.Errorf("add a valid slug: %v", err)
	}
}
