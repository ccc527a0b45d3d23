package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/store"
)

// Base is the fixed clock of the suite's fixtures.
var Base = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// Exec runs one '?'-placeholder statement against s or fails the test.
func Exec(t testing.TB, s *store.Store, q string, args ...any) {
	t.Helper()
	if _, err := s.DB().ExecContext(context.Background(), s.Rebind(q), args...); err != nil {
		t.Fatalf("exec %q: %v", q, err)
	}
}

// AddCity inserts a city and returns its id.
func AddCity(t testing.TB, s *store.Store, id int64, slug, name string) int64 {
	t.Helper()
	Exec(t, s, "INSERT INTO cities (id, slug, name, name_fa, province) VALUES (?, ?, ?, ?, ?)", id, slug, name, name+"-fa", "P")
	return id
}

// AddSalon inserts a salon with consistent rating aggregates.
func AddSalon(t testing.TB, s *store.Store, id, cityID int64, slug, name string, sum, count int64, created time.Time) {
	t.Helper()
	avg := 0.0
	if count > 0 {
		avg = float64(sum) / float64(count)
	}
	Exec(t, s, `INSERT INTO salons (id, slug, name, city_id, verified, rating_sum, rating_count, rating_avg,
		bayesian_score, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, slug, name, cityID, false, sum, count, avg, store.BayesianScore(sum, count), created.UTC(), created.UTC())
}

// Suite runs every store behaviour test against stores made by open.
func Suite(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, *store.Store)
	}{
		{"Migrate", testMigrate},
		{"Cities", testCities},
		{"SalonList", testSalonList},
		{"SalonSlugs", testSalonSlugs},
		{"ReviewConstraints", testReviewConstraints},
		{"CityStats", testCityStats},
		{"Posts", testPosts},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

func testMigrate(t *testing.T, s *store.Store) {
	ctx := context.Background()
	again, err := s.Migrate(ctx)
	if err != nil || len(again) != 0 {
		t.Fatalf("second Migrate = %v, %v; want nothing applied", again, err)
	}
	migs, err := store.Migrations(s.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.AppliedVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(migs) || len(got) == 0 {
		t.Fatalf("applied %v, embedded %d migrations", got, len(migs))
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func testCities(t *testing.T, s *store.Store) {
	ctx := context.Background()
	AddCity(t, s, 1, "tehran", "Tehran")
	AddCity(t, s, 2, "shiraz", "Shiraz")
	AddCity(t, s, 3, "isfahan", "Isfahan")
	cities, err := s.ListCities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cities {
		names = append(names, c.Name)
	}
	if fmt.Sprint(names) != "[Isfahan Shiraz Tehran]" {
		t.Errorf("ListCities names = %v, want sorted by name", names)
	}
	c, err := s.CityBySlug(ctx, "shiraz")
	if err != nil || c.ID != 2 || c.NameFa != "Shiraz-fa" || c.StatsUpdatedAt != nil {
		t.Errorf("CityBySlug(shiraz) = %+v, %v", c, err)
	}
	if _, err := s.CityBySlug(ctx, "nowhere"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CityBySlug(nowhere) error = %v, want ErrNotFound", err)
	}
	if n, err := s.CountCities(ctx); err != nil || n != 3 {
		t.Errorf("CountCities = %d, %v; want 3", n, err)
	}
}

func testSalonList(t *testing.T, s *store.Store) {
	ctx := context.Background()
	AddCity(t, s, 1, "tehran", "Tehran")
	AddCity(t, s, 2, "shiraz", "Shiraz")
	AddSalon(t, s, 1, 1, "b-salon", "B Salon", 5, 1, Base.Add(-3*time.Hour))     // 1 review of 5: pulled to the prior
	AddSalon(t, s, 2, 1, "a-salon", "A Salon", 450, 100, Base.Add(-1*time.Hour)) // many 4.5s: best score
	AddSalon(t, s, 3, 2, "c-salon", "C Salon", 0, 0, Base.Add(-2*time.Hour))
	slugs := func(xs []store.Salon) string {
		var out []string
		for _, x := range xs {
			out = append(out, x.Slug)
		}
		return fmt.Sprint(out)
	}
	tests := []struct {
		f     store.SalonFilter
		want  string
		total int64
	}{
		{store.SalonFilter{Sort: store.SortRating, Page: 1, PerPage: 10}, "[a-salon b-salon c-salon]", 3},
		{store.SalonFilter{Sort: store.SortName, Page: 1, PerPage: 10}, "[a-salon b-salon c-salon]", 3},
		{store.SalonFilter{Sort: store.SortNewest, Page: 1, PerPage: 10}, "[a-salon c-salon b-salon]", 3},
		{store.SalonFilter{Sort: store.SortNewest, Page: 2, PerPage: 2}, "[b-salon]", 3},
		{store.SalonFilter{CitySlug: "tehran", Sort: store.SortName, Page: 1, PerPage: 10}, "[a-salon b-salon]", 2},
		{store.SalonFilter{CitySlug: "shiraz", Sort: store.SortRating, Page: 2, PerPage: 10}, "[]", 1},
	}
	for _, tc := range tests {
		got, total, err := s.ListSalons(ctx, tc.f)
		if err != nil {
			t.Errorf("ListSalons(%+v): %v", tc.f, err)
			continue
		}
		if slugs(got) != tc.want || total != tc.total {
			t.Errorf("ListSalons(%+v) = %s (total %d), want %s (total %d)", tc.f, slugs(got), total, tc.want, tc.total)
		}
	}
	got, _, err := s.ListSalons(ctx, store.SalonFilter{CitySlug: "tehran", Sort: store.SortRating, Page: 1, PerPage: 1})
	if err != nil || len(got) != 1 || got[0].CitySlug != "tehran" || got[0].RatingAvg != 4.5 ||
		!got[0].CreatedAt.Equal(Base.Add(-time.Hour)) {
		t.Errorf("first tehran salon = %+v, %v", got, err)
	}
	if _, _, err := s.ListSalons(ctx, store.SalonFilter{CitySlug: "nowhere", Sort: store.SortName, Page: 1, PerPage: 1}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown city error = %v, want ErrNotFound", err)
	}
	if _, _, err := s.ListSalons(ctx, store.SalonFilter{Sort: "price", Page: 1, PerPage: 1}); err == nil {
		t.Error("unsupported sort: want an error")
	}
}

func testSalonSlugs(t *testing.T, s *store.Store) {
	ctx := context.Background()
	AddCity(t, s, 1, "tehran", "Tehran")
	AddSalon(t, s, 7, 1, "third", "Salon", 0, 0, Base)
	AddSalon(t, s, 8, 1, "other", "Other", 0, 0, Base)
	// Salon 7 was renamed first → second → third. internal/salon writes
	// slug history (its tests cover renaming, also back to an old slug);
	// here the rows it leaves: every old slug maps to the id.
	for _, old := range []string{"first", "second"} {
		Exec(t, s, "INSERT INTO slug_history (entity, old_slug, entity_id, created_at) VALUES ('salon', ?, ?, ?)",
			old, 7, Base.Add(time.Minute))
	}
	tests := []struct {
		slug      string
		wantID    int64
		wantSlug  string
		wantMoved bool
		wantErr   error
	}{
		{"third", 7, "third", false, nil},
		{"second", 7, "third", true, nil},
		{"first", 7, "third", true, nil},
		{"other", 8, "other", false, nil},
		{"missing", 0, "", false, store.ErrNotFound},
	}
	for _, tc := range tests {
		x, moved, err := s.ResolveSalonSlug(ctx, tc.slug)
		if !errors.Is(err, tc.wantErr) || x.ID != tc.wantID || x.Slug != tc.wantSlug || moved != tc.wantMoved {
			t.Errorf("ResolveSalonSlug(%s) = id %d slug %q moved %v err %v; want %d %q %v %v",
				tc.slug, x.ID, x.Slug, moved, err, tc.wantID, tc.wantSlug, tc.wantMoved, tc.wantErr)
		}
	}
}

func testReviewConstraints(t *testing.T, s *store.Store) {
	AddCity(t, s, 1, "tehran", "Tehran")
	AddSalon(t, s, 1, 1, "s", "S", 0, 0, Base)
	Exec(t, s, "INSERT INTO users (id, phone, role, created_at) VALUES (1, '+989120000001', 'user', ?)", Base)
	insert := s.Rebind("INSERT INTO reviews (salon_id, user_id, rating, body, status, created_at) VALUES (?, ?, ?, '', 'published', ?)")
	for _, tc := range []struct {
		salon, rating int
		ok            bool
	}{{1, 1, true}, {1, 5, true}, {1, 0, false}, {1, 6, false}, {42, 3, false}} {
		_, err := s.DB().ExecContext(context.Background(), insert, tc.salon, 1, tc.rating, Base)
		if (err == nil) != tc.ok {
			t.Errorf("insert review salon=%d rating=%d: err=%v, want ok=%v", tc.salon, tc.rating, err, tc.ok)
		}
	}
}

func testCityStats(t *testing.T, s *store.Store) {
	ctx := context.Background()
	AddCity(t, s, 1, "tehran", "Tehran")
	AddCity(t, s, 2, "shiraz", "Shiraz")
	AddSalon(t, s, 1, 1, "a", "A", 9, 2, Base)
	AddSalon(t, s, 2, 1, "b", "B", 3, 2, Base)
	if err := s.RefreshCityStats(ctx, Base, 1); err != nil {
		t.Fatal(err)
	}
	c, err := s.CityBySlug(ctx, "tehran")
	if err != nil {
		t.Fatal(err)
	}
	if c.SalonCount != 2 || c.ReviewCount != 4 || c.AvgRating != 3 || c.StatsUpdatedAt == nil || !c.StatsUpdatedAt.Equal(Base) {
		t.Errorf("tehran stats = %+v", c)
	}
	if c, _ := s.CityBySlug(ctx, "shiraz"); c.StatsUpdatedAt != nil {
		t.Errorf("shiraz was not asked for but got refreshed: %+v", c)
	}
	if err := s.RefreshCityStats(ctx, Base); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.CityBySlug(ctx, "shiraz"); c.StatsUpdatedAt == nil || c.SalonCount != 0 || c.AvgRating != 0 {
		t.Errorf("shiraz after refreshing all = %+v", c)
	}
}

func testPosts(t *testing.T, s *store.Store) {
	ctx := context.Background()
	add := func(id int64, slug string, pub *time.Time) {
		Exec(t, s, "INSERT INTO posts (id, slug, title, body, published_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
			id, slug, "T "+slug, "body of "+slug, pub, Base)
	}
	old, newer, future := Base.Add(-48*time.Hour), Base.Add(-time.Hour), Base.Add(time.Hour)
	add(1, "old", &old)
	add(2, "newer", &newer)
	add(3, "draft", nil)
	add(4, "scheduled", &future)
	posts, total, err := s.ListPosts(ctx, Base, 1, 10)
	if err != nil {
		t.Fatal(err)
	}
	if total != 2 || len(posts) != 2 || posts[0].Slug != "newer" || posts[1].Slug != "old" || posts[0].Body != "" {
		t.Errorf("ListPosts = %+v total %d", posts, total)
	}
	p, err := s.PostBySlug(ctx, Base, "old")
	if err != nil || p.Body != "body of old" || p.PublishedAt == nil || !p.PublishedAt.Equal(old) {
		t.Errorf("PostBySlug(old) = %+v, %v", p, err)
	}
	for _, slug := range []string{"draft", "scheduled", "missing"} {
		if _, err := s.PostBySlug(ctx, Base, slug); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("PostBySlug(%s) error = %v, want ErrNotFound", slug, err)
		}
	}
	// Post 1 was called "older" and "oldest"; post 9 does not exist.
	for _, o := range []string{"older", "oldest"} {
		Exec(t, s, "INSERT INTO slug_history (entity, old_slug, entity_id, created_at) VALUES ('post', ?, 1, ?)", o, Base)
	}
	Exec(t, s, "INSERT INTO slug_history (entity, old_slug, entity_id, created_at) VALUES ('salon', 'old-salon', 1, ?)", Base)
	slugs, err := s.PostSlugs(ctx, 1, 3, 9)
	slices.Sort(slugs)
	if want := []string{"draft", "old", "older", "oldest"}; err != nil || !slices.Equal(slugs, want) {
		t.Errorf("PostSlugs(1, 3, 9) = %q, %v; want %q", slugs, err, want)
	}
	many := make([]int64, 1000) // more ids than one query binds
	for i := range many {
		many[i] = int64(i + 1)
	}
	if slugs, err := s.PostSlugs(ctx, many...); err != nil || len(slugs) != 6 {
		t.Errorf("PostSlugs(1..1000) = %q, %v; want 6 slugs", slugs, err)
	}
}
