package jobqredis

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// TestAddBatchKeepsPerCallResults: single adds from many goroutines share
// pipelines, yet each gets its own result: new ids are distinct, a custom
// id added twice is a duplicate exactly once, a missing parent fails only
// its own call, and every job is stored (checked with direct reads).
func TestAddBatchKeepsPerCallResults(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	ctx := context.Background()
	const n = 300
	var wg sync.WaitGroup
	res := make([]jobqdriver.AddResult, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			j := job("", "n")
			switch {
			case i == 7 || i == 8:
				j.ID = "same"
			case i == 9:
				j.ParentKey = d.jobKey("ab", "no-such-parent")
			}
			r, err := d.Add(ctx, "ab", []*jobqdriver.Job{j}, time.Now().UnixMilli())
			errs[i] = err
			if err == nil {
				res[i] = r[0]
			}
		})
	}
	wg.Wait()
	if !errors.Is(errs[9], jobqdriver.ErrParentMissing) {
		t.Fatalf("add under a missing parent: %v, want ErrParentMissing", errs[9])
	}
	seen := map[string]bool{}
	dups := 0
	for i := range n {
		if i == 9 {
			continue
		}
		if errs[i] != nil {
			t.Fatalf("add %d: %v", i, errs[i])
		}
		if res[i].Duplicate {
			dups++
			continue
		}
		if seen[res[i].ID] {
			t.Fatalf("id %s returned twice", res[i].ID)
		}
		seen[res[i].ID] = true
	}
	if dups != 1 || !seen["same"] {
		t.Fatalf("custom id added twice: %d duplicates, stored %v; want 1 and true", dups, seen["same"])
	}
	if got := d.client.LLen(ctx, d.key("ab", "wait")).Val(); got != int64(n-2) {
		t.Fatalf("wait holds %d jobs, want %d", got, n-2)
	}
	for id := range seen {
		if d.client.Exists(ctx, d.jobKey("ab", id)).Val() != 1 {
			t.Fatalf("job %s not stored", id)
		}
	}
}

// TestAddBatchAfterClose: a single add after Close fails with ErrClosed
// and writes nothing.
func TestAddBatchAfterClose(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	ctx := context.Background()
	mustAdd(t, d, "abc", 1, job("", "n"))
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := d.Add(ctx, "abc", []*jobqdriver.Job{job("", "n")}, 1)
	if !errors.Is(err, jobqdriver.ErrClosed) {
		t.Fatalf("add after close: %v, want ErrClosed", err)
	}
}
