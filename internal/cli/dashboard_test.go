package cli

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestDashboardThroughRun: `atlas run` serves the dashboard behind the
// admin token, on the process's own queue backend.
func TestDashboardThroughRun(t *testing.T) {
	t.Parallel()
	env := map[string]string{"ATLAS_DATA_DIR": t.TempDir(), "ATLAS_ADDR": "127.0.0.1:0", "ATLAS_ADMIN_TOKEN": "dash-tok",
		"ATLAS_MODE_REVIEWS": "shadow", "ATLAS_LOG_LEVEL": "error"}
	base, cancel, done := startRun(t, env)
	defer func() { cancel(); <-done }()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string, set func(*http.Request)) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		if set != nil {
			set(req)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if resp, _ := get("/admin/jobs", nil); resp.StatusCode != 303 || !strings.HasPrefix(resp.Header.Get("Location"), "/admin/login") {
		t.Fatalf("unauthenticated: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body := get("/admin/jobs", func(r *http.Request) { r.Header.Set("Authorization", "Bearer dash-tok") })
	if resp.StatusCode != 200 {
		t.Fatalf("bearer: %d %s", resp.StatusCode, body)
	}
	for _, want := range []string{`data-queue="media"`, `data-queue="maintenance"`, "<dd>sqlite</dd>", "Unpublished rows",
		`<tr data-module="reviews"><td>reviews</td><td><span class="badge mode-shadow">shadow</span>`} {
		if !strings.Contains(body, want) {
			t.Fatalf("overview lacks %q:\n%s", want, body)
		}
	}
	login, err := client.PostForm(base+"/admin/login", url.Values{"token": {"dash-tok"}})
	if err != nil {
		t.Fatal(err)
	}
	login.Body.Close()
	cookies := login.Cookies()
	if login.StatusCode != 303 || len(cookies) != 1 {
		t.Fatalf("login: %d %v", login.StatusCode, cookies)
	}
	if resp, _ := get("/admin/jobs/maintenance", func(r *http.Request) { r.AddCookie(cookies[0]) }); resp.StatusCode != 200 {
		t.Fatalf("cookie: %d", resp.StatusCode)
	}
}
