package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/jobq"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/queue")

// queueFixture is a data dir whose SQLite queue holds, all at a fixed
// clock: in media, waiting media-1, delayed media-2, completed ok-1 and
// failed bad-1; in maintenance an hourly scheduler "hourly-sitemap".
func queueFixture(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	b, err := queues.OpenBackend(ctx, queues.BackendConfig{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { return at }
	media := jobq.NewQueue(queues.QueueMedia, b.Driver, &jobq.QueueConfig{Clock: clock})
	w, err := jobq.NewWorker(queues.QueueMedia, b.Driver, func(ctx context.Context, j *jobq.Job) (any, error) {
		if j.ID == "bad-1" {
			return nil, errors.New("decode: bad image")
		}
		return map[string]int{"variants": 3}, nil
	}, &jobq.WorkerConfig{Clock: clock, DrainDelay: 20 * time.Millisecond, Name: "golden-worker"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"ok-1", "bad-1"} {
		if _, err := media.Add(ctx, "generate-variants", map[string]string{"mediaId": id}, &jobq.JobOptions{JobID: id}); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		c, err := media.GetJobCounts(ctx, jobq.StateCompleted, jobq.StateFailed)
		if err != nil {
			t.Fatal(err)
		}
		if c[jobq.StateCompleted] == 1 && c[jobq.StateFailed] == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fixture jobs did not finish: %v", c)
		}
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := media.Add(ctx, "generate-variants", map[string]int{"mediaId": 1}, &jobq.JobOptions{JobID: "media-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := media.Add(ctx, "generate-variants", map[string]int{"mediaId": 2}, &jobq.JobOptions{JobID: "media-2", Delay: time.Hour}); err != nil {
		t.Fatal(err)
	}
	maint := jobq.NewQueue(queues.QueueMaintenance, b.Driver, &jobq.QueueConfig{Clock: clock})
	if _, err := maint.UpsertJobScheduler(ctx, "hourly-sitemap", jobq.Repeat{Every: time.Hour}, &jobq.JobTemplate{Name: "rebuild-sitemap"}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runQueueCLI runs `atlas queue args…` and returns stdout, stderr and the
// exit status.
func runQueueCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(context.Background(), append([]string{"queue"}, args...), func(string) string { return "" }, &out, &errOut)
	return out.String(), errOut.String(), code
}

// TestQueueJSONGolden compares `atlas queue … --json` with the files
// under testdata/queue (go test -run QueueJSONGolden -update rewrites
// them). Flags are put before, between and after the arguments.
func TestQueueJSONGolden(t *testing.T) {
	dir := queueFixture(t)
	cases := []struct {
		golden string
		args   []string
		code   int
	}{
		{"ls", []string{"ls", "--json", "--data-dir", dir}, 0},
		{"ls", []string{"--json", "--data-dir", dir, "ls"}, 0},
		{"show-media", []string{"--data-dir", dir, "show", "media", "--json"}, 0},
		{"show-maintenance", []string{"show", "--json", "maintenance", "--data-dir", dir}, 0},
		{"jobs-media", []string{"jobs", "media", "--json", "--data-dir=" + dir}, 0},
		{"jobs-failed", []string{"jobs", "--state", "failed", "media", "--json", "--data-dir", dir}, 0},
		{"retry-wrong-state", []string{"retry", "media", "ok-1", "--json", "--data-dir", dir}, 4},
		{"retry-not-found", []string{"retry", "media", "nope", "--json", "--data-dir", dir}, 3},
		{"unknown-queue", []string{"show", "nope", "--json", "--data-dir", dir}, 2},
		{"retry", []string{"retry", "media", "bad-1", "--json", "--data-dir", dir}, 0},
		{"promote", []string{"promote", "media", "media-2", "--json", "--data-dir", dir}, 0},
		{"scheduler-pause", []string{"scheduler", "maintenance", "hourly-sitemap", "pause", "--json", "--data-dir", dir}, 0},
		{"pause", []string{"pause", "media", "--json", "--data-dir", dir}, 0},
	}
	for _, c := range cases {
		out, errOut, code := runQueueCLI(t, c.args...)
		if code != c.code {
			t.Errorf("%s: exit %d, want %d (stderr %q)", c.golden, code, c.code, errOut)
		}
		got := strings.ReplaceAll(out, dir, "<DIR>")
		path := filepath.Join("testdata", "queue", c.golden+".json")
		if *updateGolden {
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%s: %v (run with -update to create it)", c.golden, err)
		}
		if got != string(want) {
			t.Errorf("%s: output differs from %s:\n%s", c.golden, path, got)
		}
	}
}

// TestQueueExitCodes checks the exit status and message of each error,
// that nothing is logged without --log-level, and that a data dir without
// a queue file is reported, not created.
func TestQueueExitCodes(t *testing.T) {
	dir := queueFixture(t)
	empty := t.TempDir()
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"ok", []string{"ls", "--data-dir", dir}, 0, ""},
		{"no subcommand", []string{"--data-dir", dir}, 2, "needs a subcommand"},
		{"unknown subcommand", []string{"frob", "--data-dir", dir}, 2, `unknown queue subcommand "frob"`},
		{"unknown queue", []string{"show", "nope", "--data-dir", dir}, 2, `unknown queue "nope"`},
		{"unknown flag", []string{"ls", "--bogus", "--data-dir", dir}, 2, "flag provided but not defined: -bogus"},
		{"flag not taken", []string{"ls", "--grace", "1h", "--data-dir", dir}, 2, "flag --grace does not apply to queue ls"},
		{"subcommand flag first", []string{"--state", "failed", "jobs", "media", "--data-dir", dir}, 2, "flag provided but not defined: -state"},
		{"flag after --", []string{"remove", "media", "--data-dir", dir, "--", "--all"}, 3, "remove --all on media: "},
		{"unknown state", []string{"jobs", "media", "--state", "bogus", "--data-dir", dir}, 2, `unknown state "bogus"`},
		{"bad grace", []string{"clean", "media", "--grace", "soon", "--data-dir", dir}, 2, `--grace "soon"`},
		{"missing id", []string{"retry", "media", "--data-dir", dir}, 2, "takes a queue and a job id, or a queue and --all"},
		{"extra argument", []string{"pause", "media", "extra", "--data-dir", dir}, 2, "takes a queue name"},
		{"bad scheduler action", []string{"scheduler", "maintenance", "hourly-sitemap", "frob", "--data-dir", dir}, 2, `scheduler action "frob"`},
		{"job not found", []string{"retry", "media", "nope", "--data-dir", dir}, 3, "not found"},
		{"scheduler not found", []string{"run-now", "maintenance", "nope", "--data-dir", dir}, 3, "not found"},
		{"retry completed", []string{"retry", "media", "ok-1", "--data-dir", dir}, 4, "job ok-1 is completed; retry applies to failed jobs"},
		{"promote waiting", []string{"promote", "media", "media-1", "--data-dir", dir}, 4, "job media-1 is waiting; promote applies to delayed jobs"},
		{"no queue file", []string{"ls", "--data-dir", empty}, 1, "no queue file at " + filepath.Join(empty, "queue.db")},
		{"bad log level", []string{"ls", "--data-dir", dir, "--log-level", "loud"}, 2, `log level "loud"`},
	}
	for _, c := range cases {
		out, errOut, code := runQueueCLI(t, c.args...)
		if code != c.code {
			t.Errorf("%s: exit %d, want %d (stdout %q, stderr %q)", c.name, code, c.code, out, errOut)
		}
		if c.msg == "" && errOut != "" {
			t.Errorf("%s: stderr %q, want nothing (no log lines without --log-level)", c.name, errOut)
		}
		if c.msg != "" && !strings.Contains(errOut, c.msg) {
			t.Errorf("%s: stderr %q lacks %q", c.name, errOut, c.msg)
		}
	}
	if _, err := os.Stat(filepath.Join(empty, "queue.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a queue command created %s: %v", filepath.Join(empty, "queue.db"), err)
	}
}
