package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/app"
	"github.com/sevra/atlas/internal/app/apptest"
	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/redistest"
)

// metricName matches an Atlas series name in a query or a document.
var metricName = regexp.MustCompile(`\batlas_[a-z0-9_]+\b`)

// TestAutoscalingMetricsExist reads every metric name that the Grafana
// dashboard (deploy/grafana) and the autoscaling examples of
// docs/OPERATIONS.md use, and checks each against the /metrics output of
// a running app that has finished a job (so the job counters and
// histograms have samples).
func TestAutoscalingMetricsExist(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, app.Config{DataDir: t.TempDir(), HTTP: true, Workers: true, AdminToken: "tok",
		SEO: app.SEOConfig{ScheduleTZ: "UTC"}}, nil, false)
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/api/v1/admin/sitemap/rebuild", nil)
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Fatalf("rebuild: %d, want 202 (async)", resp.StatusCode)
	}
	start := time.Now()
	var exposed map[string]bool
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		exposed = scrape(t, srv.URL+"/metrics")
		if exposed["atlas_jobs_total"] && exposed["atlas_job_wait_seconds_bucket"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no job finished within 30 s: atlas_jobs_total or atlas_job_wait_seconds missing from /metrics")
		}
	}

	t.Logf("job metrics after %v", time.Since(start))
	used := map[string][]string{}
	for _, e := range dashboardExprs(t, "../../deploy/grafana/atlas-queues.json") {
		for _, n := range metricName.FindAllString(e, -1) {
			used[n] = append(used[n], "deploy/grafana/atlas-queues.json")
		}
	}
	ops, err := os.ReadFile("../../docs/OPERATIONS.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(ops), "\n## Autoscaling on queue depth\n")
	if !ok {
		t.Fatal(`docs/OPERATIONS.md has no "## Autoscaling on queue depth" section`)
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	// Names an adapter rule gives to a query ("name: { as: X }") are not
	// Atlas series.
	derived := map[string]bool{}
	for _, m := range regexp.MustCompile(`as: (atlas_[a-z0-9_]+)`).FindAllStringSubmatch(sec, -1) {
		derived[m[1]] = true
	}
	for _, n := range metricName.FindAllString(sec, -1) {
		if !derived[n] {
			used[n] = append(used[n], "docs/OPERATIONS.md")
		}
	}
	for _, want := range []string{"atlas_queue_jobs", "atlas_queue_oldest_ready_age_seconds", "atlas_job_wait_seconds_bucket"} {
		if len(used[want]) == 0 {
			t.Errorf("%s is named by neither the dashboard nor the examples", want)
		}
	}
	var missing []string
	for n, where := range used {
		if !exposed[n] && !exposed[n+"_bucket"] { // a histogram named by its base name
			missing = append(missing, n+" (in "+strings.Join(slices.Compact(where), ", ")+")")
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("named but not in /metrics:\n%s", strings.Join(missing, "\n"))
	}
}

// scrape returns the sample names in a Prometheus text exposition.
func scrape(t *testing.T, url string) map[string]bool {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	names := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return names
}

// dashboardExprs returns every target expression of a Grafana dashboard.
func dashboardExprs(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []string
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("%s: panel %q has no query", path, p.Title)
		}
		for _, tg := range p.Targets {
			out = append(out, tg.Expr)
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s: no queries", path)
	}
	return out
}

// TestKEDARedisListIsTheWaitList checks the list KEDA's redis scaler reads
// in docs/OPERATIONS.md: with the prefix swapped for a test one, it is the
// Redis list that holds a just-added media job.
func TestKEDARedisListIsTheWaitList(t *testing.T) {
	t.Parallel()
	ops, err := os.ReadFile("../../docs/OPERATIONS.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`listName: (\S+)`).FindStringSubmatch(string(ops))
	if m == nil {
		t.Fatal("docs/OPERATIONS.md has no KEDA listName")
	}
	rest, ok := strings.CutPrefix(m[1], "bull:")
	if !ok {
		t.Fatalf("listName %q does not start with the default prefix bull:", m[1])
	}
	c := redistest.Client(t)
	prefix := redistest.Prefix(t, c, "keda")
	ctx := context.Background()
	b, err := queues.OpenBackend(ctx, queues.BackendConfig{RedisURL: os.Getenv("ATLAS_TEST_REDIS_URL"), RedisPrefix: prefix,
		AllowUnsafeRedis: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	queue, _, _ := strings.Cut(rest, ":")
	j, err := queues.NewProducer(queues.NewRegistry(), b.Driver).Add(ctx, queue, "probe", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := c.LRange(ctx, prefix+":"+rest, 0, -1).Result()
	if err != nil {
		t.Fatalf("%s: %v", prefix+":"+rest, err)
	}
	if !slices.Equal(ids, []string{j.ID}) {
		t.Fatalf("list %s holds %v, want the added job %s", prefix+":"+rest, ids, j.ID)
	}
}
