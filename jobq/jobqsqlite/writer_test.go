package jobqsqlite

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// hold occupies the writer goroutine until the returned release is
// called, so that the writes submitted meanwhile form one batch.
func hold(t *testing.T, d *Driver) (release func()) {
	t.Helper()
	running, unblock, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- d.write(context.Background(), func(*wtx) error {
			close(running)
			<-unblock
			return nil
		})
	}()
	<-running
	var once sync.Once
	release = func() {
		once.Do(func() {
			close(unblock)
			if err := <-done; err != nil {
				t.Errorf("hold: %v", err)
			}
		})
	}
	t.Cleanup(release)
	return release
}

// waitQueued waits until n writes are queued for the writer.
func waitQueued(t *testing.T, d *Driver, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		d.wq.mu.Lock()
		got := len(d.wq.ops)
		d.wq.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d writes queued, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

type busyErr struct{}

func (busyErr) Error() string { return "database is locked (test)" }
func (busyErr) Code() int     { return sqliteBusy }

// TestGroupCommitIsolatesFailures: writes queued together commit in one
// transaction; one that fails is rolled back alone, in the database and
// in the transaction's memory (id counter, events, wakes).
func TestGroupCommitIsolatesFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, _ := openTest(t)
	mustAdd(t, d, "q", 1, &jobqdriver.Job{ID: "seed"}) // creates the queue row
	before := d.commits.Load()
	release := hold(t, d)
	errBoom := errors.New("boom")
	var wg sync.WaitGroup
	var mu sync.Mutex
	var gotIDs []string
	add := func() {
		defer wg.Done()
		r, err := d.Add(ctx, "q", []*jobqdriver.Job{{Name: "n"}}, 1)
		if err != nil {
			t.Error(err)
			return
		}
		mu.Lock()
		gotIDs = append(gotIDs, r[0].ID)
		mu.Unlock()
	}
	wg.Add(4)
	go add()
	waitQueued(t, d, 1)
	go func() {
		defer wg.Done()
		if err := d.Promote(ctx, "q", "missing", 1); !errors.Is(err, jobqdriver.ErrJobNotFound) {
			t.Errorf("promote missing: %v", err)
		}
	}()
	waitQueued(t, d, 2)
	go func() {
		defer wg.Done()
		err := d.write(ctx, func(t *wtx) error {
			m, err := t.meta("q")
			if err != nil {
				return err
			}
			m.nextID()
			m.nextSeq()
			t.emit("q", "bogus")
			if err := t.wake("q"); err != nil {
				return err
			}
			if _, err := t.meta("other"); err != nil {
				return err
			}
			t.emit("other", "bogus")
			if _, err := t.exec(`INSERT INTO logs (queue, job_id, line) VALUES ('q', 'seed', 'x')`); err != nil {
				return err
			}
			return errBoom
		})
		if !errors.Is(err, errBoom) {
			t.Errorf("failing write: %v", err)
		}
	}()
	waitQueued(t, d, 3)
	go add()
	waitQueued(t, d, 4)
	release()
	wg.Wait()
	if n := d.commits.Load() - before; n != 2 { // the hold, then the batch
		t.Fatalf("%d commits, want 2", n)
	}
	slices.Sort(gotIDs)
	if !slices.Equal(gotIDs, []string{"2", "3"}) {
		t.Fatalf("generated ids %v, want [2 3]: the failed write's counter leaked", gotIDs)
	}
	if names := eventNames(t, d, "q"); !slices.Equal(names, []string{"added", "waiting", "added", "waiting", "added", "waiting"}) {
		t.Fatalf("events %v", names)
	}
	if names := eventNames(t, d, "other"); len(names) != 0 {
		t.Fatalf("events of other %v", names)
	}
	if _, n, _ := d.Logs(ctx, "q", "seed", 0, -1, true); n != 0 {
		t.Fatalf("failed write's log line kept: %d", n)
	}
	if c, _ := d.Counts(ctx, "q", []string{"waiting"}); c["waiting"] != 3 {
		t.Fatalf("counts %v", c)
	}
}

// TestGroupCommitRetriesFromScratch: when the commit of a batch fails as
// busy, every write runs again from the database state, and callers see
// only the results of the attempt that committed.
func TestGroupCommitRetriesFromScratch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, _ := openTest(t)
	var calls int
	d.beforeCommit = func() error { // runs on the writer goroutine
		calls++
		if calls == 2 { // the first commit after hold's
			return busyErr{}
		}
		return nil
	}
	release := hold(t, d)
	jobs := []*jobqdriver.Job{{Name: "a"}, {Name: "b", Delay: 10}, {ID: "c"}}
	flow := &jobqdriver.FlowNode{Job: &jobqdriver.Job{Queue: "q", Name: "parent"},
		Children: []*jobqdriver.FlowNode{{Job: &jobqdriver.Job{Queue: "q", Name: "child"}}}}
	sched := &jobqdriver.Job{ID: "repeat:s:100", Name: "tick", Delay: 99}
	var res []jobqdriver.AddResult
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		var err error
		if res, err = d.Add(ctx, "q", jobs, 1); err != nil {
			t.Error(err)
		}
	}()
	waitQueued(t, d, 1)
	go func() {
		defer wg.Done()
		if err := d.AddFlow(ctx, flow, 1); err != nil {
			t.Error(err)
		}
	}()
	waitQueued(t, d, 2)
	go func() {
		defer wg.Done()
		if err := d.UpsertScheduler(ctx, "q", jobqdriver.Scheduler{ID: "s", Name: "tick", Every: 100}, sched, 1); err != nil {
			t.Error(err)
		}
	}()
	waitQueued(t, d, 3)
	release()
	wg.Wait()
	if calls != 3 {
		t.Fatalf("%d commit attempts, want 3", calls)
	}
	if len(res) != 3 || res[0].ID != "1" || res[1].ID != "2" || res[2].ID != "c" || res[2].Duplicate {
		t.Fatalf("add results %+v", res)
	}
	if jobs[0].ID != "1" || jobs[1].State != jobqdriver.StateDelayed || jobs[2].State != jobqdriver.StateWaiting {
		t.Fatalf("jobs written back: %+v %+v %+v", jobs[0], jobs[1], jobs[2])
	}
	if flow.Job.ID != "4" || flow.Children[0].Job.ID != "5" || flow.Children[0].Job.ParentKey != "jobq:q:4" {
		t.Fatalf("flow ids %s %s %s", flow.Job.ID, flow.Children[0].Job.ID, flow.Children[0].Job.ParentKey)
	}
	c, err := d.Counts(ctx, "q", []string{"waiting", "delayed", "waiting-children"})
	if err != nil {
		t.Fatal(err)
	}
	if c["waiting"] != 3 || c["delayed"] != 2 || c["waiting-children"] != 1 {
		t.Fatalf("counts %v", c)
	}
	s, err := d.GetScheduler(ctx, "q", "s")
	if err != nil || s.Iterations != 1 {
		t.Fatalf("scheduler %+v %v", s, err)
	}
	n := 0
	for _, e := range eventNames(t, d, "q") {
		if e == "added" {
			n++
		}
	}
	if n != 6 {
		t.Fatalf("%d added events, want 6", n)
	}
}

// TestGroupCommitContextAndClose: a write whose context ends while it is
// queued is not run; writes queued when the driver closes return
// ErrClosed; a panic reaches its caller only.
func TestGroupCommitContextAndClose(t *testing.T) {
	t.Parallel()
	d, _ := openTest(t)
	release := hold(t, d)
	cctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 3)
	go func() {
		_, err := d.Add(cctx, "q", []*jobqdriver.Job{{ID: "cancelled"}}, 1)
		errs <- err
	}()
	waitQueued(t, d, 1)
	panicked := make(chan any, 1)
	go func() {
		defer func() { panicked <- recover() }()
		d.write(context.Background(), func(*wtx) error { panic("op panic") })
	}()
	waitQueued(t, d, 2)
	kept := make(chan error, 1)
	go func() {
		_, err := d.Add(context.Background(), "q", []*jobqdriver.Job{{ID: "kept"}}, 1)
		kept <- err
	}()
	waitQueued(t, d, 3)
	cancel()
	release()
	if err := <-errs; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled write: %v", err)
	}
	if p := <-panicked; p != "op panic" {
		t.Fatalf("panic %v", p)
	}
	if err := <-kept; err != nil {
		t.Fatalf("write after a panic: %v", err)
	}
	if s, _ := d.JobState(context.Background(), "q", "cancelled"); s != jobqdriver.StateUnknown {
		t.Fatalf("cancelled write ran: %s", s)
	}
	if s, _ := d.JobState(context.Background(), "q", "kept"); s != jobqdriver.StateWaiting {
		t.Fatalf("kept job: %s", s)
	}

	release = hold(t, d)
	go func() {
		_, err := d.Add(context.Background(), "q", []*jobqdriver.Job{{ID: "late"}}, 1)
		errs <- err
	}()
	waitQueued(t, d, 1)
	closed := make(chan error, 1)
	go func() { closed <- d.Close() }()
	if err := <-errs; !errors.Is(err, jobqdriver.ErrClosed) {
		t.Fatalf("write queued at close: %v", err)
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a write was running", err)
	case <-time.After(20 * time.Millisecond):
	}
	release()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if _, err := d.Add(context.Background(), "q", []*jobqdriver.Job{{}}, 1); !errors.Is(err, jobqdriver.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
}

// TestGroupCommitObliterateInBatch: an Obliterate between two Adds of the
// same transaction deletes the first Add's job and events, and the second
// Add starts the queue afresh.
func TestGroupCommitObliterateInBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, _ := openTest(t)
	mustAdd(t, d, "q", 1, &jobqdriver.Job{})
	release := hold(t, d)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); mustAdd(t, d, "q", 1, &jobqdriver.Job{Name: "gone"}) }()
	waitQueued(t, d, 1)
	go func() {
		defer wg.Done()
		if err := d.Obliterate(ctx, "q", true); err != nil {
			t.Error(err)
		}
	}()
	waitQueued(t, d, 2)
	var r []jobqdriver.AddResult
	go func() { defer wg.Done(); r = mustAdd(t, d, "q", 1, &jobqdriver.Job{Name: "new"}) }()
	waitQueued(t, d, 3)
	release()
	wg.Wait()
	if r[0].ID != "1" {
		t.Fatalf("id after obliterate %s, want 1", r[0].ID)
	}
	jobs, err := d.GetJobs(ctx, "q", []string{"waiting"}, 0, -1, true)
	if err != nil || len(jobs) != 1 || jobs[0].Name != "new" {
		t.Fatalf("jobs %v %v", jobs, err)
	}
	if names := eventNames(t, d, "q"); !slices.Equal(names, []string{"added", "waiting"}) {
		t.Fatalf("events %v", names)
	}
	if last, _ := d.LastEventID(ctx, "q"); last != eventID(2) {
		t.Fatalf("last event %s", last)
	}
}

// TestGroupCommitWeightCap: queued writes are split into transactions of
// at most maxBatchWeight items (a larger single write goes alone).
func TestGroupCommitWeightCap(t *testing.T) {
	t.Parallel()
	d, _ := openTest(t)
	before := d.commits.Load()
	release := hold(t, d)
	sizes := []int{maxBatchWeight / 2, maxBatchWeight / 2, 1, maxBatchWeight + 1}
	var wg sync.WaitGroup
	for i, n := range sizes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			jobs := make([]*jobqdriver.Job, n)
			for k := range jobs {
				jobs[k] = &jobqdriver.Job{}
			}
			if _, err := d.Add(context.Background(), "q", jobs, 1); err != nil {
				t.Error(err)
			}
		}()
		waitQueued(t, d, i+1)
	}
	release()
	wg.Wait()
	// hold; then [half, half]; [1]; [big]
	if n := d.commits.Load() - before; n != 4 {
		t.Fatalf("%d commits, want 4", n)
	}
}
