package dashboard

import (
	"context"
	"net/url"
	"testing"

	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/jobq"
)

// TestEveryPostRouteNeedsCSRF: every dashboard POST route (each queue and
// job action, and logout), sent with a valid session cookie but without
// the CSRF token, or with another session's, is 403 and changes nothing.
// With the right token the same request works, so the 403 is the CSRF
// check and not a bad request.
func TestEveryPostRouteNeedsCSRF(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	cookie, csrf := f.login(t)
	other, _ := f.login(t)
	otherCSRF := f.server.auth.CSRFToken(other)
	ctx := context.Background()
	q := jobq.NewQueue(queues.QueueMedia, f.backend.Driver, nil)
	state := func(id string) jobq.State {
		j, err := q.GetJob(ctx, id)
		if err != nil || j == nil {
			return "" // removed
		}
		s, err := j.State(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// Every POST route of addDashboardRoutes (internal/httpapi) but the
	// login form (which has no session yet), with the state it must not
	// change.
	routes := []struct {
		path      string
		unchanged func() bool
	}{
		{"/admin/jobs/media/pause", func() bool { p, _ := q.IsPaused(ctx); return !p }},
		{"/admin/jobs/media/resume", func() bool { return true }}, // paused below, then checked
		{"/admin/jobs/media/retry-all", func() bool { return state("boom-1") == jobq.StateFailed }},
		{"/admin/jobs/media/clean", func() bool { return state("ok-1") == jobq.StateCompleted }},
		{"/admin/jobs/media/boom-2/retry", func() bool { return state("boom-2") == jobq.StateFailed }},
		{"/admin/jobs/media/later-1/promote", func() bool { return state("later-1") == jobq.StateDelayed }},
		{"/admin/jobs/media/wait-1/remove", func() bool { return state("wait-1") == jobq.StateWaiting }},
		{"/admin/logout", func() bool { return f.server.auth.VerifyCookie(cookie) }},
	}
	for _, rt := range routes {
		for name, form := range map[string]url.Values{
			"no token":               {"state": {"failed"}},
			"empty token":            {"csrf": {""}, "state": {"failed"}},
			"another session's":      {"csrf": {otherCSRF}, "state": {"failed"}},
			"the token, one bit off": {"csrf": {csrf[:len(csrf)-1] + string(csrf[len(csrf)-1]^1)}},
		} {
			res, _ := f.do(t, request{method: "POST", path: rt.path, cookie: cookie, form: form})
			if res.StatusCode != 403 {
				t.Errorf("POST %s, %s: %d, want 403", rt.path, name, res.StatusCode)
			}
			if !rt.unchanged() {
				t.Fatalf("POST %s, %s changed state", rt.path, name)
			}
		}
	}
	// The resume check: pause with the token, then resume without it.
	if res, _ := f.do(t, request{method: "POST", path: "/admin/jobs/media/pause", cookie: cookie, form: url.Values{"csrf": {csrf}}}); res.StatusCode != 303 {
		t.Fatalf("pause with the token: %d", res.StatusCode)
	}
	if res, _ := f.do(t, request{method: "POST", path: "/admin/jobs/media/resume", cookie: cookie, form: url.Values{}}); res.StatusCode != 403 {
		t.Errorf("resume without the token: %d, want 403", res.StatusCode)
	}
	if p, _ := q.IsPaused(ctx); !p {
		t.Error("resume without the token resumed the queue")
	}
	// With the token, a job action works.
	if res, _ := f.do(t, request{method: "POST", path: "/admin/jobs/media/boom-2/retry", cookie: cookie, form: url.Values{"csrf": {csrf}}}); res.StatusCode != 303 {
		t.Errorf("retry with the token: %d, want 303", res.StatusCode)
	}
	if s := state("boom-2"); s == jobq.StateFailed {
		t.Error("retry with the token left the job failed")
	}
}
