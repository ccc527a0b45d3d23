package dashboard

import (
	"net/url"
	"strings"
	"testing"

	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/jobq"
)

// TestLogoutEndsTheSession: a cookie captured before logout no longer
// works after it, for pages and for actions (with its CSRF token), while
// another login's cookie still does.
func TestLogoutEndsTheSession(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	cookie, csrf := f.login(t)
	other, _ := f.login(t)
	if res, _ := f.do(t, request{path: "/admin/jobs", cookie: cookie}); res.StatusCode != 200 {
		t.Fatalf("before logout: %d", res.StatusCode)
	}
	res, _ := f.do(t, request{method: "POST", path: "/admin/logout", cookie: cookie, form: url.Values{"csrf": {csrf}}})
	if res.StatusCode != 303 {
		t.Fatalf("logout: %d", res.StatusCode)
	}
	if res, _ := f.do(t, request{path: "/admin/jobs", cookie: cookie}); res.StatusCode != 303 {
		t.Errorf("GET with the logged-out cookie: %d, want 303 to the login form", res.StatusCode)
	}
	res, _ = f.do(t, request{method: "POST", path: "/admin/jobs/media/pause", cookie: cookie, form: url.Values{"csrf": {csrf}}})
	if res.StatusCode != 303 || !strings.HasPrefix(res.Header.Get("Location"), "/admin/login") {
		t.Errorf("action with the logged-out cookie: %d to %q, want the login form", res.StatusCode, res.Header.Get("Location"))
	}
	if paused, _ := jobq.NewQueue(queues.QueueMedia, f.backend.Driver, nil).IsPaused(t.Context()); paused {
		t.Error("the logged-out cookie paused the queue")
	}
	if res, _ := f.do(t, request{path: "/admin/jobs", cookie: other}); res.StatusCode != 200 {
		t.Errorf("another session after this logout: %d, want 200", res.StatusCode)
	}
}
