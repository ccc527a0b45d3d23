package dashboard

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sevra/atlas/internal/httpapi"
	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/jobq"
)

// stackError is a Go error whose %+v carries the stack where it was made,
// as errors from github.com/pkg/errors-style libraries do.
type stackError struct {
	msg   string
	stack []byte
}

func (e *stackError) Error() string { return e.msg }

func (e *stackError) Format(s fmt.State, verb rune) {
	io.WriteString(s, e.msg)
	if verb == 'v' && s.Flag('+') {
		io.WriteString(s, "\n"+string(e.stack))
	}
}

// consoleEnv is one backend for the console browser flows.
type consoleEnv struct {
	backend *queues.Backend
	// failing reports whether flaky jobs fail now; stopFailing ends that.
	failing     func() bool
	stopFailing func()
	// extraWorkers starts non-Go workers (the Node BullMQ worker on Redis)
	// and returns their names.
	extraWorkers func(t *testing.T) []string
}

const (
	consoleScheduler = "dash-tick"
	consoleOK        = 4
	consoleFlaky     = 2
)

// artifactDir is where screenshots go: ATLAS_TEST_ARTIFACTS/<name> when
// set (CI keeps it), else a temp dir that is logged.
func artifactDir(t *testing.T, name string) string {
	t.Helper()
	base := os.Getenv("ATLAS_TEST_ARTIFACTS")
	if base == "" {
		d, err := os.MkdirTemp("", "atlas-dashboard-")
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	d := filepath.Join(base, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestBrowserConsoleSQLite runs the operator flows on the SQLite backend.
func TestBrowserConsoleSQLite(t *testing.T) {
	browserEnabled(t)
	b, err := queues.OpenBackend(t.Context(), queues.BackendConfig{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	var fail atomic.Bool
	fail.Store(true)
	runConsole(t, "sqlite", consoleEnv{backend: b, failing: fail.Load, stopFailing: func() { fail.Store(false) }})
}

// TestBrowserConsoleRedisBullMQ runs the same flows on a Redis queue that
// a Node BullMQ 6.7 worker serves together with a Go worker.
func TestBrowserConsoleRedisBullMQ(t *testing.T) {
	browserEnabled(t)
	if os.Getenv("ATLAS_TEST_NODE") != "1" {
		if os.Getenv("ATLAS_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("ATLAS_TEST_NODE=1 is required under ATLAS_TEST_REQUIRE_SERVICES=1")
		}
		t.Skip("set ATLAS_TEST_NODE=1 (npm ci in jobq/jobqredis/testdata/interop) for the BullMQ flows")
	}
	url := os.Getenv("ATLAS_TEST_REDIS_URL")
	if url == "" {
		t.Fatal("ATLAS_TEST_REDIS_URL is required for the BullMQ flows")
	}
	bullmq, err := filepath.Abs(filepath.Join("..", "..", "jobq", "jobqredis", "testdata", "interop", "node_modules", "bullmq"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bullmq); err != nil {
		t.Fatalf("bullmq is not installed: npm ci in jobq/jobqredis/testdata/interop (%v)", err)
	}
	var r [4]byte
	_, _ = rand.Read(r[:])
	prefix := "atlas-dash-console-" + hex.EncodeToString(r[:])
	b, err := queues.OpenBackend(t.Context(), queues.BackendConfig{RedisURL: url, RedisPrefix: prefix, AllowUnsafeRedis: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opts)
	t.Cleanup(func() {
		ctx := context.Background()
		if keys, err := rc.Keys(ctx, prefix+":*").Result(); err == nil && len(keys) > 0 {
			rc.Del(ctx, keys...)
		}
		rc.Close()
	})
	failKey := prefix + ":dashtest:failing"
	if err := rc.Set(t.Context(), failKey, "1", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	env := consoleEnv{backend: b,
		failing:     func() bool { n, _ := rc.Exists(context.Background(), failKey).Result(); return n == 1 },
		stopFailing: func() { rc.Del(context.Background(), failKey) },
		extraWorkers: func(t *testing.T) []string {
			a, _ := json.Marshal(map[string]string{"bullmq": bullmq, "redisUrl": url, "prefix": prefix, "queue": queues.QueueMedia, "failKey": failKey})
			cmd := exec.Command("node", "bullworker.js", string(a))
			cmd.Dir = filepath.Join("testdata", "browser")
			stdin, _ := cmd.StdinPipe()
			stdout, _ := cmd.StdoutPipe()
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
			line, err := bufio.NewReader(stdout).ReadString('\n')
			if err != nil || strings.TrimSpace(line) != "started" {
				t.Fatalf("node worker: %q %v", line, err)
			}
			return []string{"node-dash"}
		}}
	runConsole(t, "redis-bullmq", env)
}

// runConsole serves the dashboard on env's backend and drives console.js:
// it starts the workers and adds jobs when the browser watches the
// overview, and checks what the browser saw against the backend.
func runConsole(t *testing.T, name string, env consoleEnv) {
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		t.Fatalf("no /usr/bin/chromium: %v", err)
	}
	helper, _ := filepath.Abs(filepath.Join("testdata", "browser"))
	if _, err := os.Stat(filepath.Join(helper, "node_modules", "playwright-core")); err != nil {
		t.Fatalf("playwright-core is not installed: run npm ci in %s (%v)", helper, err)
	}
	ctx := t.Context()
	b := env.backend
	media := jobq.NewQueue(queues.QueueMedia, b.Driver, nil)
	maint := jobq.NewQueue(queues.QueueMaintenance, b.Driver, nil)
	// An hourly scheduler runs at the next whole hour: a run that spans one
	// sees that tick too.
	schedFrom := time.Now()
	if _, err := maint.UpsertJobScheduler(ctx, consoleScheduler, jobq.Repeat{Every: time.Hour}, &jobq.JobTemplate{Name: "tick"}); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Backend: b, AdminToken: testToken, LiveInterval: 400 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpapi.NewHandler(httpapi.Deps{Dashboard: s, AdminToken: testToken})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	startWorkers := func() []string {
		names := []string{}
		for _, q := range []string{queues.QueueMedia, queues.QueueMaintenance} {
			wname := "go-dash-" + q
			w, err := jobq.NewWorker(q, b.Driver, func(ctx context.Context, j *jobq.Job) (any, error) {
				time.Sleep(100 * time.Millisecond)
				if j.Name == "flaky" && env.failing() {
					return nil, &stackError{msg: "flaky: decode failed in go", stack: debug.Stack()}
				}
				return map[string]string{"by": "go"}, nil
			}, &jobq.WorkerConfig{Name: wname, Concurrency: 2, DrainDelay: 100 * time.Millisecond, MetricsMaxDataPoints: 60})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Start(ctx); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = w.Close(context.Background()) })
			if q == queues.QueueMedia {
				names = append(names, wname)
			}
		}
		if env.extraWorkers != nil {
			names = append(names, env.extraWorkers(t)...)
		}
		for i := range consoleOK {
			if _, err := media.Add(ctx, "generate-variants", map[string]int{"mediaId": i}, &jobq.JobOptions{JobID: fmt.Sprintf("ok-%d", i)}); err != nil {
				t.Error(err)
			}
		}
		for i := range consoleFlaky {
			if _, err := media.Add(ctx, "flaky", map[string]int{"mediaId": 100 + i}, &jobq.JobOptions{JobID: fmt.Sprintf("flaky-%d", i)}); err != nil {
				t.Error(err)
			}
		}
		return names
	}

	dir := artifactDir(t, name)
	arg, _ := json.Marshal(map[string]any{"base": srv.URL, "token": testToken, "queue": queues.QueueMedia,
		"jobs": map[string]int{"ok": consoleOK, "flaky": consoleFlaky}, "scheduler": consoleScheduler,
		"schedulerQueue": queues.QueueMaintenance, "dir": dir})
	cctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, "node", "console.js", string(arg))
	cmd.Dir = helper
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var workerNames []string
	var result string
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		switch line := sc.Text(); line {
		case "ready":
			workerNames = startWorkers()
		case "stop-failing":
			env.stopFailing()
		default:
			result = line
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("node console.js: %v\n%s", err, stderr.String())
	}
	var got struct {
		Before, After            map[string]int64
		NavigationsWhileWatching int
		LiveBadge, PausedBadge   string
		Workers, FailedIDs       []string
		FailedJob                struct {
			ID, State, Reason string
			Stack             []string
		}
		SearchRows                                   []string
		SearchSummary, ConfirmMessage, BulkNotice    string
		FailedBeforeRetry, CompletedAfterRetry       int64
		NavigationsAfterRetry                        int
		PausedStatus, ResumedStatus, SchedulerNotice string
		SchedulerCompletedBefore                     int64
		SchedulerCompletedAfter                      int64
		InlineScripts                                int
		Errors                                       []string
		Shots                                        map[string]string
	}
	if err := json.Unmarshal([]byte(result), &got); err != nil {
		t.Fatalf("console.js output %q: %v\n%s", result, err, stderr.String())
	}
	for n, p := range got.Shots {
		if st, err := os.Stat(p); err != nil || st.Size() < 10_000 {
			t.Errorf("screenshot %s (%s): %v", n, p, err)
		}
	}
	t.Logf("screenshots in %s", dir)
	if len(got.Errors) > 0 {
		t.Errorf("browser errors: %v", got.Errors)
	}
	// Counts changed in place while the jobs ran.
	if got.NavigationsWhileWatching != 0 || got.After["completed"] < got.Before["completed"]+consoleOK || got.After["failed"] < got.Before["failed"]+consoleFlaky {
		t.Errorf("live overview: %d navigations, counts %v -> %v", got.NavigationsWhileWatching, got.Before, got.After)
	}
	if !strings.HasPrefix(got.LiveBadge, "live") || got.PausedBadge != "paused" {
		t.Errorf("live badge %q, after pause %q", got.LiveBadge, got.PausedBadge)
	}
	for _, w := range workerNames {
		if !slices.Contains(got.Workers, w) {
			t.Errorf("workers shown %v lack %s", got.Workers, w)
		}
	}
	// The failed job's page shows the stack trace of the worker that ran it.
	j, err := media.GetJob(ctx, got.FailedJob.ID)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("job %s (failed, then retried) was processed last by %q", j.ID, j.ProcessedBy)
	if got.FailedJob.State != "failed" || !strings.HasPrefix(got.FailedJob.Reason, "flaky: decode failed in ") || len(got.FailedJob.Stack) == 0 {
		t.Errorf("failed job page %+v", got.FailedJob)
	} else if last := got.FailedJob.Stack[len(got.FailedJob.Stack)-1]; !(strings.Contains(last, "goroutine") && strings.Contains(last, "browser_console_test.go")) && !strings.Contains(last, "    at ") {
		t.Errorf("stack trace shown is not a Go or JavaScript stack: %q", last)
	}
	if !slices.Equal(got.SearchRows, []string{got.FailedJob.ID}) || !strings.HasPrefix(got.SearchSummary, "1 match(es)") {
		t.Errorf("search for %s: rows %v, %q", got.FailedJob.ID, got.SearchRows, got.SearchSummary)
	}
	// Bulk retry named the count, then the failed list emptied live.
	if want := fmt.Sprintf("Retry %d all failed job(s) of media?", got.FailedBeforeRetry); got.ConfirmMessage != want || got.FailedBeforeRetry < consoleFlaky {
		t.Errorf("confirmation %q, want %q", got.ConfirmMessage, want)
	}
	if got.BulkNotice != fmt.Sprintf("%d job(s) moved back to waiting.", got.FailedBeforeRetry) || got.NavigationsAfterRetry != 0 {
		t.Errorf("bulk notice %q, navigations while completing %d", got.BulkNotice, got.NavigationsAfterRetry)
	}
	c, err := media.GetJobCounts(ctx, jobq.StateFailed, jobq.StateCompleted)
	if err != nil || c[jobq.StateFailed] != 0 || c[jobq.StateCompleted] != consoleOK+consoleFlaky {
		t.Errorf("backend after the retry: %v %v, want 0 failed, %d completed", c, err, consoleOK+consoleFlaky)
	}
	if !strings.Contains(got.PausedStatus, "paused") || !strings.Contains(got.ResumedStatus, "running") {
		t.Errorf("pause/resume status %q / %q", got.PausedStatus, got.ResumedStatus)
	}
	if p, err := media.IsPaused(ctx); err != nil || p {
		t.Errorf("queue paused after resume: %v %v", p, err)
	}
	if got.SchedulerNotice != "Scheduler job added." || got.SchedulerCompletedAfter <= got.SchedulerCompletedBefore {
		t.Errorf("scheduler run-now: %q, completed %d -> %d", got.SchedulerNotice, got.SchedulerCompletedBefore, got.SchedulerCompletedAfter)
	}
	ticks, err := maint.GetJobs(ctx, []jobq.State{jobq.StateCompleted}, 0, -1, false)
	most := 1 // the run-now
	if time.Now().Truncate(time.Hour).After(schedFrom) {
		most = 2 // and the hour's own run, if it has finished by now
	}
	if err != nil || len(ticks) < 1 || len(ticks) > most {
		t.Errorf("maintenance completed jobs %v %v, want the run-now tick (at most %d)", ticks, err, most)
	}
	for _, tk := range ticks {
		if tk.Name != "tick" {
			t.Errorf("maintenance completed job %s is %q, want tick", tk.ID, tk.Name)
		}
	}
	if env.extraWorkers != nil {
		// The Node worker took part: some completed jobs carry its result.
		done, err := media.GetJobs(ctx, []jobq.State{jobq.StateCompleted}, 0, -1, false)
		byNode := 0
		for _, j := range done {
			if string(j.ReturnValue) == `{"by":"node"}` {
				byNode++
			}
		}
		if err != nil || byNode == 0 {
			t.Errorf("no completed job was run by the Node worker (%d completed, %v)", len(done), err)
		}
		t.Logf("%d of %d completed media jobs ran on the Node BullMQ worker", byNode, len(done))
	}
	if got.InlineScripts != 0 {
		t.Errorf("%d inline scripts in the page", got.InlineScripts)
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		t.Fatal("test context cancelled")
	}
}
