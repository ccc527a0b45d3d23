package site_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/seed"
	"github.com/sevra/atlas/internal/store/storetest"
)

// browserEnabled skips unless ATLAS_TEST_BROWSER=1 (fails under
// ATLAS_TEST_REQUIRE_SERVICES=1) and checks Chromium and the npm helpers.
func browserEnabled(t *testing.T) string {
	t.Helper()
	if os.Getenv("ATLAS_TEST_BROWSER") != "1" {
		if os.Getenv("ATLAS_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("ATLAS_TEST_BROWSER=1 is required under ATLAS_TEST_REQUIRE_SERVICES=1")
		}
		t.Skip("set ATLAS_TEST_BROWSER=1 (Debian's chromium at /usr/bin/chromium, npm ci in internal/site/testdata/browser) to check the pages in a browser")
	}
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		t.Fatalf("no /usr/bin/chromium (apt-get install -y chromium): %v", err)
	}
	helper, err := filepath.Abs(filepath.Join("testdata", "browser"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"playwright-core", "lighthouse", "axe-core", "html-validate"} {
		if _, err := os.Stat(filepath.Join(helper, "node_modules", m)); err != nil {
			t.Fatalf("%s is not installed: run npm ci in %s (%v)", m, helper, err)
		}
	}
	return helper
}

type pageReport struct {
	Path           string   `json:"path"`
	Status         int      `json:"status"`
	Lang           string   `json:"lang"`
	Dir            string   `json:"dir"`
	ConsoleErrors  []string `json:"consoleErrors"`
	FailedRequests []string `json:"failedRequests"`
	BadResponses   []string `json:"badResponses"`
	Images         int      `json:"images"`
	BrokenImages   []string `json:"brokenImages"`
	Shot           string   `json:"shot"`
	Axe            []struct {
		ID, Impact, Help string
		Nodes            int
	} `json:"axe"`
	HTMLValid  bool     `json:"htmlValid"`
	HTMLErrors []string `json:"htmlErrors"`
}

type lighthouseReport struct {
	Path    string         `json:"path"`
	Scores  map[string]int `json:"scores"`
	Failing []string       `json:"failing"`
	LCPMs   float64        `json:"lcpMs"`
}

// TestBrowser loads the home page, a city, a salon with photos and a post
// in headless Chromium: each answers 200 with no console errors, no failed
// requests and no broken images (lazy ones included), axe-core finds no
// serious or critical violation, and html-validate accepts the served
// HTML. Lighthouse 12.2.3 (desktop preset) scores a salon and a city page
// at least 95 for SEO and 90 for accessibility, best practices and
// performance. Screenshots and Lighthouse reports are kept in
// $ATLAS_TEST_ARTIFACTS (or a temp dir), whose path is logged.
func TestBrowser(t *testing.T) {
	helper := browserEnabled(t)
	r := newRig(t, storetest.OpenSQLite(t), seed.Options{Cities: 3, Salons: 60, Reviews: 600, Posts: 6, Seed: 11})
	salon, post := r.withPhotos(t)
	var city string
	if err := r.st.DB().QueryRow(r.st.Rebind("SELECT c.slug FROM salons s JOIN cities c ON c.id = s.city_id WHERE s.slug = ?"), salon).Scan(&city); err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("ATLAS_TEST_ARTIFACTS")
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "atlas-site-"); err != nil {
			t.Fatal(err)
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	pages := map[string]string{"home": "/", "city": "/cities/" + city, "salon": "/salons/" + salon, "post": "/posts/" + post}
	lh := []string{"/salons/" + salon, "/cities/" + city}
	if os.Getenv("ATLAS_TEST_LIGHTHOUSE") == "0" {
		lh = nil
	}
	arg, _ := json.Marshal(map[string]any{"base": r.base, "pages": pages, "dir": dir, "lighthouse": lh})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "site.js", string(arg))
	cmd.Dir = helper
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("node site.js: %v\n%s", err, stderr.String())
	}
	var out struct {
		Pages      map[string]pageReport `json:"pages"`
		Lighthouse []lighthouseReport    `json:"lighthouse"`
	}
	if err := json.Unmarshal(stdout, &out); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	t.Logf("screenshots and Lighthouse reports in %s", dir)
	for name := range pages {
		p, ok := out.Pages[name]
		switch {
		case !ok:
			t.Errorf("%s: not checked", name)
			continue
		case p.Status != 200:
			t.Errorf("%s: status %d", name, p.Status)
		case len(p.ConsoleErrors)+len(p.FailedRequests)+len(p.BadResponses) > 0:
			t.Errorf("%s: console errors %q, failed requests %q, bad responses %q", name, p.ConsoleErrors, p.FailedRequests, p.BadResponses)
		case len(p.BrokenImages) > 0:
			t.Errorf("%s: broken images %q", name, p.BrokenImages)
		case !p.HTMLValid:
			t.Errorf("%s: html-validate: %q", name, p.HTMLErrors)
		}
		for _, v := range p.Axe {
			if v.Impact == "serious" || v.Impact == "critical" {
				t.Errorf("%s: axe %s (%s, %d nodes): %s", name, v.ID, v.Impact, v.Nodes, v.Help)
			}
		}
		if st, err := os.Stat(p.Shot); err != nil || st.Size() < 1000 {
			t.Errorf("%s: screenshot %s: %v", name, p.Shot, err)
		}
	}
	if n := out.Pages["salon"].Images; n != 3 {
		t.Errorf("salon page shows %d images, want 3 (cover and two gallery photos)", n)
	}
	if n := out.Pages["post"].Images; n != 1 {
		t.Errorf("post page shows %d images, want its cover", n)
	}
	for _, l := range out.Lighthouse {
		t.Logf("lighthouse %s: %v (LCP %.0f ms); below 0.9: %v", l.Path, l.Scores, l.LCPMs, l.Failing)
		for cat, min := range map[string]int{"seo": 95, "accessibility": 90, "best-practices": 90, "performance": 90} {
			if l.Scores[cat] < min {
				t.Errorf("lighthouse %s: %s %d < %d (failing audits %v)", l.Path, cat, l.Scores[cat], min, l.Failing)
			}
		}
	}
	if len(lh) > 0 && len(out.Lighthouse) != len(lh) {
		t.Errorf("lighthouse ran on %d pages, want %d", len(out.Lighthouse), len(lh))
	}
}
