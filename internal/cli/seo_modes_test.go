package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/seo"
	"github.com/sevra/atlas/internal/sitemap"
)

// TestSitemapModes: sync rebuilds in the request (200 with stats, no
// job); shadow rebuilds in the request and enqueues a job that builds a
// side generation, compares it with the live one (match) and deletes it;
// a deliberately altered side result counts as a mismatch; async only
// enqueues (202), covered by TestSitemapAdminRebuildEndToEnd.
func TestSitemapModes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		mode      rollout.Mode
		fault     func(*sitemap.Fingerprint)
		wantMatch bool
	}{
		{"sync", rollout.Sync, nil, false},
		{"shadow", rollout.Shadow, nil, true},
		{"shadow altered", rollout.Shadow, func(f *sitemap.Fingerprint) { f.URLs++ }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newSEOProc(t, "", procOpts{mode: tc.mode, alter: alterFingerprint(tc.fault)})
			seedSEO(t, p.st, 4)
			code, _, body := p.do("POST", "/api/v1/admin/sitemap/rebuild", "", true)
			var res seo.RebuildResult
			if code != 200 || json.Unmarshal(body, &res) != nil || res.Stats == nil || res.Stats.Salons != 4 || res.Mode != tc.mode {
				t.Fatalf("rebuild = %d %s", code, body)
			}
			// The request published: the sitemap is there at once.
			if _, urls := p.sitemap(); len(urls) != 4+3+2 {
				t.Fatalf("sitemap after the request: %v", urls)
			}
			live := p.liveID()
			if tc.mode == rollout.Sync {
				if res.JobID != "" {
					t.Errorf("sync mode enqueued job %s", res.JobID)
				}
				time.Sleep(300 * time.Millisecond)
				if out := p.outcomes(); len(out) != 0 {
					t.Errorf("sync mode ran jobs: %v", out)
				}
				return
			}
			if res.JobID == "" {
				t.Fatal("shadow mode enqueued no job")
			}
			j := p.waitJob(res.JobID, 20*time.Second)
			var out seo.RebuildOutcome
			if err := json.Unmarshal(j.ReturnValue, &out); err != nil || out.Result != "shadow" || out.Match == nil || *out.Match != tc.wantMatch {
				t.Fatalf("shadow job result %s (%v)", j.ReturnValue, err)
			}
			if p.liveID() != live {
				t.Error("the shadow job published a generation")
			}
			counts := p.shadow.Counts()
			if len(counts) != 1 || counts[0].Module != seo.Module || (counts[0].Match == 1) != tc.wantMatch || counts[0].Match+counts[0].Mismatch != 1 {
				t.Errorf("recorder counts %+v, want one %v", counts, tc.wantMatch)
			}
			// The side generation is gone: no local build directory is
			// left, and only the live generation is in the storage.
			ents, _ := os.ReadDir(filepath.Join(p.dataDir, "sitemaps"))
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), "gen-") {
					t.Errorf("local generation directory %s left behind", e.Name())
				}
			}
			ents, _ = os.ReadDir(filepath.Join(p.dataDir, "media", "sitemaps"))
			var gens []string
			for _, e := range ents {
				gens = append(gens, e.Name())
			}
			if len(gens) != 1 || gens[0] != live {
				t.Errorf("generations in the storage %v, want only %s", gens, live)
			}
		})
	}
}

// TestSitemapSyncModeThroughRun goes through `atlas run` itself: the
// settings, wireModules and runProcess wiring, with the sitemap module in
// sync mode so the request answers with the rebuild.
func TestSitemapSyncModeThroughRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := map[string]string{"ATLAS_DATA_DIR": dir, "ATLAS_ADDR": "127.0.0.1:0", "ATLAS_ADMIN_TOKEN": "tok",
		"ATLAS_MODE_SITEMAP": "sync", "ATLAS_BASE_URL": "https://run.example", "ATLAS_LOG_LEVEL": "error"}
	base, cancel, done := startRun(t, env, "--demo")
	defer func() { cancel(); <-done }()
	req := func(method, path string) (int, string) {
		t.Helper()
		r, _ := httpNewRequest(method, base+path)
		r.Header.Set("Authorization", "Bearer tok")
		resp, err := httpDo(r)
		if err != nil {
			t.Fatal(err)
		}
		return resp.code, resp.body
	}
	if code, body := req("POST", "/api/v1/admin/sitemap/rebuild"); code != 200 || !strings.Contains(body, `"salons":500`) {
		t.Fatalf("rebuild = %d %s", code, body)
	}
	if code, body := req("GET", "/sitemap.xml"); code != 200 || !strings.Contains(body, "<loc>https://run.example/sitemaps/salons-1-") {
		t.Fatalf("/sitemap.xml = %d %s", code, body)
	}
	if code, body := req("GET", "/robots.txt"); code != 200 || !strings.Contains(body, "Sitemap: https://run.example/sitemap.xml") {
		t.Fatalf("/robots.txt = %d %s", code, body)
	}
}

// alterFingerprint turns a fault on the side fingerprint into an alter
// func for rollouttest.Faulty (nil: no fault).
func alterFingerprint(fault func(*sitemap.Fingerprint)) func(any) (any, bool) {
	if fault == nil {
		return nil
	}
	return func(side any) (any, bool) {
		f := side.(sitemap.Fingerprint)
		fault(&f)
		return f, true
	}
}
