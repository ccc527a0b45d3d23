package sitemap

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func newTestHandler(t *testing.T, p *Publisher) http.Handler {
	t.Helper()
	base, err := ParseBaseURL(testBase)
	if err != nil {
		t.Fatal(err)
	}
	return Handler(HandlerConfig{Publisher: p, BaseURL: base})
}

func get(t *testing.T, h http.Handler, method, path string, hdr ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHandlerBeforeFirstBuild(t *testing.T) {
	t.Parallel()
	h := newTestHandler(t, newTestPublisher(t, t.TempDir()))
	for _, p := range []string{"/sitemap.xml", "/sitemaps/salons-1-20250601T120000Z-01020304.xml.gz"} {
		r := get(t, h, http.MethodGet, p)
		if r.StatusCode != http.StatusNotFound || !strings.Contains(body(t, r), "not generated yet") {
			t.Errorf("GET %s = %d, want 404 'not generated yet'", p, r.StatusCode)
		}
	}
	r := get(t, h, http.MethodGet, "/robots.txt")
	want := "User-agent: *\nDisallow:\n\nSitemap: https://atlas.example/sitemap.xml\n"
	if got := body(t, r); r.StatusCode != 200 || got != want {
		t.Errorf("robots.txt = %d %q, want %q", r.StatusCode, got, want)
	}
}

func TestHandlerServesLiveGeneration(t *testing.T) {
	t.Parallel()
	b := newFixtureBuilder(t, Config{})
	st, err := b.Rebuild(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	h := newTestHandler(t, b.cfg.Publisher)
	child := "/sitemaps/salons-1-" + st.Generation + ".xml.gz"
	tests := []struct {
		name, method, path string
		hdr                []string
		status             int
		ctype              string
	}{
		{"index", "GET", "/sitemap.xml", nil, 200, IndexContentType},
		{"index head", "HEAD", "/sitemap.xml", nil, 200, IndexContentType},
		{"child", "GET", child, nil, 200, ChildContentType},
		{"unknown child", "GET", "/sitemaps/salons-9-" + st.Generation + ".xml.gz", nil, 404, ""},
		{"traversal", "GET", "/sitemaps/..%2fcurrent", nil, 404, ""},
		{"traversal 2", "GET", "/sitemaps/../current", nil, 404, ""},
		{"index via sitemaps", "GET", "/sitemaps/sitemap.xml", nil, 404, ""},
		{"pointer", "GET", "/sitemaps/current", nil, 404, ""},
		{"not modified", "GET", "/sitemap.xml", []string{"If-Modified-Since", "Sun, 01 Jan 2090 00:00:00 GMT"}, 304, ""},
		{"post", "POST", "/sitemap.xml", nil, 405, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := get(t, h, tc.method, tc.path, tc.hdr...)
			if r.StatusCode != tc.status {
				t.Fatalf("%s %s = %d, want %d", tc.method, tc.path, r.StatusCode, tc.status)
			}
			if tc.status != 200 {
				return
			}
			if got := r.Header.Get("Content-Type"); got != tc.ctype {
				t.Errorf("Content-Type = %q, want %q", got, tc.ctype)
			}
			if got := r.Header.Get("Cache-Control"); got != CacheControl {
				t.Errorf("Cache-Control = %q", got)
			}
			if r.Header.Get("Last-Modified") == "" {
				t.Error("no Last-Modified")
			}
			if r.Header.Get("Content-Encoding") != "" {
				t.Error("a .xml.gz file must not be sent with Content-Encoding")
			}
		})
	}
	idx := body(t, get(t, h, "GET", "/sitemap.xml"))
	if !strings.Contains(idx, "https://atlas.example"+child+"</loc>") {
		t.Errorf("index does not list %s:\n%s", child, idx)
	}
	xmlData := gunzip(t, []byte(body(t, get(t, h, "GET", child))))
	if !strings.Contains(string(xmlData), "<urlset") {
		t.Errorf("child is not a urlset: %s", xmlData)
	}
}

func TestRobotsExtra(t *testing.T) {
	t.Parallel()
	base, _ := ParseBaseURL("https://atlas.example/fa/")
	got := robotsTxt(base, []string{"Disallow: /api/", " Disallow: /admin/ "})
	want := "User-agent: *\nDisallow: /api/\nDisallow: /admin/\n\nSitemap: https://atlas.example/fa/sitemap.xml\n"
	if got != want {
		t.Errorf("robots = %q, want %q", got, want)
	}
}
