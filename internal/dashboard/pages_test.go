package dashboard

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq"
)

func mustContain(t *testing.T, page, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q", page, w)
		}
	}
	if t.Failed() {
		t.Logf("%s:\n%s", page, body)
		t.FailNow()
	}
}

// noRawMarkup fails if untrusted markup from the fixture reached the page
// unescaped.
func noRawMarkup(t *testing.T, page, body string) {
	t.Helper()
	for _, bad := range []string{"<script>alert", "<img src=x", "<b>bad</b>", "<i>42</i>", "<jpeg>"} {
		if strings.Contains(body, bad) {
			t.Fatalf("%s contains unescaped %q", page, bad)
		}
	}
}

func TestOverview(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	res, body := f.do(t, request{path: "/admin/jobs", bearer: testToken})
	if res.StatusCode != 200 {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Fatalf("CSP %q", csp)
	}
	mustContain(t, "overview", body,
		`<tr data-queue="media">`, `<tr data-queue="notifications">`, `<tr data-queue="analytics">`, `<tr data-queue="maintenance">`,
		`data-state="failed"><a href="/admin/jobs/media?state=failed" class="bad">2</a>`,
		`data-state="completed"><a href="/admin/jobs/media?state=completed">1</a>`,
		`data-state="waiting"><a href="/admin/jobs/media?state=waiting">1</a>`,
		`data-state="delayed"><a href="/admin/jobs/media?state=delayed">1</a>`,
		"nightly-sitemap", "rebuild-sitemap", "<code>0 3 * * *</code>", // scheduler
		"<dd>sqlite</dd>", "queue.db", "ready", // backend
		"<dt>Unpublished rows</dt><dd>12</dd>", "1m ago", // outbox
		`<tr data-module="reviews"><td>reviews</td><td><span class="badge mode-shadow">shadow</span></td>`,
		`<tr data-module="media"><td>media</td><td><span class="badge mode-sync">sync</span></td>`,
		"salon &lt;i&gt;42&lt;/i&gt;", "review-agg-42", "avg:4.5", "avg:4.4", // the mismatch
	)
	// Completed and failed in the last hour (worker metrics): 1 and 2.
	if !regexp.MustCompile(`(?s)data-queue="media">.*?<td class="num" data-metric="completed">1</td>\s*<td class="num" data-metric="failed">2</td>`).MatchString(body) {
		t.Fatalf("media's last-hour counts are not 1 and 2:\n%s", body)
	}
	// Reviews: one match, one mismatch.
	if !regexp.MustCompile(`(?s)data-module="reviews">.*?<td class="num">1</td>\s*<td class="num"><span class="bad">1</span>`).MatchString(body) {
		t.Fatalf("shadow counts for reviews missing:\n%s", body)
	}
	noRawMarkup(t, "overview", body)
}

func TestQueuePage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	cookie, csrf := f.login(t)
	_, body := f.do(t, request{path: "/admin/jobs/media?state=failed", cookie: cookie})
	mustContain(t, "failed list", body,
		`<tr data-job="boom-1">`, `<tr data-job="boom-2">`, "decode: &lt;b&gt;bad&lt;/b&gt; image",
		`action="/admin/jobs/media/boom-1/retry"`, `name="csrf" value="`+csrf+`"`, "Retry all failed",
		"page 1 of 1 (2 failed)")
	noRawMarkup(t, "failed list", body)

	_, body = f.do(t, request{path: "/admin/jobs/media?state=delayed", cookie: cookie})
	mustContain(t, "delayed list", body, `<tr data-job="later-1">`, `action="/admin/jobs/media/later-1/promote"`, "in 59m")
	if strings.Contains(body, "boom-1") {
		t.Fatal("delayed list shows a failed job")
	}
	_, body = f.do(t, request{path: "/admin/jobs/media?state=completed", cookie: cookie})
	mustContain(t, "completed list", body, `<tr data-job="ok-1">`)
	_, body = f.do(t, request{path: "/admin/jobs/media?state=waiting", cookie: cookie})
	mustContain(t, "waiting list", body, `<tr data-job="wait-1">`)

	for path, status := range map[string]int{
		"/admin/jobs/nope":                      404,
		"/admin/jobs/media?state=bogus":         400,
		"/admin/jobs/media/missing-job":         404,
		"/admin/jobs/media?state=failed&page=x": 200,
	} {
		if res, _ := f.do(t, request{path: path, cookie: cookie}); res.StatusCode != status {
			t.Errorf("%s: %d, want %d", path, res.StatusCode, status)
		}
	}
}

func TestQueuePaging(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *Config) { c.PageSize = 2 })
	for i := range 3 {
		if _, err := f.media.Add(t.Context(), "generate-variants", nil, &jobq.JobOptions{JobID: "d-" + string(rune('a'+i)), Delay: time.Hour}); err != nil {
			t.Fatal(err)
		}
	}
	_, body := f.do(t, request{path: "/admin/jobs/media?state=delayed&page=1", bearer: testToken})
	mustContain(t, "page 1", body, "page 1 of 2 (4 delayed)", "older →")
	_, body2 := f.do(t, request{path: "/admin/jobs/media?state=delayed&page=2", bearer: testToken})
	mustContain(t, "page 2", body2, "page 2 of 2", "← newer")
	if n1, n2 := strings.Count(body, "<tr data-job="), strings.Count(body2, "<tr data-job="); n1 != 2 || n2 != 2 {
		t.Fatalf("rows per page %d, %d", n1, n2)
	}
}

func TestJobPageEscapesUntrustedData(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	_, body := f.do(t, request{path: "/admin/jobs/media/boom-1", bearer: testToken})
	mustContain(t, "job page", body,
		`<span class="badge state-failed" id="state">failed</span>`,
		"&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;/pre&gt;&lt;img src=x onerror=alert(2)&gt;",
		"&#34;mediaId&#34;: ", // pretty-printed
		"decode: &lt;b&gt;bad&lt;/b&gt; image", `<pre class="stack">`,
		"decoding &lt;jpeg&gt; failed", // log line
		`<dt>Parent</dt><dd id="parent">—</dd>`, "<dt>Repeat key</dt>",
		`action="/admin/jobs/media/boom-1/retry"`)
	noRawMarkup(t, "job page", body)

	_, body = f.do(t, request{path: "/admin/jobs/media/ok-1", bearer: testToken})
	mustContain(t, "completed job", body, `id="return">{
  &#34;variants&#34;: 3
}</pre>`, "<h2>Progress</h2><pre>100</pre>")

	// An id that needs escaping in a URL path.
	id := "odd id/<x>"
	if _, err := f.media.Add(t.Context(), "generate-variants", nil, &jobq.JobOptions{JobID: id, Delay: time.Hour}); err != nil {
		t.Fatal(err)
	}
	res, body := f.do(t, request{path: "/admin/jobs/media/" + url.PathEscape(id), bearer: testToken})
	if res.StatusCode != 200 {
		t.Fatalf("odd id: %d %s", res.StatusCode, body)
	}
	mustContain(t, "odd id", body, "odd id/&lt;x&gt;", `action="/admin/jobs/media/odd%20id%2F%3Cx%3E/promote"`)
}

func TestLastHour(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 30, 20, 0, time.UTC)
	minute := func(m int) int64 { return now.Add(time.Duration(m) * time.Minute).UnixMilli() }
	for _, tc := range []struct {
		name string
		m    jobq.Metrics
		want int64
	}{
		{"none", jobq.Metrics{}, 0},
		{"only the current minute", jobq.Metrics{Count: 3, PrevTS: minute(0), PrevCount: 0}, 3},
		{"points inside and outside", jobq.Metrics{Count: 20, PrevTS: minute(-1), PrevCount: 18,
			Data: append([]int64{1, 1}, append(make([]int64, 54), 5, 7, 9)...)}, 2 + 1 + 1 + 5 + 7},
		{"all stale", jobq.Metrics{Count: 9, PrevTS: minute(-120), PrevCount: 1, Data: []int64{4, 4}}, 0},
	} {
		if got := lastHour(tc.m, now); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}
