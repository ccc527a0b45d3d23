package cli

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/app"
	"github.com/sevra/atlas/internal/app/apptest"
	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/rollout/rollouttest"
	"github.com/sevra/atlas/internal/seo"
	"github.com/sevra/atlas/internal/sitemap"
	"github.com/sevra/atlas/internal/store"
	"github.com/sevra/atlas/internal/store/storetest"
	"github.com/sevra/atlas/jobq"
)

const (
	testAdminToken = "seo-test-token"
	testBaseURL    = "https://atlas.test"
)

// seoProc is one Atlas "process" of an SEO test, built by app.New: its
// own store handle, queue backend handle, outbox, SEO service, workers and
// HTTP handler, on a data dir it may share with other processes.
type seoProc struct {
	t       *testing.T
	dataDir string
	app     *app.App
	st      *store.Store
	prod    *queues.Producer
	seo     *seo.Service
	shadow  *rollout.Recorder
	srv     *httptest.Server
}

type procOpts struct {
	// dbURL selects the database; "" is SQLite in the data dir.
	dbURL string
	mode  rollout.Mode
	tune  func(*seo.ServiceConfig)
	// alter alters the workers' shadow side results (rollouttest.Faulty).
	alter   func(side any) (any, bool)
	noHTTP  bool
	noStart bool
}

// testRoutes shortens the rebuild route: requests coalesce within 1 s and
// run 1.5 s after the first.
func testRoutes(rs outbox.Routes) {
	r := rs[seo.EventRebuildRequested]
	r.DedupTTL, r.Delay = time.Second, 1500*time.Millisecond
	rs[seo.EventRebuildRequested] = r
}

// newSEOProc starts a process on dataDir ("" for a fresh one).
func newSEOProc(t *testing.T, dataDir string, o procOpts) *seoProc {
	t.Helper()
	if dataDir == "" {
		dataDir = storetest.TempDataDir(t)
	}
	mode := o.mode
	if mode == "" {
		mode = rollout.Async
	}
	hooks := &app.Hooks{Routes: testRoutes, SEO: func(sc *seo.ServiceConfig) {
		sc.BusyRetry = 100 * time.Millisecond
		if o.tune != nil {
			o.tune(sc)
		}
	}}
	hooks.Shadow = rollouttest.Wrapper(o.alter)
	a := apptest.Start(t, app.Config{DataDir: dataDir, DatabaseURL: o.dbURL, HTTP: !o.noHTTP, Workers: true,
		AdminToken: testAdminToken, Modes: rollout.Modes{seo.Module: mode},
		SEO: app.SEOConfig{BaseURL: testBaseURL, Schedule: seo.DefaultSchedule, ScheduleTZ: seo.DefaultScheduleTZ}}, hooks, true)
	p := &seoProc{t: t, dataDir: dataDir, app: a, st: a.Store(), prod: a.Queues(), seo: a.SEO(), shadow: a.Shadow()}
	if !o.noStart {
		p.startWorkers()
	}
	if !o.noHTTP {
		p.srv = httptest.NewServer(a.Handler())
		t.Cleanup(p.srv.Close)
	}
	return p
}

// seedSEO adds 3 cities, n salons (salon-1…), 3 posts (one draft) and a
// pending verification request per salon (id = salon id).
func seedSEO(t *testing.T, st *store.Store, n int) {
	t.Helper()
	for i, c := range []string{"tehran", "shiraz", "isfahan"} {
		storetest.AddCity(t, st, int64(i+1), c, strings.ToUpper(c[:1])+c[1:])
	}
	for i := 1; i <= n; i++ {
		storetest.AddSalon(t, st, int64(i), int64(i%3+1), fmt.Sprintf("salon-%d", i), fmt.Sprintf("Salon %d", i), 0, 0, storetest.Base)
		storetest.Exec(t, st, `INSERT INTO verification_requests (id, salon_id, status, created_at) VALUES (?, ?, 'pending', ?)`,
			i, i, storetest.Base)
	}
	storetest.Exec(t, st, `INSERT INTO posts (id, slug, title, body, published_at, updated_at) VALUES
		(1, 'welcome', 'Welcome', 'b', ?, ?), (2, 'tips', 'Tips', 'b', ?, ?), (3, 'draft', 'Draft', 'b', NULL, ?)`,
		storetest.Base, storetest.Base, storetest.Base, storetest.Base, storetest.Base)
}

// do sends a request with the admin token (when admin) and returns the
// status and body; redirects are not followed.
func (p *seoProc) do(method, path, body string, admin bool) (int, http.Header, []byte) {
	p.t.Helper()
	req, err := http.NewRequest(method, p.srv.URL+path, strings.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	if admin {
		req.Header.Set("Authorization", "Bearer "+testAdminToken)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// maintenance returns the maintenance queue handle.
func (p *seoProc) maintenance() *jobq.Queue { return p.prod.Queue(queues.QueueMaintenance) }

// waitIdle waits until the maintenance queue has no waiting, delayed or
// active job (scheduler jobs aside).
func (p *seoProc) waitIdle(timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		js, err := p.maintenance().GetJobs(context.Background(), []jobq.State{jobq.StateWaiting, jobq.StateDelayed,
			jobq.StateActive, jobq.StatePrioritized}, 0, 999, true)
		if err != nil {
			p.t.Fatal(err)
		}
		busy := 0
		for _, j := range js {
			if j.RepeatJobKey == "" {
				busy++
			}
		}
		if busy == 0 {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("maintenance queue still busy after %s: %d jobs", timeout, busy)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// outcomes returns the results of finished rebuild-sitemap jobs, by
// result ("published", "coalesced", "shadow"), and fails on failed jobs.
func (p *seoProc) outcomes() map[string][]seo.RebuildOutcome {
	p.t.Helper()
	ctx := context.Background()
	failed, _ := p.maintenance().GetJobs(ctx, []jobq.State{jobq.StateFailed}, 0, 999, true)
	for _, j := range failed {
		p.t.Errorf("job %s (%s) failed: %s", j.ID, j.Name, j.FailedReason)
	}
	done, err := p.maintenance().GetJobs(ctx, []jobq.State{jobq.StateCompleted}, 0, 9999, true)
	if err != nil {
		p.t.Fatal(err)
	}
	out := map[string][]seo.RebuildOutcome{}
	for _, j := range done {
		if j.Name != seo.JobRebuild {
			continue
		}
		var o seo.RebuildOutcome
		if err := json.Unmarshal(j.ReturnValue, &o); err != nil {
			p.t.Fatalf("job %s result %s: %v", j.ID, j.ReturnValue, err)
		}
		out[o.Result] = append(out[o.Result], o)
	}
	return out
}

// waitJob waits for job id to finish and returns it.
func (p *seoProc) waitJob(id string, timeout time.Duration) *jobq.Job {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		j, err := p.maintenance().GetJob(context.Background(), id)
		if err == nil && !j.FinishedOn.IsZero() {
			if j.FailedReason != "" && len(j.ReturnValue) == 0 {
				p.t.Fatalf("job %s failed: %s", id, j.FailedReason)
			}
			return j
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("job %s not finished after %s (%v)", id, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sitemap fetches /sitemap.xml and every child it lists through HTTP and
// returns the index's child locations and all child URLs.
func (p *seoProc) sitemap() (children, urls []string) {
	p.t.Helper()
	code, h, body := p.do("GET", "/sitemap.xml", "", false)
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "application/xml") {
		p.t.Fatalf("/sitemap.xml = %d %s %s", code, h.Get("Content-Type"), body)
	}
	var idx struct {
		Sitemaps []struct {
			Loc string `xml:"loc"`
		} `xml:"sitemap"`
	}
	if err := xml.Unmarshal(body, &idx); err != nil {
		p.t.Fatalf("index: %v\n%s", err, body)
	}
	for _, s := range idx.Sitemaps {
		children = append(children, s.Loc)
		path, ok := strings.CutPrefix(s.Loc, testBaseURL)
		if !ok {
			p.t.Fatalf("child %s is not under %s", s.Loc, testBaseURL)
		}
		code, h, gz := p.do("GET", path, "", false)
		if code != 200 || h.Get("Content-Type") != sitemap.ChildContentType {
			p.t.Fatalf("%s = %d %s", path, code, h.Get("Content-Type"))
		}
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			p.t.Fatalf("%s is not gzip: %v", path, err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil {
			p.t.Fatal(err)
		}
		var set struct {
			URLs []struct {
				Loc string `xml:"loc"`
			} `xml:"url"`
		}
		if err := xml.Unmarshal(plain, &set); err != nil {
			p.t.Fatalf("%s: %v", path, err)
		}
		for _, u := range set.URLs {
			urls = append(urls, u.Loc)
		}
	}
	return children, urls
}

// liveID returns the live generation id, "" when none.
func (p *seoProc) liveID() string {
	l, err := p.seo.Publisher().Live()
	if err != nil {
		return ""
	}
	return l.ID
}

// startWorkers starts the process's components: queue workers, the
// outbox relay and the nightly schedule.
func (p *seoProc) startWorkers() {
	p.t.Helper()
	if err := p.app.Start(context.Background()); err != nil {
		p.t.Fatal(err)
	}
}

type httpResult struct {
	code int
	body string
}

func httpNewRequest(method, url string) (*http.Request, error) {
	return http.NewRequest(method, url, nil)
}

func httpDo(r *http.Request) (httpResult, error) {
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		return httpResult{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return httpResult{resp.StatusCode, string(b)}, err
}
