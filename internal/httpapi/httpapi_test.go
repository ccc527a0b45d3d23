package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sevra/atlas/internal/auth"
	"github.com/sevra/atlas/internal/store"
)

// fakeStore serves fixed data and counts salon lookups.
type fakeStore struct {
	lookups atomic.Int32
	lastF   store.SalonFilter
	fail    error
}

func (f *fakeStore) ListCities(context.Context) ([]store.City, error) {
	return []store.City{{ID: 1, Slug: "shiraz", Name: "Shiraz", NameFa: "شیراز"}}, f.fail
}

func (f *fakeStore) CityBySlug(_ context.Context, slug string) (store.City, error) {
	if slug != "shiraz" {
		return store.City{}, store.ErrNotFound
	}
	return store.City{ID: 1, Slug: "shiraz", SalonCount: 3}, nil
}

func (f *fakeStore) ListSalons(_ context.Context, flt store.SalonFilter) ([]store.Salon, int64, error) {
	f.lastF = flt
	return []store.Salon{{ID: 1, Slug: "rose"}}, 41, f.fail
}

func (f *fakeStore) ResolveSalonSlug(_ context.Context, slug string) (store.Salon, bool, error) {
	f.lookups.Add(1)
	switch slug {
	case "rose":
		return store.Salon{ID: 1, Slug: "rose"}, false, nil
	case "old-rose":
		return store.Salon{ID: 1, Slug: "rose"}, true, nil
	}
	return store.Salon{}, false, store.ErrNotFound
}

func (f *fakeStore) ListPosts(_ context.Context, _ time.Time, page, perPage int) ([]store.Post, int64, error) {
	return []store.Post{{ID: 1, Slug: "p"}}, 1, nil
}

func (f *fakeStore) PostBySlug(_ context.Context, _ time.Time, slug string) (store.Post, error) {
	if slug != "p" {
		return store.Post{}, store.ErrNotFound
	}
	return store.Post{ID: 1, Slug: "p", Body: "b"}, nil
}

func newTestHandler(t *testing.T, fs *fakeStore, checks ...Check) (http.Handler, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	h, err := NewHandler(Deps{Store: fs, Registry: reg, Checks: checks})
	if err != nil {
		t.Fatal(err)
	}
	return h, reg
}

func do(h http.Handler, method, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	h, _ := newTestHandler(t, &fakeStore{})
	tests := []struct {
		method, target string
		status         int
		contains       string
	}{
		{"GET", "/api/v1/cities", 200, `"name_fa":"شیراز"`},
		{"GET", "/api/v1/cities/shiraz", 200, `"salon_count":3`},
		{"GET", "/api/v1/cities/nowhere", 404, `{"error":{"code":"not_found","message":"not found"}}`},
		{"GET", "/api/v1/salons", 200, `"total":41`},
		{"GET", "/api/v1/salons?page=3&per_page=5", 200, `"page":3,"per_page":5`},
		{"GET", "/api/v1/salons?page=0", 400, `"code":"invalid_page"`},
		{"GET", "/api/v1/salons?per_page=101", 400, `"code":"invalid_per_page"`},
		{"GET", "/api/v1/salons?sort=price", 400, `"code":"invalid_sort"`},
		{"GET", "/api/v1/salons/rose", 200, `"slug":"rose"`},
		{"GET", "/api/v1/salons/old-rose", 301, `"location":"/api/v1/salons/rose"`},
		{"GET", "/api/v1/salons/missing", 404, `"not_found"`},
		{"GET", "/api/v1/posts", 200, `"items":[{"id":1`},
		{"GET", "/api/v1/posts/p", 200, `"body":"b"`},
		{"GET", "/api/v1/posts/nope", 404, `"not_found"`},
		{"GET", "/api/v1/nothing-here", 404, `"not_found"`},
		{"POST", "/api/v1/cities", 404, `"not_found"`}, // the JSON catch-all answers unknown methods too
		{"GET", "/healthz", 200, `"status":"ok"`},
		{"GET", "/readyz", 200, `"status":"ok"`},
	}
	for _, tc := range tests {
		rec := do(h, tc.method, tc.target)
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.contains) {
			t.Errorf("%s %s = %d %s; want %d containing %s", tc.method, tc.target, rec.Code, rec.Body, tc.status, tc.contains)
		}
	}
}

func TestSalonRedirectKeepsQueryAndCaches(t *testing.T) {
	t.Parallel()
	fs := &fakeStore{}
	h, _ := newTestHandler(t, fs)
	rec := do(h, "GET", "/api/v1/salons/old-rose?lang=fa")
	if loc := rec.Header().Get("Location"); rec.Code != 301 || loc != "/api/v1/salons/rose?lang=fa" {
		t.Fatalf("redirect = %d %q", rec.Code, loc)
	}
	for range 3 {
		do(h, "GET", "/api/v1/salons/rose")
	}
	if n := fs.lookups.Load(); n != 2 {
		t.Errorf("store lookups = %d, want 2 (one per distinct slug, the rest cached)", n)
	}
}

func TestSalonFilterPassedToStore(t *testing.T) {
	t.Parallel()
	fs := &fakeStore{}
	h, _ := newTestHandler(t, fs)
	do(h, "GET", "/api/v1/salons?city=shiraz&sort=newest&page=2&per_page=7")
	want := store.SalonFilter{CitySlug: "shiraz", Sort: store.SortNewest, Page: 2, PerPage: 7}
	if fs.lastF != want {
		t.Errorf("filter = %+v, want %+v", fs.lastF, want)
	}
}

func TestInternalErrorHidesDetail(t *testing.T) {
	t.Parallel()
	h, _ := newTestHandler(t, &fakeStore{fail: errors.New("disk on fire at /var/secret")})
	rec := do(h, "GET", "/api/v1/cities")
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "secret") || !strings.Contains(rec.Body.String(), `"internal"`) {
		t.Errorf("500 body = %d %s", rec.Code, rec.Body)
	}
}

func TestStatusOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err    error
		status int
		code   string
	}{
		{store.ErrNotFound, 404, "not_found"},
		{errors.Join(errors.New("ctx"), store.ErrNotFound), 404, "not_found"},
		{badRequest("invalid_x", "x"), 400, "invalid_x"},
		{ErrUnauthorized, 401, "unauthorized"},
		{ErrForbidden, 403, "forbidden"},
		{context.DeadlineExceeded, 503, "timeout"},
		{errors.New("boom"), 500, "internal"},
	}
	for _, tc := range tests {
		if status, code, _ := statusOf(tc.err); status != tc.status || code != tc.code {
			t.Errorf("statusOf(%v) = %d %s, want %d %s", tc.err, status, code, tc.status, tc.code)
		}
	}
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	ok := Check{Name: "db", Run: func(context.Context) error { return nil }}
	bad := Check{Name: "redis", Run: func(context.Context) error { return errors.New("connection refused") }}
	type body struct {
		Status string
		Checks map[string]struct{ Status, Error string }
	}
	get := func(h http.Handler, path string) (int, body) {
		rec := do(h, "GET", path)
		var b body
		if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
			t.Fatalf("%s: %v: %s", path, err, rec.Body)
		}
		return rec.Code, b
	}
	h, _ := newTestHandler(t, &fakeStore{}, ok, bad)
	if code, b := get(h, "/readyz"); code != 503 || b.Status != "unavailable" || b.Checks["db"].Status != "ok" ||
		b.Checks["redis"].Status != "fail" || b.Checks["redis"].Error != "connection refused" {
		t.Errorf("readyz with a failing required check = %d %+v", code, b)
	}

	degradable := bad
	degradable.Degradable = true
	h, _ = newTestHandler(t, &fakeStore{}, ok, degradable)
	if code, b := get(h, "/readyz"); code != 200 || b.Status != "degraded" || b.Checks["db"].Status != "ok" ||
		b.Checks["redis"].Status != "degraded" || b.Checks["redis"].Error != "connection refused" {
		t.Errorf("readyz with a failing degradable check = %d %+v", code, b)
	}
	for _, q := range []string{"1", "true"} {
		if code, b := get(h, "/readyz?strict="+q); code != 503 || b.Status != "unavailable" || b.Checks["redis"].Status != "fail" {
			t.Errorf("readyz?strict=%s = %d %+v", q, code, b)
		}
	}
	rec := do(h, "GET", "/metrics")
	for _, want := range []string{`atlas_dependency_up{degradable="false",dependency="db"} 1`,
		`atlas_dependency_up{degradable="true",dependency="redis"} 0`} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	h, _ = newTestHandler(t, &fakeStore{}, ok)
	if code, b := get(h, "/readyz?strict=1"); code != 200 || b.Status != "ok" {
		t.Errorf("strict readyz with every check passing = %d %+v", code, b)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	h, _ := newTestHandler(t, &fakeStore{})
	do(h, "GET", "/api/v1/salons/rose")
	do(h, "GET", "/api/v1/salons/missing")
	rec := do(h, "GET", "/metrics")
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`atlas_http_requests_total{code="200",method="GET",route="GET /api/v1/salons/{slug}"} 1`,
		`atlas_http_requests_total{code="404",method="GET",route="GET /api/v1/salons/{slug}"} 1`,
		`atlas_http_request_duration_seconds_bucket{method="GET",route="GET /api/v1/salons/{slug}"`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestRequireAdmin(t *testing.T) {
	t.Parallel()
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	tests := []struct {
		token, header string
		status        int
	}{
		{"s3cret", "Bearer s3cret", 204},
		{"s3cret", "Bearer wrong", 401},
		{"s3cret", "s3cret", 401},
		{"s3cret", "", 401},
		{"", "Bearer ", 401},
	}
	for _, tc := range tests {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/api/v1/admin/x", nil)
		req.Header.Set("Authorization", tc.header)
		authenticate(nil, auth.New(auth.Config{AdminToken: tc.token}), newAuthGuard(Deps{Now: time.Now}), requireAdmin(nil, next)).ServeHTTP(rec, req)
		if rec.Code != tc.status {
			t.Errorf("token %q header %q: %d, want %d", tc.token, tc.header, rec.Code, tc.status)
		}
	}
}

func FuzzParseSalonFilter(f *testing.F) {
	for _, s := range []string{"", "page=2&per_page=50", "sort=name&city=tehran", "page=-1", "page=1&page=2", "per_page=99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		flt, err := parseSalonFilter(q)
		if err != nil {
			var re *RequestError
			if !errors.As(err, &re) {
				t.Fatalf("parseSalonFilter(%q) error %v is not a *RequestError", raw, err)
			}
			return
		}
		if flt.Page < 1 || flt.Page > maxPage || flt.PerPage < 1 || flt.PerPage > MaxPerPage {
			t.Fatalf("parseSalonFilter(%q) = %+v: out of range", raw, flt)
		}
		switch flt.Sort {
		case store.SortRating, store.SortName, store.SortNewest:
		default:
			t.Fatalf("parseSalonFilter(%q) sort %q", raw, flt.Sort)
		}
	})
}
