package dashboard

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// browserEnabled skips unless ATLAS_TEST_BROWSER=1 (fails under
// ATLAS_TEST_REQUIRE_SERVICES=1).
func browserEnabled(t *testing.T) {
	t.Helper()
	if os.Getenv("ATLAS_TEST_BROWSER") != "1" {
		if os.Getenv("ATLAS_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("ATLAS_TEST_BROWSER=1 is required under ATLAS_TEST_REQUIRE_SERVICES=1")
		}
		t.Skip("set ATLAS_TEST_BROWSER=1 (Debian's chromium at /usr/bin/chromium, npm ci in internal/dashboard/testdata/browser) to drive the dashboard in a browser")
	}
}

// TestBrowser logs in through the form in headless Chromium, reads the
// overview, opens a failed job whose data holds <script>, retries the job
// from the queue page and checks it moved to waiting. Screenshots are kept
// in a temp dir whose path is logged.
func TestBrowser(t *testing.T) {
	browserEnabled(t)
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		t.Fatalf("no /usr/bin/chromium (apt-get install -y chromium): %v", err)
	}
	helper, err := filepath.Abs(filepath.Join("testdata", "browser"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(helper, "node_modules", "playwright-core")); err != nil {
		t.Fatalf("playwright-core is not installed: run npm ci in %s (%v)", helper, err)
	}
	f := newFixture(t, nil)
	srv := httptest.NewServer(f.handler) // loopback
	defer srv.Close()
	dir, err := os.MkdirTemp("", "atlas-dashboard-")
	if err != nil {
		t.Fatal(err)
	}
	arg, _ := json.Marshal(map[string]string{"base": srv.URL, "token": testToken, "queue": "media", "failedId": "boom-1", "dir": dir})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "dashboard.js", string(arg))
	cmd.Dir = helper
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("node dashboard.js: %v\n%s", err, stderr.String())
	}
	var got struct {
		LoginURL string
		Queues   []struct {
			Name, Status string
			Counts       map[string]int64
		}
		Sections                  []string
		JobState, JobData         string
		ScriptsInPage             int
		FailedBefore, FailedAfter []string
		WaitingAfter              []string
		Notice                    string
		Dialogs                   []string
		Shots                     map[string]string
	}
	if err := json.Unmarshal(stdout, &got); err != nil {
		t.Fatalf("helper output %q: %v", stdout, err)
	}
	for name, path := range got.Shots {
		st, err := os.Stat(path)
		if err != nil || st.Size() < 10_000 {
			t.Fatalf("screenshot %s (%s): %v", name, path, err)
		}
		t.Logf("screenshot %s: %s", name, path)
	}
	if got.LoginURL != "/admin/login" {
		t.Errorf("unauthenticated overview went to %q, want /admin/login", got.LoginURL)
	}
	var names []string
	for _, q := range got.Queues {
		names = append(names, q.Name)
		if q.Name == "media" && (q.Counts["failed"] != 2 || q.Counts["completed"] != 1 || q.Counts["waiting"] != 1 || q.Counts["delayed"] != 1 || q.Status != "running") {
			t.Errorf("media row %+v", q)
		}
	}
	if !slices.Equal(names, []string{"media", "notifications", "analytics", "maintenance"}) {
		t.Errorf("queues %v", names)
	}
	for _, s := range []string{"Schedulers", "Queue backend", "Outbox", "Rollout"} {
		if !slices.Contains(got.Sections, s) {
			t.Errorf("overview sections %v lack %q", got.Sections, s)
		}
	}
	if got.JobState != "failed" || !strings.Contains(got.JobData, "<script>alert(1)</script>") || got.ScriptsInPage != 0 || len(got.Dialogs) != 0 {
		t.Errorf("job page: state %q, scripts %d, dialogs %v, data %q", got.JobState, got.ScriptsInPage, got.Dialogs, got.JobData)
	}
	if !slices.Contains(got.FailedBefore, "boom-1") || slices.Contains(got.FailedAfter, "boom-1") || !slices.Contains(got.WaitingAfter, "boom-1") {
		t.Errorf("retry: failed before %v, after %v; waiting after %v", got.FailedBefore, got.FailedAfter, got.WaitingAfter)
	}
	if got.Notice != "Job moved back to waiting." {
		t.Errorf("notice %q", got.Notice)
	}
}
