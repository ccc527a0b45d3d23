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

// addManyJobs is a sequence of adds that takes every route of the add
// script: plain, custom id, a custom id added twice, prioritized, LIFO,
// delayed, deduplicated (the second add of an id is deduplicated), and
// plain jobs around them so the pushes to wait interleave.
func addManyJobs() []*jobqdriver.Job {
	mk := func(id string, f func(j *jobqdriver.Job)) *jobqdriver.Job {
		j := job(id, "n")
		if f != nil {
			f(j)
		}
		return j
	}
	return []*jobqdriver.Job{
		mk("", nil),
		mk("custom-a", nil),
		mk("", func(j *jobqdriver.Job) { j.Opts.Priority = 5 }),
		mk("", func(j *jobqdriver.Job) { j.Opts.LIFO = true }),
		mk("", nil),
		mk("custom-a", nil),
		mk("", func(j *jobqdriver.Job) { j.Opts.Delay = 60_000 }),
		mk("", func(j *jobqdriver.Job) { j.Opts.Dedup = &jobqdriver.Dedup{ID: "d1"} }),
		mk("", func(j *jobqdriver.Job) { j.Opts.Dedup = &jobqdriver.Dedup{ID: "d1"} }),
		mk("", func(j *jobqdriver.Job) {
			j.Opts.RemoveOnComplete = &jobqdriver.Keep{Count: 3}
			j.Opts.Attempts = 4
		}),
		mk("", func(j *jobqdriver.Job) { j.Opts.LIFO = true }),
		mk("", nil),
	}
}

// TestAddManyStoresLikeAdd: jobs added in one call (one addmany script
// call) leave exactly the keys, values and events that the same jobs
// added one call each (one add script call each) leave, on a running and
// on a paused queue; the results agree too.
func TestAddManyStoresLikeAdd(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	ctx := context.Background()
	now := time.Now().UnixMilli()
	for _, paused := range []bool{false, true} {
		one, many := "one", "many"
		if paused {
			one, many = "one-p", "many-p"
			for _, q := range []string{one, many} {
				if err := d.SetPaused(ctx, q, true); err != nil {
					t.Fatal(err)
				}
			}
		}
		var singles []jobqdriver.AddResult
		for _, j := range addManyJobs() {
			r, err := d.Add(ctx, one, []*jobqdriver.Job{j}, now)
			if err != nil {
				t.Fatalf("single add: %v", err)
			}
			singles = append(singles, r[0])
		}
		batch, err := d.Add(ctx, many, addManyJobs(), now)
		if err != nil {
			t.Fatalf("batch add: %v", err)
		}
		if len(batch) != len(singles) {
			t.Fatalf("batch returned %d results, want %d", len(batch), len(singles))
		}
		for i := range singles {
			if singles[i] != batch[i] {
				t.Errorf("paused=%v job %d: batch result %+v, single %+v", paused, i, batch[i], singles[i])
			}
		}
		// the routes were taken: a duplicate and a deduplicated result
		if !batch[5].Duplicate || batch[8].DeduplicatedBy == "" {
			t.Fatalf("results %+v: want job 5 duplicate and job 8 deduplicated", batch)
		}
		a, err := dumpQueue(ctx, d.client, d.QueueKey(one))
		if err != nil {
			t.Fatal(err)
		}
		b, err := dumpQueue(ctx, d.client, d.QueueKey(many))
		if err != nil {
			t.Fatal(err)
		}
		if len(a) < 10 {
			t.Fatalf("dump of %s has %d keys: %v", one, len(a), a)
		}
		for k := range unionKeys(a, b) {
			if a[k] != b[k] {
				t.Errorf("paused=%v key %s:\nsingle adds: %q\nbatch add:   %q", paused, k, a[k], b[k])
			}
		}
		w := a["<Q>:wait"]
		if want := "list:\n12\n10\n8\n5\ncustom-a\n1\n4\n11"; !paused && w != want {
			t.Errorf("wait list %q, want %q (LIFO jobs at the consumer end)", w, want)
		}
	}
}
