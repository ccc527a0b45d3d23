package dashboard

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq"
)

func jobState(t *testing.T, q *jobq.Queue, id string) jobq.State {
	t.Helper()
	j, err := q.GetJob(t.Context(), id)
	if err != nil {
		return "gone"
	}
	st, err := j.State(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestJobActions(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	cookie, csrf := f.login(t)
	post := func(path string, form url.Values) (int, string) {
		t.Helper()
		form.Set("csrf", csrf)
		res, _ := f.do(t, request{method: "POST", path: path, form: form, cookie: cookie, origin: "http://example.com"})
		return res.StatusCode, res.Header.Get("Location")
	}

	// Retry a failed job: back to waiting, and the redirect keeps the list.
	status, loc := post("/admin/jobs/media/boom-1/retry", url.Values{"state": {"failed"}, "page": {"1"}})
	if status != 303 || loc != "/admin/jobs/media?page=1&state=failed&done=retry" {
		t.Fatalf("retry: %d %q", status, loc)
	}
	if st := jobState(t, f.media, "boom-1"); st != jobq.StateWaiting {
		t.Fatalf("boom-1 after retry: %s", st)
	}
	_, body := f.do(t, request{path: loc, cookie: cookie})
	mustContain(t, "after retry", body, "Job moved back to waiting.", "page 1 of 1 (1 failed)")
	if strings.Contains(body, `data-job="boom-1"`) {
		t.Fatal("retried job still listed as failed")
	}
	// Retrying it again conflicts: it is no longer failed.
	if status, _ := post("/admin/jobs/media/boom-1/retry", url.Values{}); status != 409 {
		t.Fatalf("second retry: %d", status)
	}

	// Promote a delayed job; from the job page, back to the job page.
	status, loc = post("/admin/jobs/media/later-1/promote", url.Values{"from": {"job"}})
	if status != 303 || !strings.HasPrefix(loc, "/admin/jobs/media/later-1?") {
		t.Fatalf("promote: %d %q", status, loc)
	}
	if st := jobState(t, f.media, "later-1"); st != jobq.StateWaiting {
		t.Fatalf("later-1 after promote: %s", st)
	}

	// Remove.
	if status, _ := post("/admin/jobs/media/ok-1/remove", url.Values{"state": {"completed"}}); status != 303 {
		t.Fatalf("remove: %d", status)
	}
	if st := jobState(t, f.media, "ok-1"); st != "gone" {
		t.Fatalf("ok-1 after remove: %s", st)
	}

	// Retry all failed.
	if status, loc := post("/admin/jobs/media/retry-all", url.Values{"state": {"failed"}}); status != 303 || !strings.Contains(loc, "done=retry-all&n=1") {
		t.Fatalf("retry-all: %d %q", status, loc)
	}
	if st := jobState(t, f.media, "boom-2"); st != jobq.StateWaiting {
		t.Fatalf("boom-2 after retry-all: %s", st)
	}

	// A job id that needs escaping.
	id := "odd id/<x>"
	if _, err := f.media.Add(t.Context(), "generate-variants", nil, &jobq.JobOptions{JobID: id, Delay: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if status, _ := post("/admin/jobs/media/"+url.PathEscape(id)+"/promote", url.Values{}); status != 303 {
		t.Fatalf("promote odd id: %d", status)
	}
	if st := jobState(t, f.media, id); st != jobq.StateWaiting {
		t.Fatalf("odd id after promote: %s", st)
	}

	for path, want := range map[string]int{
		"/admin/jobs/media/nope-1/retry":   404,
		"/admin/jobs/media/boom-1/explode": 404,
		"/admin/jobs/elsewhere/pause":      404,
		"/admin/jobs/media/explode":        404,
	} {
		if status, _ := post(path, url.Values{}); status != want {
			t.Errorf("%s: %d, want %d", path, status, want)
		}
	}
}

func TestQueueActions(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	post := func(path string, form url.Values) int {
		t.Helper()
		res, _ := f.do(t, request{method: "POST", path: path, form: form, bearer: testToken})
		return res.StatusCode
	}
	if post("/admin/jobs/media/pause", url.Values{}) != 303 {
		t.Fatal("pause")
	}
	_, body := f.do(t, request{path: "/admin/jobs", bearer: testToken})
	mustContain(t, "overview", body, `<tr data-queue="media">
  <td><a href="/admin/jobs/media">media</a></td>
  <td><span class="badge warn">paused</span></td>`)
	if post("/admin/jobs/media/resume", url.Values{}) != 303 {
		t.Fatal("resume")
	}
	if p, _ := f.media.IsPaused(t.Context()); p {
		t.Fatal("still paused")
	}

	// Clean: a grace of 1h keeps the fresh failed jobs, 0s removes them.
	for _, bad := range []url.Values{{"clean_state": {"failed"}, "grace": {"soon"}}, {"clean_state": {"active"}, "grace": {"1h"}},
		{"clean_state": {"failed"}, "grace": {"-1h"}}} {
		if post("/admin/jobs/media/clean", bad) != 400 {
			t.Fatalf("clean %v accepted", bad)
		}
	}
	if post("/admin/jobs/media/clean", url.Values{"clean_state": {"failed"}, "grace": {"1h"}}) != 303 {
		t.Fatal("clean 1h")
	}
	waitCounts(t, f.media, map[jobq.State]int64{jobq.StateFailed: 2, jobq.StateCompleted: 1})
	if post("/admin/jobs/media/clean", url.Values{"clean_state": {"failed"}, "grace": {"0s"}}) != 303 {
		t.Fatal("clean 0s")
	}
	waitCounts(t, f.media, map[jobq.State]int64{jobq.StateFailed: 0, jobq.StateCompleted: 1})
}
