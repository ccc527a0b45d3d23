package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/seo"
	"github.com/sevra/atlas/internal/sitemap"
	"github.com/sevra/atlas/internal/store/storetest"
	"github.com/sevra/atlas/jobq"
)

// TestSitemapAdminRebuildEndToEnd: admin POST → 202 {job_id} → the real
// worker runs the job → /sitemap.xml serves an index whose gzipped
// children list the seeded salons, cities and published posts with
// absolute URLs; robots.txt points at the index.
func TestSitemapAdminRebuildEndToEnd(t *testing.T) {
	t.Parallel()
	p := newSEOProc(t, "", procOpts{})
	seedSEO(t, p.st, 5)
	if code, _, _ := p.do("GET", "/sitemap.xml", "", false); code != 404 {
		t.Errorf("/sitemap.xml before any rebuild = %d, want 404", code)
	}
	if code, _, _ := p.do("POST", "/api/v1/admin/sitemap/rebuild", "", false); code != 401 {
		t.Errorf("rebuild without token = %d, want 401", code)
	}
	code, _, body := p.do("POST", "/api/v1/admin/sitemap/rebuild", "", true)
	var res seo.RebuildResult
	if code != 202 || json.Unmarshal(body, &res) != nil || res.JobID == "" || res.Stats != nil || res.Mode != rollout.Async {
		t.Fatalf("rebuild = %d %s", code, body)
	}
	// A second request within the coalescing window gets the same job.
	_, _, body2 := p.do("POST", "/api/v1/admin/sitemap/rebuild", "", true)
	var res2 seo.RebuildResult
	json.Unmarshal(body2, &res2)
	if res2.JobID != res.JobID {
		t.Errorf("second request got job %s, want the coalesced %s", res2.JobID, res.JobID)
	}
	j := p.waitJob(res.JobID, 20*time.Second)
	var out seo.RebuildOutcome
	if json.Unmarshal(j.ReturnValue, &out) != nil || out.Result != "published" || out.Stats.Salons != 5 {
		t.Fatalf("job result %s", j.ReturnValue)
	}
	children, urls := p.sitemap()
	if len(children) != 3 {
		t.Errorf("children %v, want salons, cities, posts", children)
	}
	want := []string{testBaseURL + "/salons/salon-1", testBaseURL + "/salons/salon-5", testBaseURL + "/cities/tehran",
		testBaseURL + "/cities/isfahan", testBaseURL + "/posts/welcome", testBaseURL + "/posts/tips"}
	for _, u := range want {
		if !slices.Contains(urls, u) {
			t.Errorf("sitemap lacks %s (has %v)", u, urls)
		}
	}
	if len(urls) != 5+3+2 || slices.Contains(urls, testBaseURL+"/posts/draft") {
		t.Errorf("sitemap lists %d URLs, want 10 without the draft: %v", len(urls), urls)
	}
	code, _, robots := p.do("GET", "/robots.txt", "", false)
	if code != 200 || !strings.Contains(string(robots), "Sitemap: "+testBaseURL+"/sitemap.xml\n") {
		t.Errorf("robots.txt = %d %s", code, robots)
	}
	if code, _, _ := p.do("GET", "/sitemaps/../atlas.db", "", false); code == 200 {
		t.Error("path traversal served a file")
	}
}

// TestApproveVerificationsCoalesce: 20 approvals in a burst mark every
// salon verified at once (the cached salon answer is invalidated in the
// request), and their 20 seo-refresh jobs lead to one or two rebuilds,
// not 20. A second approval is 409, an unknown id 404.
func TestApproveVerificationsCoalesce(t *testing.T) {
	t.Parallel()
	testApproveVerificationsCoalesce(t, "")
}

func TestApproveVerificationsCoalescePostgres(t *testing.T) {
	t.Parallel()
	testApproveVerificationsCoalesce(t, storetest.IsolatedPostgresURL(t))
}

func testApproveVerificationsCoalesce(t *testing.T, dbURL string) {
	p := newSEOProc(t, "", procOpts{dbURL: dbURL})
	seedSEO(t, p.st, 20)
	var before struct{ Verified bool }
	code, _, body := p.do("GET", "/api/v1/salons/salon-1", "", false) // now cached for 10 s
	if code != 200 || json.Unmarshal(body, &before) != nil || before.Verified {
		t.Fatalf("salon-1 = %d %s", code, body)
	}
	var wg sync.WaitGroup
	for i := 1; i <= 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, _, body := p.do("POST", fmt.Sprintf("/api/v1/admin/verifications/%d/approve", i), "", true)
			if code != 200 {
				t.Errorf("approve %d = %d %s", i, code, body)
			}
		}()
	}
	wg.Wait()
	var after struct{ Verified bool }
	if _, _, body := p.do("GET", "/api/v1/salons/salon-1", "", false); json.Unmarshal(body, &after) != nil || !after.Verified {
		t.Errorf("salon-1 after approval (cache must be invalidated): %s", body)
	}
	if code, _, body := p.do("POST", "/api/v1/admin/verifications/1/approve", "", true); code != 409 || !strings.Contains(string(body), "already_approved") {
		t.Errorf("second approval = %d %s", code, body)
	}
	if code, _, _ := p.do("POST", "/api/v1/admin/verifications/9999/approve", "", true); code != 404 {
		t.Errorf("unknown verification = %d", code)
	}
	if code, _, _ := p.do("POST", "/api/v1/admin/verifications/2/approve", "", false); code != 401 {
		t.Errorf("approval without token = %d", code)
	}
	var verified int
	p.st.DB().QueryRow("SELECT count(*) FROM salons WHERE verified = TRUE").Scan(&verified)
	if verified != 20 {
		t.Errorf("%d salons verified, want 20", verified)
	}
	// Wait for the 20 seo-refresh jobs and whatever rebuilds they caused.
	time.Sleep(500 * time.Millisecond)
	p.waitIdle(30 * time.Second)
	refreshed, _ := p.maintenance().GetJobs(context.Background(), []jobq.State{jobq.StateCompleted}, 0, 999, true)
	n := 0
	for _, j := range refreshed {
		if j.Name == seo.JobSEORefresh {
			n++
		}
	}
	out := p.outcomes()
	if n != 20 || len(out["published"]) < 1 || len(out["published"]) > 2 {
		t.Fatalf("%d seo-refresh jobs, %d rebuilds published (%v); want 20 and 1 or 2", n, len(out["published"]), out)
	}
	t.Logf("20 approvals: %d rebuild(s) published, %d coalesced", len(out["published"]), len(out["coalesced"]))
}

// TestPatchSalonSlug: PATCH renames with slug history in one transaction;
// every old slug answers 301 straight to the current one (no chains, no
// loops, also after renaming back), and the next sitemap generation lists
// the new URL. Posts redirect the same way.
func TestPatchSalonSlug(t *testing.T) {
	t.Parallel()
	testPatchSalonSlug(t, "")
}

func TestPatchSalonSlugPostgres(t *testing.T) {
	t.Parallel()
	testPatchSalonSlug(t, storetest.IsolatedPostgresURL(t))
}

func testPatchSalonSlug(t *testing.T, dbURL string) {
	p := newSEOProc(t, "", procOpts{dbURL: dbURL})
	seedSEO(t, p.st, 3)
	if _, err := p.seo.RebuildNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	gen0 := p.liveID()
	if code, _, _ := p.do("PATCH", "/api/v1/salons/salon-2", `{"slug":"salon-2-new"}`, false); code != 401 {
		t.Errorf("PATCH without token = %d", code)
	}
	for _, tc := range []struct {
		body string
		code int
	}{
		{`{}`, 400}, {`{"slug":"a/b"}`, 400}, {`{"nope":1}`, 400}, {`{"slug":"salon-3"}`, 409}, {`{"name":""}`, 400},
	} {
		if code, _, body := p.do("PATCH", "/api/v1/salons/salon-2", tc.body, true); code != tc.code {
			t.Errorf("PATCH %s = %d %s, want %d", tc.body, code, body, tc.code)
		}
	}
	code, _, body := p.do("PATCH", "/api/v1/salons/salon-2", `{"slug":"salon-2-new","name":"Renamed","verified":true}`, true)
	var s struct {
		Slug, Name string
		Verified   bool
	}
	if code != 200 || json.Unmarshal(body, &s) != nil || s.Slug != "salon-2-new" || s.Name != "Renamed" || !s.Verified {
		t.Fatalf("PATCH = %d %s", code, body)
	}
	redirect := func(from, to string) {
		t.Helper()
		code, h, body := p.do("GET", "/api/v1/salons/"+from, "", false)
		if to == "" {
			if code != 200 {
				t.Errorf("GET %s = %d %s, want 200", from, code, body)
			}
			return
		}
		if code != 301 || h.Get("Location") != "/api/v1/salons/"+to {
			t.Errorf("GET %s = %d Location %q, want 301 to %s", from, code, h.Get("Location"), to)
		}
	}
	redirect("salon-2", "salon-2-new")
	redirect("salon-2-new", "")
	// The sitemap's next generation (the PATCH requested one) has the new URL.
	deadline := time.Now().Add(20 * time.Second)
	for p.liveID() == gen0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	_, urls := p.sitemap()
	if !slices.Contains(urls, testBaseURL+"/salons/salon-2-new") || slices.Contains(urls, testBaseURL+"/salons/salon-2") {
		t.Errorf("next generation: %v", urls)
	}
	// a → b → c, then back to a: every old slug resolves in one hop.
	for _, slug := range []string{"salon-2-newer", "salon-2"} {
		if code, _, body := p.do("PATCH", "/api/v1/salons/salon-2-new", `{"slug":"`+slug+`"}`, true); code != 200 && code != 301 {
			t.Fatalf("PATCH → %s = %d %s", slug, code, body)
		}
	}
	redirect("salon-2", "")
	redirect("salon-2-new", "salon-2")
	redirect("salon-2-newer", "salon-2")
	// Posts: GET /api/v1/posts/{old} answers 301 too.
	r := seo.NewRedirects(p.st)
	for _, slug := range []string{"welcome-v2", "welcome-v3"} {
		if err := r.RenamePost(context.Background(), 1, slug, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	for _, old := range []string{"welcome", "welcome-v2"} {
		code, h, _ := p.do("GET", "/api/v1/posts/"+old+"?x=1", "", false)
		if code != 301 || h.Get("Location") != "/api/v1/posts/welcome-v3?x=1" {
			t.Errorf("GET post %s = %d %q", old, code, h.Get("Location"))
		}
	}
	if code, _, _ := p.do("GET", "/api/v1/posts/welcome-v3", "", false); code != 200 {
		t.Errorf("current post slug = %d", code)
	}
	if code, _, _ := p.do("GET", "/api/v1/posts/never", "", false); code != 404 {
		t.Errorf("unknown post = %d", code)
	}
	p.waitIdle(20 * time.Second)
}

// TestRebuildSingletonAcrossTwoWorkers runs two "processes" (own store and
// queue handles, own Builder, own worker with maintenance concurrency 1)
// on one data dir and throws 12 rebuild jobs at them at once. The lease
// keeps at most one build running at any moment; the other jobs wait or
// coalesce, none fails, and far fewer than 12 builds run.
func TestRebuildSingletonAcrossTwoWorkers(t *testing.T) {
	t.Parallel()
	var running, peak, builds atomic.Int32
	slow := func(sc *seo.ServiceConfig) {
		b, err := sitemap.NewBuilder(sitemap.Config{DB: sc.Store, Publisher: sc.Builder.Publisher(), BaseURL: testBaseURL,
			Paths: sitemap.Paths{City: func(base sitemap.BaseURL, slug string) string {
				if slug == "tehran" { // once per build
					n := running.Add(1)
					builds.Add(1)
					for {
						p := peak.Load()
						if n <= p || peak.CompareAndSwap(p, n) {
							break
						}
					}
					time.Sleep(150 * time.Millisecond)
					running.Add(-1)
				}
				return base.Join("cities", slug)
			}}})
		if err != nil {
			t.Fatal(err)
		}
		sc.Builder = b
	}
	a := newSEOProc(t, "", procOpts{tune: slow, noHTTP: true, noStart: true})
	seedSEO(t, a.st, 5)
	b := newSEOProc(t, a.dataDir, procOpts{tune: slow, noHTTP: true, noStart: true})
	// Both workers run; 12 requests arrive 40 ms apart while each build
	// takes at least 150 ms, so both workers take rebuild jobs while the
	// other one builds.
	a.startWorkers()
	b.startWorkers()
	ctx := context.Background()
	for i := range 12 {
		if _, err := a.prod.Add(ctx, "maintenance", seo.JobRebuild, map[string]any{}, &jobq.JobOptions{JobID: fmt.Sprintf("t-%d", i)}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(40 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	a.waitIdle(60 * time.Second)
	out := a.outcomes()
	collapsed := 0
	for _, o := range out["published"] {
		collapsed += len(o.Collapsed)
	}
	total := len(out["published"]) + len(out["coalesced"]) + collapsed
	if peak.Load() != 1 || total != 12 || len(out["published"]) >= 12 || int(builds.Load()) != len(out["published"]) {
		t.Fatalf("peak concurrent builds %d, builds %d; published %d, coalesced %d, collapsed %d (sum %d); want peak 1, sum 12, fewer than 12 builds",
			peak.Load(), builds.Load(), len(out["published"]), len(out["coalesced"]), collapsed, total)
	}
	t.Logf("12 jobs on 2 workers: %d build(s), %d coalesced while another built, %d removed as covered; peak concurrency %d",
		len(out["published"]), len(out["coalesced"]), collapsed, peak.Load())
}

// TestNightlySchedulerRegisteredOnce: two starts (here two processes on
// one queue) upsert nightly-sitemap once: one scheduler, one pending job;
// an empty schedule removes it.
func TestNightlySchedulerRegisteredOnce(t *testing.T) {
	t.Parallel()
	a := newSEOProc(t, "", procOpts{noHTTP: true, noStart: true})
	b := newSEOProc(t, a.dataDir, procOpts{noHTTP: true, noStart: true})
	ctx := context.Background()
	// Each start upserts the schedule; a third upsert from a changes nothing.
	a.startWorkers()
	b.startWorkers()
	if err := a.seo.EnsureSchedule(ctx, seo.Schedule{Pattern: seo.DefaultSchedule, TZ: seo.DefaultScheduleTZ}); err != nil {
		t.Fatal(err)
	}
	ss, err := a.maintenance().GetJobSchedulers(ctx)
	if err != nil || len(ss) != 1 || ss[0].ID != seo.NightlySchedulerID || ss[0].Pattern != "0 3 * * *" || ss[0].TZ != "Asia/Tehran" {
		t.Fatalf("schedulers %+v, %v", ss, err)
	}
	tehran, _ := time.LoadLocation("Asia/Tehran")
	if n := ss[0].Next.In(tehran); n.Hour() != 3 || n.Minute() != 0 {
		t.Errorf("next run %s, want 03:00 Tehran time", n)
	}
	js, _ := a.maintenance().GetJobs(ctx, []jobq.State{jobq.StateDelayed, jobq.StateWaiting}, 0, 99, true)
	if len(js) != 1 || js[0].RepeatJobKey != seo.NightlySchedulerID || js[0].Name != seo.JobRebuild {
		t.Fatalf("pending jobs %d, want 1 rebuild-sitemap from the scheduler", len(js))
	}
	if err := b.seo.EnsureSchedule(ctx, seo.Schedule{}); err != nil {
		t.Fatal(err)
	}
	if ss, _ := a.maintenance().GetJobSchedulers(ctx); len(ss) != 0 {
		t.Fatalf("schedulers after disabling: %+v", ss)
	}
}
