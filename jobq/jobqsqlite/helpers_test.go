package jobqsqlite

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

func openTest(t testing.TB) (*Driver, string) {
	t.Helper()
	return openTestConfig(t, Config{})
}

// openTestConfig is openTest with cfg (its Logger is replaced).
func openTestConfig(t testing.TB, cfg Config) (*Driver, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "q.db")
	cfg.Logger = slog.New(slog.DiscardHandler)
	d, err := Open(context.Background(), path, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, path
}

func mustAdd(t testing.TB, d *Driver, queue string, now int64, jobs ...*jobqdriver.Job) []jobqdriver.AddResult {
	t.Helper()
	res, err := d.Add(context.Background(), queue, jobs, now)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

var tokenSeq int

func fetchN(t testing.TB, d *Driver, queue string, n int, now int64) jobqdriver.FetchResult {
	t.Helper()
	toks := make([]string, n)
	for i := range toks {
		tokenSeq++
		toks[i] = fmt.Sprintf("tok-%d", tokenSeq)
	}
	res, err := d.Fetch(context.Background(), jobqdriver.FetchParams{Queue: queue, WorkerName: "w", Tokens: toks, LockDuration: 30000, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func ids(jobs []*jobqdriver.Job) []string {
	out := make([]string, len(jobs))
	for i, j := range jobs {
		out[i] = j.ID
	}
	return out
}

func complete(t testing.TB, d *Driver, j *jobqdriver.Job, now int64, keep *jobqdriver.Keep) {
	t.Helper()
	errs, _, err := d.Finish(context.Background(), []jobqdriver.FinishParams{{Queue: j.Queue, ID: j.ID, Token: j.Token, ReturnValue: []byte(`"ok"`), Keep: keep, Now: now}}, nil)
	if err != nil || errs[0] != nil {
		t.Fatalf("finish %s: %v %v", j.ID, err, errs)
	}
}

func fail(t testing.TB, d *Driver, j *jobqdriver.Job, now int64) {
	t.Helper()
	errs, _, err := d.Finish(context.Background(), []jobqdriver.FinishParams{{Queue: j.Queue, ID: j.ID, Token: j.Token, Failed: true, FailedReason: "boom", Now: now}}, nil)
	if err != nil || errs[0] != nil {
		t.Fatalf("fail %s: %v %v", j.ID, err, errs)
	}
}

func eventNames(t testing.TB, d *Driver, queue string) []string {
	t.Helper()
	evs, err := d.ReadEvents(context.Background(), queue, "0", 10000, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Name
	}
	return out
}
