package jobq_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq"
	"github.com/sevra/atlas/jobq/jobqdriver"
	"github.com/sevra/atlas/jobq/jobqsqlite"
)

// countingBackend counts the backend's Fetch calls.
type countingBackend struct {
	jobq.Backend
	fetches atomic.Int64
}

func (c *countingBackend) Fetch(ctx context.Context, p jobqdriver.FetchParams) (jobqdriver.FetchResult, error) {
	c.fetches.Add(1)
	return c.Backend.Fetch(ctx, p)
}

// TestWorkerNoFetchAfterEmptyFetchNext: when a completion's fetch-next
// finds the queue empty, the worker waits instead of fetching again, and a
// job added afterwards is still taken.
func TestWorkerNoFetchAfterEmptyFetchNext(t *testing.T) {
	ctx := context.Background()
	d, err := jobqsqlite.Open(ctx, filepath.Join(t.TempDir(), "q.db"), &jobqsqlite.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	b := &countingBackend{Backend: d}
	done := make(chan string, 2)
	w, err := jobq.NewWorker("nf", b, func(ctx context.Context, j *jobq.Job) (any, error) {
		done <- j.Name
		return nil, nil
	}, &jobq.WorkerConfig{Concurrency: 1, DrainDelay: time.Minute})
	if err == nil {
		err = w.Start(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close(ctx) })
	q := jobq.NewQueue("nf", d, nil)
	waitFor := func(name string) {
		t.Helper()
		select {
		case got := <-done:
			if got != name {
				t.Fatalf("processed %q, want %q", got, name)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("job %q not processed", name)
		}
	}
	time.Sleep(200 * time.Millisecond) // the first fetch finds nothing
	if _, err := q.Add(ctx, "one", nil, nil); err != nil {
		t.Fatal(err)
	}
	waitFor("one")
	time.Sleep(300 * time.Millisecond) // let the loop settle into its wait
	// start-up fetch, and the fetch the add woke; the completion's
	// fetch-next (inside Finish) found nothing, so no third fetch
	if n := b.fetches.Load(); n != 2 {
		t.Fatalf("%d Fetch calls after one job, want 2", n)
	}
	if _, err := q.Add(ctx, "two", nil, nil); err != nil {
		t.Fatal(err)
	}
	waitFor("two")
}
