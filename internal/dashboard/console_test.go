package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/jobq"
)

// countingDriver counts Counts calls to show what the shared cache saves.
type countingDriver struct {
	jobq.Backend
	counts atomic.Int64
}

func (c *countingDriver) Counts(ctx context.Context, queue string, states []string) (map[string]int64, error) {
	c.counts.Add(1)
	return c.Backend.Counts(ctx, queue, states)
}

// TestLiveETagAndSharedCache: the overview carries an ETag, answers 304
// to it, changes after a job is added, and 40 tabs polling at once cost
// one set of backend reads per cache interval.
func TestLiveETagAndSharedCache(t *testing.T) {
	t.Parallel()
	var cd *countingDriver
	f := newFixture(t, func(c *Config) {
		cd = &countingDriver{Backend: c.Backend.Driver}
		c.Backend = &queues.Backend{Driver: cd, Kind: c.Backend.Kind, Location: c.Backend.Location}
		c.LiveInterval = time.Hour // the cache never expires in this test
	})
	res, body := f.do(t, request{path: "/admin/jobs", bearer: testToken})
	etag := res.Header.Get("ETag")
	if res.StatusCode != 200 || etag == "" || !strings.Contains(body, `data-etag="`) || !strings.Contains(body, `<script src="/admin/assets/live.js" defer></script>`) || !strings.Contains(body, `id="live-toggle"`) {
		t.Fatalf("overview: %d, ETag %q; live markup missing", res.StatusCode, etag)
	}
	before := cd.counts.Load()
	var wg sync.WaitGroup
	var notModified atomic.Int64
	for range 40 {
		wg.Go(func() {
			req := httptest.NewRequest("GET", "/admin/jobs", nil)
			req.Header.Set("Authorization", "Bearer "+testToken)
			req.Header.Set("If-None-Match", etag)
			rec := httptest.NewRecorder()
			f.handler.ServeHTTP(rec, req)
			if rec.Code == http.StatusNotModified {
				notModified.Add(1)
			}
		})
	}
	wg.Wait()
	if n := notModified.Load(); n != 40 {
		t.Errorf("%d of 40 polls answered 304, want all", n)
	}
	if got := cd.counts.Load() - before; got != 0 {
		t.Errorf("40 polls within the cache interval made %d Counts calls, want 0", got)
	}
	// An action clears the cache; the page then changes.
	cookie, csrf := f.login(t)
	r, _ := f.do(t, request{method: "POST", path: "/admin/jobs/media/pause", cookie: cookie, form: url.Values{"csrf": {csrf}}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("pause: %d", r.StatusCode)
	}
	res2, body2 := f.do(t, request{path: "/admin/jobs", bearer: testToken})
	if e2 := res2.Header.Get("ETag"); e2 == etag || !strings.Contains(body2, `<span class="badge warn">paused</span>`) {
		t.Errorf("after pause: ETag %q (was %q), paused badge shown: %v", e2, etag, strings.Contains(body2, "paused</span>"))
	}
	res3, _ := f.do(t, request{path: "/admin/assets/live.js"})
	if res3.StatusCode != 200 || !strings.HasPrefix(res3.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("live.js: %d %q", res3.StatusCode, res3.Header.Get("Content-Type"))
	}
	if csp := res2.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
}

func TestSearchAndFilters(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"state=failed&q=boom-1", []string{"boom-1"}},                    // by id
		{"state=failed&q=" + url.QueryEscape(`"2"`), []string{"boom-2"}}, // by data
		{"state=failed&q=SCRIPT", []string{"boom-1"}},                    // data, any case
		{"state=failed&name=boom", []string{"boom-1", "boom-2"}},         // by name
		{"state=failed&name=generate-variants", nil},
		{"state=completed&q=ok-1", []string{"ok-1"}},
		{"state=waiting&q=ok-1", nil}, // the id exists, in another state
	} {
		_, body := f.do(t, request{path: "/admin/jobs/media?" + c.query, bearer: testToken})
		var got []string
		for _, part := range strings.Split(body, `<tr data-job="`)[1:] {
			got = append(got, part[:strings.IndexByte(part, '"')])
		}
		slices.Sort(got) // finish times may tie within a millisecond
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s: rows %v, want %v", c.query, got, c.want)
		}
		if !strings.Contains(body, `id="search-summary"`) {
			t.Errorf("%s: no search summary", c.query)
		}
	}
}

func TestBulkRetryAllWithConfirmation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	cookie, csrf := f.login(t)
	form := url.Values{"csrf": {csrf}, "op": {"retry"}, "all": {"1"}, "state": {"failed"}}
	res, body := f.do(t, request{method: "POST", path: "/admin/jobs/media/bulk", cookie: cookie, form: form})
	if res.StatusCode != 200 || !strings.Contains(body, "Retry 2 all failed job(s) of media?") {
		t.Fatalf("confirmation: %d\n%s", res.StatusCode, body)
	}
	c, _ := f.media.GetJobCounts(t.Context(), jobq.StateFailed)
	if c[jobq.StateFailed] != 2 {
		t.Fatalf("the confirmation page changed something: failed %d", c[jobq.StateFailed])
	}
	form.Set("csrf", "wrong")
	form.Set("confirm", "yes")
	if res, _ := f.do(t, request{method: "POST", path: "/admin/jobs/media/bulk", cookie: cookie, form: form}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("bulk with a wrong CSRF token: %d, want 403", res.StatusCode)
	}
	form.Set("csrf", csrf)
	res, _ = f.do(t, request{method: "POST", path: "/admin/jobs/media/bulk", cookie: cookie, form: form})
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "done=bulk-retry&n=2") {
		t.Fatalf("confirmed bulk: %d %q", res.StatusCode, loc)
	}
	c, _ = f.media.GetJobCounts(t.Context(), jobq.StateFailed, jobq.StateWaiting)
	if c[jobq.StateFailed] != 0 || c[jobq.StateWaiting] != 3 {
		t.Fatalf("after bulk retry: %v, want 0 failed, 3 waiting", c)
	}
	_, body = f.do(t, request{path: "/admin/jobs/media?state=failed&done=bulk-retry&n=2", cookie: cookie})
	mustContain(t, "notice", body, "2 job(s) moved back to waiting.")

	// A selection: remove one delayed job by id.
	form = url.Values{"csrf": {csrf}, "op": {"remove"}, "state": {"delayed"}, "ids": {"later-1"}}
	_, body = f.do(t, request{method: "POST", path: "/admin/jobs/media/bulk", cookie: cookie, form: form})
	mustContain(t, "selection confirmation", body, "Remove 1 selected job(s) of media?", "<code>later-1</code>")
	form.Set("confirm", "yes")
	f.do(t, request{method: "POST", path: "/admin/jobs/media/bulk", cookie: cookie, form: form})
	if _, err := f.media.GetJob(t.Context(), "later-1"); err == nil {
		t.Fatal("later-1 still exists after bulk remove")
	}
}

func TestDrainAndSchedulerActions(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	cookie, csrf := f.login(t)
	form := url.Values{"csrf": {csrf}, "state": {"waiting"}}
	_, body := f.do(t, request{method: "POST", path: "/admin/jobs/media/drain", cookie: cookie, form: form})
	mustContain(t, "drain confirmation", body, "Drain removes 1 waiting and prioritized job(s) of media.")
	form.Set("confirm", "yes")
	res, _ := f.do(t, request{method: "POST", path: "/admin/jobs/media/drain", cookie: cookie, form: form})
	c, _ := f.media.GetJobCounts(t.Context(), jobq.StateWaiting, jobq.StateDelayed)
	if res.StatusCode != http.StatusSeeOther || c[jobq.StateWaiting] != 0 || c[jobq.StateDelayed] != 1 {
		t.Fatalf("drain: %d, counts %v", res.StatusCode, c)
	}

	maint := jobq.NewQueue(queues.QueueMaintenance, f.backend.Driver, nil)
	sched := url.Values{"csrf": {csrf}, "scheduler": {"nightly-sitemap"}, "from": {"overview"}}
	if res, _ := f.do(t, request{method: "POST", path: "/admin/jobs/maintenance/scheduler-run", cookie: cookie, form: sched}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("run now: %d", res.StatusCode)
	}
	jobs, _ := maint.GetJobs(t.Context(), []jobq.State{jobq.StateWaiting}, 0, -1, false)
	if len(jobs) != 1 || jobs[0].Name != "rebuild-sitemap" {
		t.Fatalf("after run now, waiting %v", jobs)
	}
	f.do(t, request{method: "POST", path: "/admin/jobs/maintenance/scheduler-pause", cookie: cookie, form: sched})
	if s, err := maint.GetJobScheduler(t.Context(), "nightly-sitemap"); err != nil || !s.Paused {
		t.Fatalf("after pause: %+v %v", s, err)
	}
	_, body = f.do(t, request{path: "/admin/jobs", cookie: cookie})
	mustContain(t, "paused scheduler", body, `<tr data-scheduler="nightly-sitemap"><td>maintenance</td><td>nightly-sitemap <span class="badge warn">paused</span>`, `<button class="resume">Resume</button>`)
	f.do(t, request{method: "POST", path: "/admin/jobs/maintenance/scheduler-resume", cookie: cookie, form: sched})
	if s, err := maint.GetJobScheduler(t.Context(), "nightly-sitemap"); err != nil || s.Paused {
		t.Fatalf("after resume: %+v %v", s, err)
	}
	_, body = f.do(t, request{method: "POST", path: "/admin/jobs/maintenance/scheduler-remove", cookie: cookie, form: sched})
	mustContain(t, "remove confirmation", body, "Remove scheduler nightly-sitemap of maintenance")
	if _, err := maint.GetJobScheduler(t.Context(), "nightly-sitemap"); err != nil {
		t.Fatalf("the confirmation page removed the scheduler: %v", err)
	}
}

func TestAlertsShownAndExported(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *Config) {
		c.Alerts = map[string]Thresholds{"": {FailedRate: 0.5}, "analytics": {OldestWaiting: time.Minute}}
	})
	_, body := f.do(t, request{path: "/admin/jobs", bearer: testToken})
	// media: 2 failed, 1 completed in the hour = 66.7% > 50%.
	mustContain(t, "alerts", body, `<tr data-queue="media" class="alerting">`, `data-alert="failed_rate">failed 66.7% &gt; 50.0%</span>`)
	reg := prometheus.NewRegistry()
	reg.MustRegister(f.server.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			got[key] = m.GetGauge().GetValue()
		}
	}
	for k, want := range map[string]float64{
		"atlas_jobs_alert_firing,alert=failed_rate,queue=media":           1,
		"atlas_jobs_alert_firing,alert=failed_rate,queue=analytics":       0,
		"atlas_jobs_alert_threshold,alert=failed_rate,queue=media":        0.5,
		"atlas_jobs_alert_threshold,alert=oldest_waiting,queue=analytics": 60,
		"atlas_jobs_alert_threshold,alert=failed_rate,queue=analytics":    0,
	} {
		if v, ok := got[k]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", k, v, ok, want)
		}
	}
	if v := got["atlas_jobs_failed_ratio,queue=media"]; v < 0.666 || v > 0.667 {
		t.Errorf("failed ratio of media %v, want 2/3", v)
	}
	if v := got["atlas_jobs_oldest_waiting_seconds,queue=media"]; v <= 0 || v > 60 {
		t.Errorf("oldest waiting of media %v s, want a few seconds (wait-1)", v)
	}
}

func TestChartsOptsAndFamily(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	_, body := f.do(t, request{path: "/admin/jobs/media?state=failed", bearer: testToken})
	mustContain(t, "charts", body, "<h3>Last hour: 1 completed, 2 failed</h3>", "<h3>Last day: 1 completed, 2 failed</h3>",
		`<svg viewBox="0 0 600 160"`, `class="series-completed"`, `class="series-failed"`, "3 job(s) still kept")
	ctx := t.Context()
	if _, err := f.media.Add(ctx, "generate-variants", nil, &jobq.JobOptions{JobID: "opts-1", Attempts: 5,
		Backoff: &jobq.Backoff{Type: jobq.BackoffExponential, Delay: time.Second}, Delay: 90 * time.Second}); err != nil {
		t.Fatal(err)
	}
	_, body = f.do(t, request{path: "/admin/jobs/media/opts-1", bearer: testToken})
	mustContain(t, "opts", body, "&#34;attempts&#34;: 5", "&#34;delay&#34;: 1000", "&#34;delay&#34;: 90000", "&#34;type&#34;: &#34;exponential&#34;")
	if strings.Contains(body, "JobID") || strings.Contains(body, "1000000000") {
		t.Errorf("opts shown as the Go struct:\n%s", body)
	}
	flow, err := jobq.NewFlowProducer(f.backend.Driver, nil).Add(ctx, jobq.FlowJob{Name: "parent", Queue: queues.QueueMaintenance,
		Opts: &jobq.JobOptions{JobID: "par-1"}, Children: []jobq.FlowJob{{Name: "child", Queue: queues.QueueAnalytics, Opts: &jobq.JobOptions{JobID: "kid-1"}}}})
	if err != nil {
		t.Fatal(err)
	}
	_ = flow
	_, body = f.do(t, request{path: "/admin/jobs/analytics/kid-1", bearer: testToken})
	mustContain(t, "child page", body, `<dd id="parent"><a href="/admin/jobs/maintenance/par-1">maintenance / par-1</a></dd>`)
	_, body = f.do(t, request{path: "/admin/jobs/maintenance/par-1", bearer: testToken})
	mustContain(t, "parent page", body, `<tr data-child="kid-1"><td><a href="/admin/jobs/analytics/kid-1">analytics / kid-1</a></td><td><span class="badge state-waiting">waiting</span>`)
}
