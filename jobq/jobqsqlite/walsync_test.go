package jobqsqlite

import (
	"context"
	"errors"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// TestPipelinedSyncDefault: under the default FULL, the syncer runs on
// the database's own WAL file, every commit runs at synchronous=NORMAL,
// and the methods that must be durable (Add, Finish) wait for one fsync
// of the syncer each while Fetch and ExtendLocks wait for none.
func TestPipelinedSyncDefault(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, path := openTest(t)
	if d.ws == nil {
		t.Fatal("FULL: the pipelined fsync did not start")
	}
	open, err := d.ws.f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	onDisk, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(open, onDisk) {
		t.Fatal("the syncer's file is not the database's WAL file")
	}
	for _, noSync := range []bool{false, true} {
		if got := probeSync(t, d, noSync); got != syncNormal {
			t.Fatalf("noSync=%v: synchronous = %d, want %d (the syncer fsyncs)", noSync, got, syncNormal)
		}
	}

	cases := []struct {
		name   string
		run    func() error
		fsyncs int64
	}{
		{"Add", func() error {
			_, err := d.Add(ctx, "q", []*jobqdriver.Job{{ID: "a"}, {ID: "b"}}, 1)
			return err
		}, 1},
		{"Fetch", func() error {
			r, err := d.Fetch(ctx, jobqdriver.FetchParams{Queue: "q", WorkerName: "w", Tokens: []string{"t1"}, LockDuration: 30000, Now: 2})
			if err == nil && len(r.Jobs) != 1 {
				t.Errorf("fetched %d jobs, want 1", len(r.Jobs))
			}
			return err
		}, 0},
		{"ExtendLocks", func() error {
			_, err := d.ExtendLocks(ctx, "q", []jobqdriver.Lock{{ID: "a", Token: "t1"}}, 30000, 3)
			return err
		}, 0},
		{"Finish", func() error {
			errs, _, err := d.Finish(ctx, []jobqdriver.FinishParams{{Queue: "q", ID: "a", Token: "t1", Now: 4}}, nil)
			if err == nil && errs[0] != nil {
				t.Errorf("finish: %v", errs[0])
			}
			return err
		}, 1},
	}
	for _, c := range cases {
		before := d.fsyncs.Load()
		if err := c.run(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := d.fsyncs.Load() - before; got != c.fsyncs {
			t.Errorf("%s: %d fsyncs, want %d", c.name, got, c.fsyncs)
		}
	}
}

// fsyncGate is a syncHook that, once armed, blocks each fsync until released
// (or fails it with fail).
type fsyncGate struct {
	armed   atomic.Bool
	entered chan struct{} // an fsync is waiting
	open    chan struct{} // closed: let fsyncs go on
	fail    error
}

func newFsyncGate() *fsyncGate {
	return &fsyncGate{entered: make(chan struct{}, 16), open: make(chan struct{})}
}

func (g *fsyncGate) hook() error {
	if !g.armed.Load() {
		return nil
	}
	g.entered <- struct{}{}
	if g.fail != nil {
		return g.fail
	}
	<-g.open
	return nil
}

// TestAddWaitsForFsyncFetchDoesNot: while the fsync covering an Add is in
// progress, the Add has not returned, but the job is committed and a
// worker's Fetch takes it: enqueue→start does not wait for the disk.
func TestAddWaitsForFsyncFetchDoesNot(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := newFsyncGate()
	d, _ := openTestConfig(t, Config{syncHook: g.hook})
	g.armed.Store(true)
	added := make(chan error, 1)
	go func() {
		_, err := d.Add(ctx, "q", []*jobqdriver.Job{{ID: "j1"}}, 1)
		added <- err
	}()
	select {
	case <-g.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the Add's fsync never started")
	}
	r, err := d.Fetch(ctx, jobqdriver.FetchParams{Queue: "q", WorkerName: "w", Tokens: []string{"t1"}, LockDuration: 30000, Now: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(r.Jobs); !slices.Equal(got, []string{"j1"}) {
		t.Fatalf("fetched %v while the Add's fsync ran, want [j1]", got)
	}
	select {
	case err := <-added:
		t.Fatalf("Add returned (%v) before its fsync finished", err)
	default:
	}
	close(g.open)
	select {
	case err := <-added:
		if err != nil {
			t.Fatalf("Add: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Add did not return after its fsync")
	}
}

// TestOneFsyncReleasesManyBatches: batches committed while an fsync runs
// are released together by the next one.
func TestOneFsyncReleasesManyBatches(t *testing.T) {
	t.Parallel()
	g := newFsyncGate()
	d, _ := openTestConfig(t, Config{syncHook: g.hook})
	g.armed.Store(true)
	var wg sync.WaitGroup
	wg.Go(func() { mustAdd(t, d, "q", 1, &jobqdriver.Job{ID: "first"}) })
	select {
	case <-g.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the first Add's fsync never started")
	}
	before, fs := d.commits.Load(), d.fsyncs.Load()
	const n = 5
	for i := range n {
		wg.Go(func() { mustAdd(t, d, "q", 2, &jobqdriver.Job{ID: "later" + string(rune('a'+i))}) })
		// Each Add commits alone: wait for its commit before the next.
		deadline := time.Now().Add(5 * time.Second)
		for d.commits.Load() < before+int64(i)+1 {
			if time.Now().After(deadline) {
				t.Fatalf("Add %d did not commit while the fsync ran", i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	g.armed.Store(false)
	close(g.open)
	wg.Wait()
	if got := d.fsyncs.Load() - fs; got != 2 { // the first Add's, then one for the 5 others
		t.Fatalf("%d fsyncs for 1+%d Adds, want 2", got, n)
	}
}

// TestFsyncFailureStopsWrites: an fsync error fails the writes it
// covered and every later write with that error, and Close still returns.
func TestFsyncFailureStopsWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := newFsyncGate()
	boom := errors.New("injected EIO")
	g.fail = boom
	d, _ := openTestConfig(t, Config{syncHook: g.hook})
	mustAdd(t, d, "q", 1, &jobqdriver.Job{ID: "ok"})
	g.armed.Store(true)
	if _, err := d.Add(ctx, "q", []*jobqdriver.Job{{ID: "lost"}}, 2); !errors.Is(err, boom) {
		t.Fatalf("Add during a failing fsync: err = %v, want %v", err, boom)
	}
	g.armed.Store(false)
	if _, err := d.Add(ctx, "q", []*jobqdriver.Job{{ID: "after"}}, 3); !errors.Is(err, boom) {
		t.Fatalf("Add after a failed fsync: err = %v, want %v", err, boom)
	}
	if _, err := d.Fetch(ctx, jobqdriver.FetchParams{Queue: "q", WorkerName: "w", Tokens: []string{"t"}, LockDuration: 30000, Now: 4}); !errors.Is(err, boom) {
		t.Fatalf("Fetch after a failed fsync: err = %v, want %v", err, boom)
	}
	done := make(chan error, 1)
	go func() { done <- d.Close() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hung after a failed fsync")
	}
}
