package faults

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/sevra/atlas/internal/store/storetest"
)

// who are the four kinds of caller every route is tried with.
var who = []string{"none", "wrong", "user", "admin"}

// routeCase is one route of the table: a request that would succeed for
// the right caller, and the status each kind of caller must get.
type routeCase struct {
	pattern string // as registered in internal/httpapi
	method  string
	path    func(r *abuseRig) string
	ctype   string
	body    func(who string) []byte
	want    [4]int // none, wrong token, user session, admin token
}

func jsonBody(s string) func(string) []byte { return func(string) []byte { return []byte(s) } }

func fixed(p string) func(*abuseRig) string { return func(*abuseRig) string { return p } }

// routeTable is every route Atlas serves × {no auth, wrong token, user
// session, admin}. Public reads answer everyone (a wrong token on a public
// read is ignored, not an error); writes need a session or the admin
// token; admin routes answer 401 to anyone else (the API does not tell a
// non-admin session from none); the dashboard sends a browser without a
// session to its login page (303) and refuses a bad Bearer token (401).
var routeTable = []routeCase{
	{"GET /api/v1/cities", "GET", fixed("/api/v1/cities"), "", nil, [4]int{200, 200, 200, 200}},
	{"GET /api/v1/cities/{slug}", "GET", func(r *abuseRig) string { return "/api/v1/cities/" + r.city }, "", nil, [4]int{200, 200, 200, 200}},
	{"GET /api/v1/salons", "GET", fixed("/api/v1/salons?sort=rating&page=1"), "", nil, [4]int{200, 200, 200, 200}},
	{"GET /api/v1/salons/{slug}", "GET", func(r *abuseRig) string { return "/api/v1/salons/" + r.salon }, "", nil, [4]int{200, 200, 200, 200}},
	{"POST /api/v1/salons/{slug}/reviews", "POST", func(r *abuseRig) string { return "/api/v1/salons/" + r.salon + "/reviews" },
		"application/json", jsonBody(`{"rating":4,"body":"Clean, on time and friendly; the colour came out as promised."}`), [4]int{401, 401, 201, 201}},
	{"POST /api/v1/auth/otp/request", "POST", fixed("/api/v1/auth/otp/request"), "application/json",
		func(w string) []byte {
			return []byte(fmt.Sprintf(`{"phone":"+98912000%04d"}`, slices.Index(who, w)+100))
		}, [4]int{202, 202, 202, 202}},
	{"POST /api/v1/auth/otp/verify", "POST", fixed("/api/v1/auth/otp/verify"), "application/json",
		jsonBody(`{"challenge_id":"0123456789abcdef0123456789abcdef","code":"123456"}`), [4]int{401, 401, 401, 401}},
	// The user case uses a session of its own (logout revokes it); the
	// admin token is not a session and cannot be logged out.
	{"POST /api/v1/auth/logout", "POST", fixed("/api/v1/auth/logout"), "", nil, [4]int{401, 401, 204, 400}},
	{"GET /api/v1/posts", "GET", fixed("/api/v1/posts?page=1"), "", nil, [4]int{200, 200, 200, 200}},
	{"GET /api/v1/posts/{slug}", "GET", func(r *abuseRig) string { return "/api/v1/posts/" + r.post }, "", nil, [4]int{200, 200, 200, 200}},
	{"POST /api/v1/media", "POST", fixed("/api/v1/media"), multipartType, func(string) []byte { return multipartFile(pngImage(8, 8)) },
		[4]int{401, 401, 202, 202}},
	{"GET /api/v1/media/{id}", "GET", fixed("/api/v1/media/999999"), "", nil, [4]int{404, 404, 404, 404}},
	{"GET /media/", "GET", fixed("/media/variants/none.jpg"), "", nil, [4]int{404, 404, 404, 404}},
	{"GET /sitemap.xml", "GET", fixed("/sitemap.xml"), "", nil, [4]int{200, 200, 200, 200}},
	{"GET /sitemaps/{file}", "GET", fixed("/sitemaps/none.xml.gz"), "", nil, [4]int{404, 404, 404, 404}},
	{"GET /robots.txt", "GET", fixed("/robots.txt"), "", nil, [4]int{200, 200, 200, 200}},
	{"POST /api/v1/admin/sitemap/rebuild", "POST", fixed("/api/v1/admin/sitemap/rebuild"), "", nil, [4]int{401, 401, 401, 202}},
	{"POST /api/v1/admin/verifications/{id}/approve", "POST", fixed("/api/v1/admin/verifications/999999/approve"), "", nil, [4]int{401, 401, 401, 404}},
	{"PATCH /api/v1/salons/{slug}", "PATCH", func(r *abuseRig) string { return "/api/v1/salons/" + r.salon }, "application/json",
		jsonBody(`{"verified":true}`), [4]int{401, 401, 401, 200}},
	{"GET /admin/login", "GET", fixed("/admin/login"), "", nil, [4]int{200, 200, 200, 303}},
	{"POST /admin/login", "POST", fixed("/admin/login"), "application/x-www-form-urlencoded", jsonBody("token=not-the-token"), [4]int{401, 401, 401, 401}},
	{"POST /admin/logout", "POST", fixed("/admin/logout"), "", nil, [4]int{303, 401, 401, 303}},
	{"GET /admin/assets/dashboard.css", "GET", fixed("/admin/assets/dashboard.css"), "", nil, [4]int{200, 200, 200, 200}},
	{"GET /admin/jobs", "GET", fixed("/admin/jobs"), "", nil, [4]int{303, 401, 401, 200}},
	{"GET /admin/jobs/{$}", "GET", fixed("/admin/jobs/"), "", nil, [4]int{301, 301, 301, 301}},
	{"GET /admin/jobs/{queue}", "GET", fixed("/admin/jobs/media"), "", nil, [4]int{303, 401, 401, 200}},
	{"GET /admin/jobs/{queue}/{id}", "GET", fixed("/admin/jobs/media/none"), "", nil, [4]int{303, 401, 401, 404}},
	{"POST /admin/jobs/{queue}/{action}", "POST", fixed("/admin/jobs/maintenance/pause"), "", nil, [4]int{303, 401, 401, 303}},
	{"POST /admin/jobs/{queue}/{id}/{action}", "POST", fixed("/admin/jobs/media/none/retry"), "", nil, [4]int{303, 401, 401, 404}},
	{"/api/", "GET", fixed("/api/v1/no-such-route"), "", nil, [4]int{404, 404, 404, 404}},
	// The public HTML pages (internal/site): everyone reads them; an
	// unknown path is the HTML 404.
	{"GET /{$}", "GET", fixed("/"), "", nil, [4]int{200, 200, 200, 200}},
	{"GET /cities/{slug}", "GET", func(r *abuseRig) string { return "/cities/" + r.city }, "", nil, [4]int{200, 200, 200, 200}},
	{"GET /salons/{slug}", "GET", func(r *abuseRig) string { return "/salons/" + r.salon }, "", nil, [4]int{200, 200, 200, 200}},
	{"GET /posts", "GET", fixed("/posts"), "", nil, [4]int{200, 200, 200, 200}},
	{"GET /posts/{slug}", "GET", func(r *abuseRig) string { return "/posts/" + r.post }, "", nil, [4]int{200, 200, 200, 200}},
	{"GET /favicon.svg", "GET", fixed("/favicon.svg"), "", nil, [4]int{200, 200, 200, 200}},
	{"/", "GET", fixed("/no-such-page"), "", nil, [4]int{404, 404, 404, 404}},
	{"GET /admin/assets/live.js", "GET", fixed("/admin/assets/live.js"), "", nil, [4]int{200, 200, 200, 200}},
	// Owner-or-admin writes: the plain user owns nothing (403); the admin
	// names a media item that does not exist (400: the salon or post in the
	// path exists, the body's reference is wrong) or files a request (201).
	{"POST /api/v1/salons/{slug}/media", "POST", func(r *abuseRig) string { return "/api/v1/salons/" + r.salon + "/media" },
		"application/json", jsonBody(`{"media_id":999999,"role":"gallery"}`), [4]int{401, 401, 403, 400}},
	{"POST /api/v1/posts/{slug}/media", "POST", func(r *abuseRig) string { return "/api/v1/posts/" + r.post + "/media" },
		"application/json", jsonBody(`{"media_id":999999}`), [4]int{401, 401, 403, 400}},
	{"POST /api/v1/salons/{slug}/verification-requests", "POST",
		func(r *abuseRig) string { return "/api/v1/salons/" + r.nextSalon(r.t) + "/verification-requests" },
		"", nil, [4]int{401, 401, 403, 201}},
	// Admin only; each caller aims at a salon of its own.
	{"DELETE /api/v1/salons/{slug}", "DELETE", func(r *abuseRig) string { return "/api/v1/salons/" + r.nextSalon(r.t) }, "", nil,
		[4]int{401, 401, 401, 204}},
	{"GET /healthz", "GET", fixed("/healthz"), "", nil, [4]int{200, 200, 200, 200}},
	{"GET /readyz", "GET", fixed("/readyz"), "", nil, [4]int{200, 200, 200, 200}},
	{"GET /metrics", "GET", fixed("/metrics"), "", nil, [4]int{200, 200, 200, 200}},
}

// TestRouteTableCoversEveryRoute: the table has exactly one case per route
// pattern registered in internal/httpapi, so a new route cannot go
// unchecked.
func TestRouteTableCoversEveryRoute(t *testing.T) {
	served := servedPatterns(t)
	var tabled []string
	for _, c := range routeTable {
		tabled = append(tabled, c.pattern)
	}
	slices.Sort(served)
	slices.Sort(tabled)
	if !slices.Equal(served, tabled) {
		t.Fatalf("routes served %q\nroutes in the table %q", served, tabled)
	}
}

// TestRouteAuthMatrix runs every route × every kind of caller on SQLite
// and PostgreSQL and checks the status, and that the dashboard's
// state-changing action did not happen for the callers it refused.
func TestRouteAuthMatrix(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			r := newAbuseRig(t, eng.url(t))
			for _, c := range routeTable {
				for i, w := range who {
					var body []byte
					if c.body != nil {
						body = c.body(w)
					}
					shared := r.userToken
					if c.pattern == "POST /api/v1/auth/logout" && w == "user" {
						r.userToken = r.newSession(t) // logout revokes it, not the shared one
					}
					code, resp := r.do(t, c.method, c.path(r), c.ctype, body, w)
					r.userToken = shared
					if code != c.want[i] {
						t.Errorf("%s as %s: %d, want %d: %.200s", c.pattern, w, code, c.want[i], resp)
					}
					if c.pattern == "POST /admin/jobs/{queue}/{action}" && w == "user" && r.paused(t, "maintenance") {
						t.Errorf("the maintenance queue was paused by a caller the dashboard refused")
					}
				}
			}
			if !r.paused(t, "maintenance") {
				t.Errorf("the admin's pause did not pause the maintenance queue")
			}
		})
	}
}

// engines are the two databases Atlas runs on.
var engines = []struct {
	name string
	url  func(t testing.TB) string
}{
	{"sqlite", func(testing.TB) string { return "" }},
	{"postgres", storetest.IsolatedPostgresURL},
}

// TestTokenGuessing: 100 wrong Bearer tokens from one client address meet
// a 429 (issue 17 item 7), while the admin token from another address
// still works.
func TestTokenGuessing(t *testing.T) {
	r := newAbuseRig(t, "")
	r.client = "203.0.113.7"
	limited := 0
	for range 100 {
		code, _ := r.do(t, "POST", "/api/v1/admin/sitemap/rebuild", "", nil, "wrong")
		if code == http.StatusTooManyRequests {
			limited++
		} else if code != http.StatusUnauthorized {
			t.Fatalf("wrong token: %d, want 401 or 429", code)
		}
	}
	if limited == 0 {
		t.Errorf("100 wrong tokens from one address in a burst: no 429")
	}
	r.client = "203.0.113.8"
	if code, _ := r.do(t, "POST", "/api/v1/admin/sitemap/rebuild", "", nil, "admin"); code != http.StatusAccepted {
		t.Errorf("admin token from another address after the guessing: %d, want 202", code)
	}
}
