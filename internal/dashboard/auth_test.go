package dashboard

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	atlasauth "github.com/sevra/atlas/internal/auth"
)

func TestAuthGuardsEveryPage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	cookie, _ := f.login(t)
	for _, tc := range []struct {
		name       string
		req        request
		status     int
		location   string
		wantInBody string
	}{
		{"no credentials: overview redirects", request{path: "/admin/jobs"}, 303, "/admin/login?next=%2Fadmin%2Fjobs", ""},
		{"no credentials: queue redirects", request{path: "/admin/jobs/media?state=failed"}, 303, "/admin/login?next=%2Fadmin%2Fjobs%2Fmedia%3Fstate%3Dfailed", ""},
		{"no credentials: job redirects", request{path: "/admin/jobs/media/boom-1"}, 303, "", ""},
		{"no credentials: action redirects", request{method: "POST", path: "/admin/jobs/media/boom-1/retry", form: url.Values{}}, 303, "/admin/login?next=%2Fadmin%2Fjobs", ""},
		{"wrong bearer", request{path: "/admin/jobs", bearer: "nope"}, 401, "", "admin token is wrong"},
		{"bad cookie", request{path: "/admin/jobs", cookie: "v1.99999999999." + strings.Repeat("A", 43)}, 303, "", ""},
		{"cookie that is the token", request{path: "/admin/jobs", cookie: testToken}, 303, "", ""},
		{"bearer", request{path: "/admin/jobs", bearer: testToken}, 200, "", "notifications"},
		{"cookie", request{path: "/admin/jobs", cookie: cookie}, 200, "", "notifications"},
		{"login form", request{path: "/admin/login"}, 200, "", `name="token"`},
		{"logged in: login form goes on", request{path: "/admin/login?next=/admin/jobs/media", cookie: cookie}, 303, "/admin/jobs/media", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, body := f.do(t, tc.req)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tc.status, body)
			}
			if tc.location != "" && res.Header.Get("Location") != tc.location {
				t.Fatalf("Location %q, want %q", res.Header.Get("Location"), tc.location)
			}
			if tc.wantInBody != "" && !strings.Contains(body, tc.wantInBody) {
				t.Fatalf("body lacks %q:\n%s", tc.wantInBody, body)
			}
			if tc.status != 200 && (strings.Contains(body, "decode:") || strings.Contains(body, "notifications")) {
				t.Fatalf("unauthenticated answer leaks data:\n%s", body)
			}
		})
	}
}

func TestLogin(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)

	res, body := f.do(t, request{method: "POST", path: "/admin/login", form: url.Values{"token": {"wrong"}}})
	if res.StatusCode != 401 || !strings.Contains(body, "Wrong token") || len(res.Cookies()) != 0 {
		t.Fatalf("wrong token: %d %v\n%s", res.StatusCode, res.Cookies(), body)
	}
	res, _ = f.do(t, request{method: "POST", path: "/admin/login", form: url.Values{"token": {testToken}}, origin: "https://evil.example"})
	if res.StatusCode != 403 || len(res.Cookies()) != 0 {
		t.Fatalf("cross-origin login: %d", res.StatusCode)
	}

	res, _ = f.do(t, request{method: "POST", path: "/admin/login", form: url.Values{"token": {testToken}, "next": {"/admin/jobs/media?state=failed"}}})
	if res.StatusCode != 303 || res.Header.Get("Location") != "/admin/jobs/media?state=failed" {
		t.Fatalf("login: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	cs := res.Cookies()
	if len(cs) != 1 {
		t.Fatalf("cookies %v", cs)
	}
	c := cs[0]
	if c.Name != atlasauth.CookieName || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure || c.Path != "/admin" || c.MaxAge <= 0 {
		t.Fatalf("cookie %+v", c)
	}
	if strings.Contains(c.Value, testToken) {
		t.Fatal("cookie holds the token")
	}

	// Over TLS the cookie is Secure.
	req := httptest.NewRequest("POST", "https://example.com/admin/login", strings.NewReader(url.Values{"token": {testToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	if cs := rec.Result().Cookies(); len(cs) != 1 || !cs[0].Secure {
		t.Fatalf("TLS cookie %v", cs)
	}

	// Logout clears the cookie (and needs the CSRF token).
	csrf := f.server.auth.CSRFToken(c.Value)
	res, _ = f.do(t, request{method: "POST", path: "/admin/logout", cookie: c.Value, form: url.Values{}})
	if res.StatusCode != 403 {
		t.Fatalf("logout without csrf: %d", res.StatusCode)
	}
	res, _ = f.do(t, request{method: "POST", path: "/admin/logout", cookie: c.Value, form: url.Values{"csrf": {csrf}}})
	if res.StatusCode != 303 || len(res.Cookies()) != 1 || res.Cookies()[0].MaxAge >= 0 {
		t.Fatalf("logout: %d %v", res.StatusCode, res.Cookies())
	}
}

func TestSafeNext(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                              "/admin/jobs",
		"/admin/jobs/media?state=done":  "/admin/jobs/media?state=done",
		"https://evil.example/":         "/admin/jobs",
		"//evil.example/admin/jobs":     "/admin/jobs",
		`/\evil.example`:                "/admin/jobs",
		"/api/v1/salons":                "/admin/jobs",
		"/admin/jobsx":                  "/admin/jobs",
		"javascript:alert(1)":           "/admin/jobs",
		"/admin/jobs/../../api":         "/admin/jobs",
		"/admin/jobs/../login":          "/admin/jobs",
		"/admin/jobs/%2e%2e/%2e%2e/api": "/admin/jobs",
		"/admin/jobs/./media/../media":  "/admin/jobs/media",
		"/admin/jobs/media/..":          "/admin/jobs",
		"/admin/jobs//media":            "/admin/jobs/media",
		"/admin/jobs/media%0d%0aX: y":   "/admin/jobs",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSessionExpiresAndTokenRotationEndsIt(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	f := newFixture(t, func(c *Config) { c.Now, c.SessionTTL = clock, time.Hour })
	cookie, _ := f.login(t)
	if res, _ := f.do(t, request{path: "/admin/jobs", cookie: cookie}); res.StatusCode != 200 {
		t.Fatalf("fresh session: %d", res.StatusCode)
	}
	now.Add(int64(2 * time.Hour))
	if res, _ := f.do(t, request{path: "/admin/jobs", cookie: cookie}); res.StatusCode != 303 {
		t.Fatalf("expired session: %d", res.StatusCode)
	}
	other, err := New(Config{Backend: f.backend, AdminToken: "another-token"})
	if err != nil {
		t.Fatal(err)
	}
	now.Add(-int64(2 * time.Hour))
	if other.auth.VerifyCookie(cookie) {
		t.Fatal("a session survived a token change")
	}
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	cookie, csrf := f.login(t)
	path := "/admin/jobs/media/pause"
	for _, tc := range []struct {
		name   string
		req    request
		status int
	}{
		{"cookie without token", request{cookie: cookie, form: url.Values{}}, 403},
		{"cookie with wrong token", request{cookie: cookie, form: url.Values{"csrf": {"x" + csrf}}}, 403},
		{"cookie, token, cross-origin", request{cookie: cookie, form: url.Values{"csrf": {csrf}}, origin: "https://evil.example"}, 403},
		{"bearer, cross-origin", request{bearer: testToken, form: url.Values{}, origin: "https://evil.example"}, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.method, tc.req.path = "POST", path
			if res, body := f.do(t, tc.req); res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tc.status, body)
			}
			if paused, _ := f.media.IsPaused(t.Context()); paused {
				t.Fatal("a refused request paused the queue")
			}
		})
	}
	res, _ := f.do(t, request{method: "POST", path: path, cookie: cookie, form: url.Values{"csrf": {csrf}}, origin: "http://example.com"})
	if paused, _ := f.media.IsPaused(t.Context()); res.StatusCode != 303 || !paused {
		t.Fatalf("same-origin pause with token: %d paused=%v", res.StatusCode, paused)
	}
	res, _ = f.do(t, request{method: "POST", path: "/admin/jobs/media/resume", bearer: testToken, form: url.Values{}})
	if paused, _ := f.media.IsPaused(t.Context()); res.StatusCode != 303 || paused {
		t.Fatalf("bearer resume: %d paused=%v", res.StatusCode, paused)
	}
}

func TestNoAdminTokenDisablesLogin(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *Config) { c.AdminToken = "" })
	res, body := f.do(t, request{path: "/admin/login"})
	if res.StatusCode != 200 || !strings.Contains(body, "dashboard is off") {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
	res, _ = f.do(t, request{method: "POST", path: "/admin/login", form: url.Values{"token": {""}}})
	if res.StatusCode != 503 || len(res.Cookies()) != 0 {
		t.Fatalf("login without a configured token: %d", res.StatusCode)
	}
	if res, _ := f.do(t, request{path: "/admin/jobs", bearer: " "}); res.StatusCode == 200 {
		t.Fatal("empty token let a request in")
	}
}
