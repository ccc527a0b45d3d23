package jobqsqlite

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// SQLite's values of PRAGMA synchronous.
const (
	syncNormal = 1
	syncFull   = 2
)

// syncProbe returns a write op that records the write connection's
// synchronous mode inside its transaction.
func syncProbe(got *int) func(t *wtx) error {
	return func(t *wtx) error {
		_, err := t.row("PRAGMA synchronous", nil, got)
		return err
	}
}

// probeSync runs a write op (a no-sync one with noSync) and returns the
// write connection's synchronous mode inside its transaction.
func probeSync(t *testing.T, d *Driver, noSync bool) int {
	t.Helper()
	var got int
	write := d.write
	if noSync {
		write = func(ctx context.Context, fn func(*wtx) error) error { return d.writeNoSync(ctx, 1, fn) }
	}
	if err := write(context.Background(), syncProbe(&got)); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestNoSyncBatchesInline: with FULL and SQLite's fsync inside COMMIT
// (the fallback when the WAL file cannot be opened for the pipelined
// fsync), a batch made only of no-sync ops commits at NORMAL; any other
// op commits at FULL, even right after a no-sync batch; a batch mixing
// both is split in two transactions, no-sync first.
func TestNoSyncBatchesInline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, _ := openTestConfig(t, Config{inlineSync: true})
	if d.ws != nil {
		t.Fatal("inlineSync: the pipelined fsync was started")
	}
	mustAdd(t, d, "q", 1, &jobqdriver.Job{ID: "seed"})

	var got int
	if err := d.writeNoSync(ctx, 1, syncProbe(&got)); err != nil {
		t.Fatal(err)
	}
	if got != syncNormal {
		t.Fatalf("no-sync op alone: synchronous = %d, want %d", got, syncNormal)
	}
	if err := d.write(ctx, syncProbe(&got)); err != nil {
		t.Fatal(err)
	}
	if got != syncFull {
		t.Fatalf("write after a no-sync batch: synchronous = %d, want %d", got, syncFull)
	}

	// A no-sync probe, a Fetch, an Add and a probe queued together: the
	// writer splits the batch; the no-sync ops commit first at NORMAL,
	// then the others at FULL, the Add's transaction.
	mustAdd(t, d, "q", 2, &jobqdriver.Job{ID: "x0"})
	before, beforeNS := d.commits.Load(), d.noSyncCommits.Load()
	release := hold(t, d)
	var wg sync.WaitGroup
	var first, withAdd int
	var fetched jobqdriver.FetchResult
	wg.Go(func() {
		if err := d.writeNoSync(ctx, 1, syncProbe(&first)); err != nil {
			t.Error(err)
		}
	})
	waitQueued(t, d, 1)
	wg.Go(func() { mustAdd(t, d, "q", 2, &jobqdriver.Job{ID: "x"}) })
	waitQueued(t, d, 2)
	wg.Go(func() {
		var err error
		fetched, err = d.Fetch(ctx, jobqdriver.FetchParams{Queue: "q", WorkerName: "w", Tokens: []string{"t1", "t0"}, LockDuration: 30000, Now: 2})
		if err != nil {
			t.Error(err)
		}
	})
	waitQueued(t, d, 3)
	wg.Go(func() {
		if err := d.write(ctx, syncProbe(&withAdd)); err != nil {
			t.Error(err)
		}
	})
	waitQueued(t, d, 4)
	release()
	wg.Wait()
	if n := d.commits.Load() - before; n != 3 { // the hold, then the two halves
		t.Fatalf("%d commits, want 3", n)
	}
	if n := d.noSyncCommits.Load() - beforeNS; n != 1 {
		t.Fatalf("%d no-sync commits, want 1", n)
	}
	if first != syncNormal || withAdd != syncFull {
		t.Fatalf("split batch: synchronous %d (no-sync half), %d (Add's half), want %d, %d", first, withAdd, syncNormal, syncFull)
	}
	// The Fetch ran before the Add queued ahead of it: it took the jobs
	// already waiting, not x.
	if got := ids(fetched.Jobs); !slices.Equal(got, []string{"seed", "x0"}) {
		t.Fatalf("fetched %v, want [seed x0]", got)
	}

	// Each driver method alone: which ones skip the fsync.
	cases := []struct {
		name   string
		run    func() error
		noSync bool
	}{
		{"Add", func() error {
			_, err := d.Add(ctx, "q", []*jobqdriver.Job{{ID: "y"}}, 3)
			return err
		}, false},
		{"Fetch", func() error {
			r, err := d.Fetch(ctx, jobqdriver.FetchParams{Queue: "q", WorkerName: "w", Tokens: []string{"t2"}, LockDuration: 30000, Now: 3})
			if err == nil && len(r.Jobs) != 1 {
				t.Errorf("fetched %d jobs, want 1", len(r.Jobs))
			}
			return err
		}, true},
		{"ExtendLocks", func() error {
			_, err := d.ExtendLocks(ctx, "q", []jobqdriver.Lock{{ID: "x", Token: "t1"}}, 30000, 4)
			return err
		}, true},
		{"Finish", func() error {
			errs, _, err := d.Finish(ctx, []jobqdriver.FinishParams{{Queue: "q", ID: "seed", Token: "t1", Now: 5}},
				&jobqdriver.FetchParams{Queue: "q", WorkerName: "w", Tokens: []string{"t3"}, LockDuration: 30000, Now: 5})
			if err == nil && errs[0] != nil {
				t.Errorf("finish: %v", errs[0])
			}
			return err
		}, false},
	}
	for _, c := range cases {
		ns := d.noSyncCommits.Load()
		if err := c.run(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := d.noSyncCommits.Load() - ns; got != map[bool]int64{false: 0, true: 1}[c.noSync] {
			t.Errorf("%s: %d no-sync commits, want no-sync %v", c.name, got, c.noSync)
		}
	}
	if err := d.write(ctx, syncProbe(&got)); err != nil {
		t.Fatal(err)
	}
	if got != syncFull {
		t.Fatalf("write after the methods: synchronous = %d, want %d", got, syncFull)
	}
}

// TestNoSyncUnderNormal: with Config.Synchronous NORMAL every batch runs
// at NORMAL and none counts as a no-sync commit.
func TestNoSyncUnderNormal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, err := Open(ctx, filepath.Join(t.TempDir(), "q.db"), &Config{Synchronous: "normal", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	for _, noSync := range []bool{true, false, true} {
		if got := probeSync(t, d, noSync); got != syncNormal {
			t.Fatalf("noSync=%v: synchronous = %d, want %d", noSync, got, syncNormal)
		}
	}
	if n := d.noSyncCommits.Load(); n != 0 {
		t.Fatalf("%d no-sync commits under NORMAL, want 0", n)
	}
}
