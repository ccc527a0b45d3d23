package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/store"
	"github.com/sevra/atlas/internal/store/storetest"
)

// lines is an io.Writer that keeps what was written and reports the address
// from the "listening on" line.
type lines struct {
	mu   sync.Mutex
	buf  strings.Builder
	addr chan string
}

func newLines() *lines { return &lines{addr: make(chan string, 1)} }

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	for _, line := range strings.Split(string(p), "\n") {
		if a, ok := strings.CutPrefix(line, "listening on "); ok {
			select {
			case l.addr <- a:
			default:
			}
		}
	}
	return len(p), nil
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func TestRunCommandLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args     []string
		code     int
		out, err string
	}{
		{nil, 2, "", "Usage: atlas <command>"},
		{[]string{"help"}, 0, "seed", ""},
		{[]string{"help", "seed"}, 0, "ATLAS_SEED_REVIEWS", ""},
		{[]string{"help", "worker"}, 0, "Runs the queue workers", ""},
		{[]string{"run", "-h"}, 0, "--shutdown-timeout", ""},
		{[]string{"help", "nope"}, 2, "", "unknown command"},
		{[]string{"nope"}, 2, "", "unknown command"},
		{[]string{"version"}, 0, "atlas ", ""},
		{[]string{"version", "extra"}, 2, "", "unexpected argument"},
		{[]string{"migrate", "--log-level", "loud"}, 2, "", "log level"},
		{[]string{"migrate", "--database-url", "mysql://x"}, 1, "", "want postgres://"},
	}
	for _, tc := range tests {
		var out, errb strings.Builder
		code := Run(context.Background(), tc.args, mapEnv(nil), &out, &errb)
		if code != tc.code || !strings.Contains(out.String(), tc.out) || !strings.Contains(errb.String(), tc.err) {
			t.Errorf("atlas %v = %d\nstdout: %s\nstderr: %s\nwant %d, stdout ~ %q, stderr ~ %q", tc.args, code, out.String(), errb.String(), tc.code, tc.out, tc.err)
		}
	}
}

func TestMigrateAndSeedCommands(t *testing.T) {
	t.Parallel()
	env := mapEnv(map[string]string{"ATLAS_DATA_DIR": storetest.TempDataDir(t), "ATLAS_SEED_PROGRESS": "false"})
	var out, errb strings.Builder
	migs, err := store.Migrations(store.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	versions := make([]string, len(migs))
	for i, m := range migs {
		versions[i] = strconv.Itoa(m.Version)
	}
	want := fmt.Sprintf("applied %d migration(s) [%s]", len(migs), strings.Join(versions, " "))
	if code := Run(context.Background(), []string{"migrate"}, env, &out, &errb); code != 0 || !strings.Contains(out.String(), want) {
		t.Fatalf("migrate = %d %s %s", code, out.String(), errb.String())
	}
	out.Reset()
	if code := Run(context.Background(), []string{"migrate"}, env, &out, &errb); code != 0 || !strings.Contains(out.String(), "applied 0 migration(s)") {
		t.Fatalf("second migrate = %d %s", code, out.String())
	}
	out.Reset()
	code := Run(context.Background(), []string{"seed", "--cities", "3", "--salons", "40", "--reviews", "400", "--posts", "2"}, env, &out, &errb)
	if code != 0 || !strings.Contains(out.String(), "seeded 3 cities, 8 users, 40 salons, 400 reviews, 2 posts") {
		t.Fatalf("seed = %d %s %s", code, out.String(), errb.String())
	}
	if strings.Contains(errb.String(), "[====") {
		t.Error("progress drawn although ATLAS_SEED_PROGRESS=false")
	}
}

// startRun runs `atlas run` in process and returns its base URL, a cancel
// func and a channel with the exit code.
func startRun(t *testing.T, env map[string]string, args ...string) (string, context.CancelFunc, <-chan int) {
	t.Helper()
	return startServer(t, "run", env, args...)
}

// startServer runs `atlas <command>` (run or serve) in process and returns
// its base URL once it listens, a cancel func and a channel with the exit
// code.
func startServer(t *testing.T, command string, env map[string]string, args ...string) (string, context.CancelFunc, <-chan int) {
	t.Helper()
	out, errb, cancel, done := startCommand(t, command, env, args...)
	select {
	case addr := <-out.addr:
		return "http://" + addr, cancel, done
	case code := <-done:
		cancel()
		t.Fatalf("%s exited %d before listening\nstdout: %s\nstderr: %s", command, code, out, errb.String())
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatalf("%s did not listen within 60s\nstdout: %s\nstderr: %s", command, out, errb.String())
	}
	return "", nil, nil
}

// startCommand runs `atlas <command> args…` in process until cancel and
// returns its stdout and stderr and a channel with the exit code; stderr
// is logged if the test fails.
func startCommand(t *testing.T, command string, env map[string]string, args ...string) (*lines, *lines, context.CancelFunc, <-chan int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, errb := newLines(), newLines()
	done := make(chan int, 1)
	go func() { done <- Run(ctx, append([]string{command}, args...), mapEnv(env), out, errb) }()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s's stderr:\n%s", command, errb.String())
		}
	})
	return out, errb, cancel, done
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("decode %s: %v", url, err)
		}
	}
	return resp.StatusCode
}

func testRunEndToEnd(t *testing.T, env map[string]string) {
	base, cancel, done := startRun(t, env, "--demo")
	defer cancel()
	if code := getJSON(t, base+"/healthz", nil); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	var ready struct{ Status string }
	if code := getJSON(t, base+"/readyz", &ready); code != 200 || ready.Status != "ok" {
		t.Errorf("/readyz = %d %+v", code, ready)
	}
	var list struct {
		Items []struct{ Slug, CitySlug string }
		Total int
	}
	if code := getJSON(t, base+"/api/v1/salons?sort=rating&per_page=3", &list); code != 200 || list.Total != 500 || len(list.Items) != 3 {
		t.Fatalf("/api/v1/salons = %d %+v", code, list)
	}
	var salon struct{ Slug string }
	if code := getJSON(t, base+"/api/v1/salons/"+list.Items[0].Slug, &salon); code != 200 || salon.Slug != list.Items[0].Slug {
		t.Errorf("salon %s = %d %+v", list.Items[0].Slug, code, salon)
	}
	// A fresh demo seed builds a first sitemap before serving, so
	// /sitemap.xml answers without an admin call.
	if code := getJSON(t, base+"/sitemap.xml", nil); code != 200 {
		t.Errorf("/sitemap.xml after a --demo start = %d, want 200", code)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("run exit code after cancel = %d, want 0", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop within 30s of cancel")
	}
}

func TestRunEndToEnd(t *testing.T) {
	t.Parallel()
	testRunEndToEnd(t, map[string]string{"ATLAS_ADDR": "127.0.0.1:0", "ATLAS_DATA_DIR": storetest.TempDataDir(t)})
}

func TestRunEndToEndPostgres(t *testing.T) {
	t.Parallel()
	dsn := storetest.IsolatedPostgresURL(t)
	testRunEndToEnd(t, map[string]string{"ATLAS_ADDR": "127.0.0.1:0", "ATLAS_DATABASE_URL": dsn, "ATLAS_DATA_DIR": storetest.TempDataDir(t)})
}

func TestRunDemoSeedsOnlyOnce(t *testing.T) {
	t.Parallel()
	env := map[string]string{"ATLAS_ADDR": "127.0.0.1:0", "ATLAS_DATA_DIR": storetest.TempDataDir(t)}
	for range 2 {
		base, cancel, done := startRun(t, env, "--demo")
		var list struct{ Total int }
		getJSON(t, base+"/api/v1/salons", &list)
		cancel()
		<-done
		if list.Total != 500 {
			t.Fatalf("salons after --demo start = %d, want 500 every time", list.Total)
		}
	}
}

func TestBinarySIGTERM(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "atlas")
	build := exec.Command("go", "build", "-o", bin, "github.com/sevra/atlas/cmd/atlas")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	cmd := exec.Command(bin, "run", "--demo")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ATLAS_ADDR=127.0.0.1:0", "ATLAS_DATA_DIR=", "ATLAS_DATABASE_URL=")
	out := newLines()
	cmd.Stdout = out
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	select {
	case a := <-out.addr:
		if code := getJSON(t, "http://"+a+"/healthz", nil); code != 200 {
			t.Errorf("/healthz = %d", code)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("no 'listening on' within 60s; stderr:\n%s", stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("atlas run after SIGTERM: %v (want exit 0); stderr:\n%s", err, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "atlas-data", "atlas.db")); err != nil {
		t.Errorf("default data dir not used: %v", err)
	}
}
