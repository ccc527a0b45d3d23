package dashboard

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	atlasauth "github.com/sevra/atlas/internal/auth"
	"github.com/sevra/atlas/internal/httpapi"
	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/jobq"
)

const testToken = "s3cret-admin-token"

// xssData is job data that would run script if it reached the page
// unescaped.
const xssData = `{"mediaId":"<script>alert(1)</script>","note":"</pre><img src=x onerror=alert(2)>"}`

type fakeBacklog struct{ b outbox.Backlog }

func (f fakeBacklog) Backlog(context.Context) (outbox.Backlog, error) { return f.b, nil }

// fixture is a dashboard on a SQLite queue backend holding jobs in several
// states: in media, failed boom-1 (data xssData) and boom-2, completed ok-1,
// waiting wait-1, delayed later-1; in maintenance a scheduler.
type fixture struct {
	backend *queues.Backend
	server  *Server
	handler http.Handler
	media   *jobq.Queue
}

func newFixture(t testing.TB, mod func(*Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	b, err := queues.OpenBackend(ctx, queues.BackendConfig{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	media := jobq.NewQueue(queues.QueueMedia, b.Driver, nil)
	w, err := jobq.NewWorker(queues.QueueMedia, b.Driver, func(ctx context.Context, j *jobq.Job) (any, error) {
		if j.Name == "boom" {
			_ = j.Log(ctx, "decoding <jpeg> failed")
			return nil, errors.New("decode: <b>bad</b> image")
		}
		_ = j.UpdateProgress(ctx, 100)
		return map[string]any{"variants": 3}, nil
	}, &jobq.WorkerConfig{DrainDelay: 50 * time.Millisecond, MetricsMaxDataPoints: 60})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	add := func(q *jobq.Queue, name, data string, o *jobq.JobOptions) {
		t.Helper()
		if _, err := q.Add(ctx, name, []byte(data), o); err != nil {
			t.Fatal(err)
		}
	}
	add(media, "boom", xssData, &jobq.JobOptions{JobID: "boom-1"})
	add(media, "boom", `{"mediaId":"2"}`, &jobq.JobOptions{JobID: "boom-2"})
	add(media, "generate-variants", `{"mediaId":"3"}`, &jobq.JobOptions{JobID: "ok-1"})
	waitCounts(t, media, map[jobq.State]int64{jobq.StateFailed: 2, jobq.StateCompleted: 1})
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	add(media, "generate-variants", `{"mediaId":"4"}`, &jobq.JobOptions{JobID: "wait-1"})
	add(media, "generate-variants", `{"mediaId":"5"}`, &jobq.JobOptions{JobID: "later-1", Delay: time.Hour})
	maint := jobq.NewQueue(queues.QueueMaintenance, b.Driver, nil)
	if _, err := maint.UpsertJobScheduler(ctx, "nightly-sitemap", jobq.Repeat{Pattern: "0 3 * * *"},
		&jobq.JobTemplate{Name: "rebuild-sitemap"}); err != nil {
		t.Fatal(err)
	}

	shadow, err := rollout.NewRecorder(nil, nil, 10)
	if err != nil {
		t.Fatal(err)
	}
	shadow.Record(ctx, rollout.Comparison{Module: rollout.Module("reviews"), Subject: "salon 7", Match: true})
	shadow.Record(ctx, rollout.Comparison{Module: rollout.Module("reviews"), Subject: "salon <i>42</i>", IDs: []any{"job", "review-agg-42"},
		Live: map[string]any{"avg": 4.5}, Shadow: map[string]any{"avg": 4.4}})
	cfg := Config{
		Backend: b, Outbox: fakeBacklog{outbox.Backlog{Pending: 12, Oldest: time.Now().Add(-90 * time.Second)}},
		Shadow: shadow, Modules: []rollout.Module{"media", "sitemap", "reviews", "geo"}, Modes: rollout.Modes{rollout.Module("reviews"): rollout.Shadow, rollout.Module("media"): rollout.Sync},
		AdminToken: testToken,
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpapi.NewHandler(httpapi.Deps{Dashboard: s, AdminToken: testToken})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{backend: b, server: s, handler: h, media: media}
}

func waitCounts(t testing.TB, q *jobq.Queue, want map[jobq.State]int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := q.GetJobCounts(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		ok := true
		for s, n := range want {
			ok = ok && got[s] == n
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("counts %v, want %v", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// request is one request to the fixture's handler.
type request struct {
	method, path string
	form         url.Values
	bearer       string
	cookie       string
	origin       string
}

func (f *fixture) do(t testing.TB, r request) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if r.form != nil {
		body = strings.NewReader(r.form.Encode())
	}
	if r.method == "" {
		r.method = http.MethodGet
	}
	req := httptest.NewRequest(r.method, r.path, body)
	if r.form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if r.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+r.bearer)
	}
	if r.cookie != "" {
		req.AddCookie(&http.Cookie{Name: atlasauth.CookieName, Value: r.cookie})
	}
	if r.origin != "" {
		req.Header.Set("Origin", r.origin)
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// login logs in through the form and returns the cookie value and the
// page's CSRF token.
func (f *fixture) login(t *testing.T) (cookie, csrf string) {
	t.Helper()
	res, _ := f.do(t, request{method: "POST", path: "/admin/login", form: url.Values{"token": {testToken}, "next": {"/admin/jobs"}}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", res.StatusCode)
	}
	for _, c := range res.Cookies() {
		if c.Name == atlasauth.CookieName {
			cookie = c.Value
		}
	}
	if cookie == "" {
		t.Fatal("login set no cookie")
	}
	return cookie, f.server.auth.CSRFToken(cookie)
}
