package cli

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/jobq"
)

func TestQueueCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	b, err := queues.OpenBackend(ctx, queues.BackendConfig{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	q := jobq.NewQueue(queues.QueueMedia, b.Driver, nil)
	if _, err := q.Add(ctx, "generate-variants", map[string]int{"mediaId": 1}, &jobq.JobOptions{JobID: "media-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Add(ctx, "generate-variants", nil, &jobq.JobOptions{JobID: "media-2", Delay: 3600e9}); err != nil {
		t.Fatal(err)
	}
	b.Close()

	run := func(args ...string) (string, int) {
		var out, errOut bytes.Buffer
		code := Run(ctx, append([]string{"queue", "--data-dir", dir, "--log-level", "error"}, args...), func(string) string { return "" }, &out, &errOut)
		return out.String() + errOut.String(), code
	}
	out, code := run("ls")
	if code != 0 || !strings.Contains(out, "media") {
		t.Fatalf("ls: %d %s", code, out)
	}
	out, code = run("jobs", "media", "--state", "delayed")
	if code != 0 || !strings.Contains(out, "media-2") || strings.Contains(out, "media-1") {
		t.Fatalf("jobs --state delayed: %d %s", code, out)
	}
	if out, code = run("promote", "media", "media-2"); code != 0 {
		t.Fatalf("promote: %d %s", code, out)
	}
	if out, code = run("pause", "media"); code != 0 {
		t.Fatalf("pause: %d %s", code, out)
	}
	out, code = run("show", "media")
	if code != 0 || !strings.Contains(out, "paused: true") || !strings.Contains(out, "waiting           2") {
		t.Fatalf("show: %d %s", code, out)
	}
	if out, code = run("remove", "media", "media-1"); code != 0 {
		t.Fatalf("remove: %d %s", code, out)
	}
	if out, code = run("remove", "media", "nope"); code == 0 || !strings.Contains(out, "not found") {
		t.Fatalf("remove missing: %d %s", code, out)
	}
	if out, code = run("jobs", "media", "--state", "bogus"); code != 2 {
		t.Fatalf("bad state: %d %s", code, out)
	}
	if out, code = run("frobnicate"); code != 2 {
		t.Fatalf("unknown subcommand: %d %s", code, out)
	}

	b, err = queues.OpenBackend(ctx, queues.BackendConfig{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := jobq.NewQueue(queues.QueueMedia, b.Driver, nil).GetJob(ctx, "media-1"); !errors.Is(err, jobq.ErrJobNotFound) {
		t.Fatalf("media-1 after remove: %v", err)
	}
}
