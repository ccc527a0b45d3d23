package app_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/sevra/atlas/internal/app"
	"github.com/sevra/atlas/internal/app/apptest"
	"github.com/sevra/atlas/internal/auth"
	"github.com/sevra/atlas/internal/store/storetest"
)

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// TestDashboardOffWithoutAdminToken: with an empty admin token no /admin
// route is mounted, and a forged session cookie (as the empty token's key
// would sign it, or any value) reaches nothing.
func TestDashboardOffWithoutAdminToken(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, app.Config{DataDir: storetest.TempDataDir(t), HTTP: true}, nil, true)
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	forged := []string{"", "v1.99999999999.AAAA", "v2.99999999999.id.AAAA"}
	for _, path := range []string{"/admin/login", "/admin/jobs", "/admin/jobs/media", "/admin/jobs/media/failed-1"} {
		for _, c := range forged {
			req, _ := http.NewRequest("GET", srv.URL+path, nil)
			if c != "" {
				req.AddCookie(&http.Cookie{Name: auth.CookieName, Value: c})
			}
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 404 {
				t.Errorf("GET %s with cookie %q: %d, want 404 (not mounted)", path, c, resp.StatusCode)
			}
		}
	}
	for _, path := range []string{"/admin/login", "/admin/logout", "/admin/jobs/media/pause", "/admin/jobs/media/x/retry"} {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader("token=&csrf=x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: auth.CookieName, Value: forged[2]})
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 && resp.StatusCode != 405 {
			t.Errorf("POST %s: %d, want 404/405 (not mounted)", path, resp.StatusCode)
		}
	}
}

// TestDashboardLogoutEndsSessionInEveryProcess: two processes on one
// database (serve ×2); a cookie from one, logged out on the other, is
// refused by both.
func TestDashboardLogoutEndsSessionInEveryProcess(t *testing.T) {
	t.Parallel()
	const token = "dash-logout-token"
	dir := storetest.TempDataDir(t)
	one := apptest.Start(t, app.Config{DataDir: dir, HTTP: true, AdminToken: token}, nil, true)
	two := apptest.Start(t, app.Config{DataDir: dir, HTTP: true, AdminToken: token}, nil, true)
	s1, s2 := httptest.NewServer(one.Handler()), httptest.NewServer(two.Handler())
	t.Cleanup(s1.Close)
	t.Cleanup(s2.Close)
	resp, err := noRedirect.PostForm(s1.URL+"/admin/login", url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == auth.CookieName {
			cookie = c
		}
	}
	if resp.StatusCode != 303 || cookie == nil {
		t.Fatalf("login: %d %v", resp.StatusCode, resp.Cookies())
	}
	get := func(base string) int {
		req, _ := http.NewRequest("GET", base+"/admin/jobs", nil)
		req.AddCookie(cookie)
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if a, b := get(s1.URL), get(s2.URL); a != 200 || b != 200 {
		t.Fatalf("before logout: %d %d, want 200 on both", a, b)
	}
	// Log out on the second process: the CSRF token is in its page.
	req, _ := http.NewRequest("GET", s2.URL+"/admin/jobs", nil)
	req.AddCookie(cookie)
	page, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := new(strings.Builder)
	_, _ = io.Copy(body, page.Body)
	page.Body.Close()
	csrf := csrfField(t, body.String())
	req, _ = http.NewRequest("POST", s2.URL+"/admin/logout", strings.NewReader(url.Values{"csrf": {csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(cookie)
	out, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	out.Body.Close()
	if out.StatusCode != 303 {
		t.Fatalf("logout: %d", out.StatusCode)
	}
	if a, b := get(s1.URL), get(s2.URL); a != 303 || b != 303 {
		t.Errorf("after logout: %d %d, want 303 (to the login form) on both", a, b)
	}
}

// csrfField returns the value of the first csrf hidden field in page.
func csrfField(t *testing.T, page string) string {
	t.Helper()
	const marker = `name="csrf" value="`
	i := strings.Index(page, marker)
	if i < 0 {
		t.Fatalf("no csrf field in the page")
	}
	rest := page[i+len(marker):]
	return rest[:strings.IndexByte(rest, '"')]
}
