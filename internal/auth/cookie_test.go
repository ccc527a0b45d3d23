package auth

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const testToken = "s3cret-admin-token"

// clock is a settable clock.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	return c
}

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func TestNewCookie(t *testing.T) {
	t.Parallel()
	a := New(Config{AdminToken: testToken, CookieTTL: time.Hour})
	c := mustCookie(t, a, httptest.NewRequest("POST", "/admin/login", nil))
	if c.Name != "atlas_admin" || c.Path != "/admin" || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure || c.MaxAge != 3600 {
		t.Fatalf("cookie %+v", c)
	}
	if !strings.HasPrefix(c.Value, "v2.") || strings.Contains(c.Value, testToken) {
		t.Fatalf("cookie value %q", c.Value)
	}
	if !a.VerifyCookie(c.Value) {
		t.Fatal("a fresh cookie does not verify")
	}

	// Secure over TLS or behind a TLS-terminating proxy.
	r := httptest.NewRequest("POST", "/admin/login", nil)
	r.TLS = &tls.ConnectionState{}
	if !mustCookie(t, a, r).Secure {
		t.Fatal("TLS cookie is not Secure")
	}
	r = httptest.NewRequest("POST", "/admin/login", nil)
	r.Header.Set("X-Forwarded-Proto", "https")
	if !mustCookie(t, a, r).Secure || !a.ClearCookie(r).Secure {
		t.Fatal("X-Forwarded-Proto: https cookie is not Secure")
	}

	cl := a.ClearCookie(httptest.NewRequest("POST", "/admin/logout", nil))
	if cl.Name != "atlas_admin" || cl.Path != "/admin" || cl.Value != "" || cl.MaxAge >= 0 || !cl.HttpOnly {
		t.Fatalf("clearing cookie %+v", cl)
	}
}

func TestDefaultCookieTTL(t *testing.T) {
	t.Parallel()
	if c := mustCookie(t, New(Config{AdminToken: testToken}), httptest.NewRequest("POST", "/", nil)); c.MaxAge != 12*3600 {
		t.Fatalf("MaxAge %d, want 12h", c.MaxAge)
	}
}

func TestVerifyCookie(t *testing.T) {
	t.Parallel()
	clk := newClock()
	a := New(Config{AdminToken: testToken, CookieTTL: time.Hour, Now: clk.now})
	v := mustCookie(t, a, httptest.NewRequest("POST", "/", nil)).Value
	parts := strings.Split(v, ".")
	if len(parts) != 4 {
		t.Fatalf("cookie value %q", v)
	}
	j := func(p ...string) string { return strings.Join(p, ".") }
	flip := func(s string) string {
		b := []byte(s)
		b[len(b)/2] ^= 1
		return string(b)
	}
	tests := []struct {
		name, value string
		want        bool
	}{
		{"issued", v, true},
		{"tampered mac", j(parts[0], parts[1], parts[2], flip(parts[3])), false},
		{"tampered id", j(parts[0], parts[1], flip(parts[2]), parts[3]), false},
		{"later expiry, same mac", j(parts[0], "99999999999", parts[2], parts[3]), false},
		{"other version", j("v1", parts[1], parts[2], parts[3]), false},
		{"v1 form", j("v1", parts[1], parts[3]), false},
		{"no mac", j(parts[0], parts[1], parts[2]), false},
		{"empty mac", j(parts[0], parts[1], parts[2], ""), false},
		{"not a number", j(parts[0], "soon", parts[2], parts[3]), false},
		{"the token itself", testToken, false},
		{"empty", "", false},
		{"trailing junk", v + "x", false},
	}
	for _, tc := range tests {
		if got := a.VerifyCookie(tc.value); got != tc.want {
			t.Errorf("%s: VerifyCookie(%q) = %v, want %v", tc.name, tc.value, got, tc.want)
		}
	}

	// Another token (a rotation) or none refuses it.
	if New(Config{AdminToken: "another-token", Now: clk.now}).VerifyCookie(v) {
		t.Error("a cookie survived a token change")
	}
	if New(Config{Now: clk.now}).VerifyCookie(v) {
		t.Error("a cookie verified with admin access off")
	}

	// It expires after CookieTTL.
	clk.advance(time.Hour - time.Second)
	if !a.VerifyCookie(v) {
		t.Error("cookie expired early")
	}
	clk.advance(time.Second)
	if a.VerifyCookie(v) {
		t.Error("cookie outlived its TTL")
	}
}

// TestRevokeCookie: a revoked session's cookie, MAC and expiry intact,
// is refused (logout); a MAC-valid value whose id the store never issued
// (a forged session) is refused too; other sessions live on.
func TestRevokeCookie(t *testing.T) {
	t.Parallel()
	a := New(Config{AdminToken: testToken})
	v1 := mustCookie(t, a, httptest.NewRequest("POST", "/", nil)).Value
	v2 := mustCookie(t, a, httptest.NewRequest("POST", "/", nil)).Value
	if err := a.RevokeCookie(context.Background(), v1); err != nil {
		t.Fatal(err)
	}
	if a.VerifyCookie(v1) || !a.VerifyCookie(v2) {
		t.Fatalf("after revoking the first: %v %v, want false true", a.VerifyCookie(v1), a.VerifyCookie(v2))
	}
	parts := strings.Split(v2, ".")
	id := "forgedid"
	forged := strings.Join([]string{parts[0], parts[1], id, a.mac("session|" + parts[0] + "|" + parts[1] + "|" + id)}, ".")
	if a.VerifyCookie(forged) {
		t.Error("a session id the store never issued verified")
	}
	if err := a.RevokeCookie(context.Background(), "junk"); err != nil {
		t.Errorf("revoking junk: %v", err)
	}
}

func TestCookieSession(t *testing.T) {
	t.Parallel()
	a := New(Config{AdminToken: testToken})
	v := mustCookie(t, a, httptest.NewRequest("POST", "/", nil)).Value
	for _, tc := range []struct {
		name, cookie string
		ok           bool
	}{
		{"valid", v, true},
		{"invalid", v + "x", false},
		{"none", "", false},
	} {
		r := httptest.NewRequest("GET", "/admin/jobs", nil)
		if tc.cookie != "" {
			r.AddCookie(&http.Cookie{Name: CookieName, Value: tc.cookie})
		}
		got, ok := a.CookieSession(r)
		if ok != tc.ok || (ok && got != v) || (!ok && got != "") {
			t.Errorf("%s: CookieSession = %q, %v", tc.name, got, ok)
		}
	}
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	clk := newClock()
	a := New(Config{AdminToken: testToken, Now: clk.now})
	s1 := mustCookie(t, a, httptest.NewRequest("POST", "/", nil)).Value
	clk.advance(time.Second)
	s2 := mustCookie(t, a, httptest.NewRequest("POST", "/", nil)).Value
	c1, c2 := a.CSRFToken(s1), a.CSRFToken(s2)
	if c1 == "" || c1 == c2 || c1 == s1 || strings.Contains(c1, testToken) {
		t.Fatalf("CSRF tokens %q %q for sessions %q %q", c1, c2, s1, s2)
	}
	if a.CSRFToken(s1) != c1 {
		t.Fatal("CSRFToken is not stable for a session")
	}
	tests := []struct {
		name, session, token string
		want                 bool
	}{
		{"right", s1, c1, true},
		{"other session's", s1, c2, false},
		{"prefixed", s1, "x" + c1, false},
		{"truncated", s1, c1[:len(c1)-1], false},
		{"empty", s1, "", false},
		{"the session itself", s1, s1, false},
	}
	for _, tc := range tests {
		if got := a.VerifyCSRF(tc.session, tc.token); got != tc.want {
			t.Errorf("%s: VerifyCSRF = %v, want %v", tc.name, got, tc.want)
		}
	}
	if other := New(Config{AdminToken: "another-token", Now: clk.now}); other.VerifyCSRF(s1, c1) {
		t.Error("a CSRF token survived a token change")
	}
	if off := New(Config{Now: clk.now}); off.VerifyCSRF(s1, off.CSRFToken(s1)) {
		t.Error("CSRF verified with admin access off")
	}
}

func TestSameOrigin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		headers map[string]string
		want    bool
	}{
		{"no headers (curl)", nil, true},
		{"same origin", map[string]string{"Origin": "http://example.com"}, true},
		{"same origin, other case", map[string]string{"Origin": "http://EXAMPLE.com"}, true},
		{"cross origin", map[string]string{"Origin": "https://evil.example"}, false},
		{"null origin", map[string]string{"Origin": "null"}, false},
		{"same referer", map[string]string{"Referer": "http://example.com/admin/jobs"}, true},
		{"cross referer", map[string]string{"Referer": "https://evil.example/x"}, false},
		{"origin wins over referer", map[string]string{"Origin": "https://evil.example", "Referer": "http://example.com/"}, false},
		{"sec-fetch-site cross-site", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "http://example.com"}, false},
		{"sec-fetch-site same-site", map[string]string{"Sec-Fetch-Site": "same-site"}, false},
		{"sec-fetch-site same-origin", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://example.com"}, true},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("POST", "http://example.com/admin/jobs/media/pause", nil)
		for k, v := range tc.headers {
			r.Header.Set(k, v)
		}
		if got := SameOrigin(r); got != tc.want {
			t.Errorf("%s: SameOrigin = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func FuzzVerifyCookie(f *testing.F) {
	clk := newClock()
	a := New(Config{AdminToken: testToken, Now: clk.now})
	c, err := a.NewCookie(httptest.NewRequest("POST", "/", nil))
	if err != nil {
		f.Fatal(err)
	}
	v := c.Value
	for _, s := range []string{v, "", "v2.", "v2.1.", "v2.-1.x.y", "v2.99999999999999999999.x.y", testToken} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		if a.VerifyCookie(value) && value != v {
			t.Fatalf("VerifyCookie accepted a forged value %q", value)
		}
	})
}

func mustCookie(t testing.TB, a *Authenticator, r *http.Request) *http.Cookie {
	t.Helper()
	c, err := a.NewCookie(r)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
