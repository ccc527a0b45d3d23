package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestFailedAuthIsRateLimited: 20 wrong Bearer tokens from one address
// are 401; the 21st and everything with credentials after it, the right
// token included, is 429 with Retry-After until the window lets one more
// failure in; other addresses are not affected.
func TestFailedAuthIsRateLimited(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	h, err := NewHandler(Deps{Store: &fakeStore{}, Registry: prometheus.NewRegistry(), AdminToken: "right-token", Now: clock,
		Reviews: &fakeReviews{}, Users: fakeUsers{}})
	if err != nil {
		t.Fatal(err)
	}
	call := func(addr, token string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/api/v1/salons/rose/reviews", strings.NewReader(`{"rating":4}`))
		req.RemoteAddr = addr + ":4000"
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for i := range 20 {
		if rec := call("203.0.113.9", "guess"); rec.Code != 401 {
			t.Fatalf("wrong token %d: %d, want 401", i+1, rec.Code)
		}
	}
	rec := call("203.0.113.9", "guess")
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "60" {
		t.Fatalf("21st wrong token: %d Retry-After %q, want 429 and 60", rec.Code, rec.Header().Get("Retry-After"))
	}
	// Blocked: the right token is not even checked.
	if rec := call("203.0.113.9", "right-token"); rec.Code != 429 {
		t.Errorf("right token from the blocked address: %d, want 429", rec.Code)
	}
	// Another address is unaffected; no credentials at all are not counted.
	if rec := call("198.51.100.7", "right-token"); rec.Code == 429 || rec.Code == 401 {
		t.Errorf("another address: %d", rec.Code)
	}
	req := httptest.NewRequest("GET", "/api/v1/cities", nil)
	req.RemoteAddr = "203.0.113.9:4000"
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Errorf("public read without credentials from the blocked address: %d, want 200", rec.Code)
	}
	mu.Lock()
	now = now.Add(61 * time.Second)
	mu.Unlock()
	if rec := call("203.0.113.9", "right-token"); rec.Code == 429 || rec.Code == 401 {
		t.Errorf("right token after the window: %d", rec.Code)
	}
}

// loginOnly is a Dashboard whose login form refuses every token (401).
type loginOnly struct{ Dashboard }

func (loginOnly) Login() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnauthorized) })
}
func (loginOnly) LoginForm() http.Handler { return http.NotFoundHandler() }
func (loginOnly) Logout() http.Handler    { return http.NotFoundHandler() }
func (loginOnly) Assets() http.Handler    { return http.NotFoundHandler() }
func (loginOnly) Script() http.Handler    { return http.NotFoundHandler() }
func (loginOnly) Overview() http.Handler  { return http.NotFoundHandler() }
func (loginOnly) Queue() http.Handler     { return http.NotFoundHandler() }
func (loginOnly) Job() http.Handler       { return http.NotFoundHandler() }
func (loginOnly) QueueAction() http.Handler {
	return http.NotFoundHandler()
}
func (loginOnly) JobAction() http.Handler { return http.NotFoundHandler() }

// TestFailedDashboardLoginsAreRateLimited: wrong tokens typed into the
// dashboard's login form count like wrong Bearer tokens. The form's
// answer is sent before its failure is counted, so the 21st wrong token
// still gets its 401 (the 21st wrong Bearer token gets 429: either way 21
// guesses are checked) and the 22nd attempt is refused unchecked.
func TestFailedDashboardLoginsAreRateLimited(t *testing.T) {
	t.Parallel()
	h, err := NewHandler(Deps{Store: &fakeStore{}, Registry: prometheus.NewRegistry(), AdminToken: "right-token", Dashboard: loginOnly{}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 22 {
		req := httptest.NewRequest("POST", "/admin/login", strings.NewReader("token=guess"))
		req.RemoteAddr = "203.0.113.20:5000"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		want := 401
		if i == 21 {
			want = 429
		}
		if rec.Code != want {
			t.Fatalf("login %d: %d, want %d", i+1, rec.Code, want)
		}
	}
}
