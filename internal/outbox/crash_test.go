package outbox

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/store"
	"github.com/sevra/atlas/internal/store/storetest"
	"github.com/sevra/atlas/jobq"
)

// Environment of the crash child.
const (
	crashChildEnv = "ATLAS_OUTBOX_CRASH_CHILD"
	crashURLEnv   = "ATLAS_OUTBOX_CRASH_DB_URL"
	crashDirEnv   = "ATLAS_OUTBOX_CRASH_DATA_DIR"
)

// panicJobs fails the test process if anything publishes.
type panicJobs struct{}

func (panicJobs) Add(context.Context, string, string, any, *jobq.JobOptions) (*jobq.Job, error) {
	panic("the crash child must not publish")
}

// TestCrashChild is the child process of TestCrashBetweenCommitAndPublish:
// it commits an event, reports it, and waits to be killed before it can
// publish. It does nothing in a normal test run.
func TestCrashChild(t *testing.T) {
	if os.Getenv(crashChildEnv) != "1" {
		t.Skip("child process of TestCrashBetweenCommitAndPublish")
	}
	ctx := context.Background()
	st, err := store.Open(ctx, os.Getenv(crashURLEnv), os.Getenv(crashDirEnv))
	if err != nil {
		t.Fatal(err)
	}
	o, err := New(Config{Store: st, Jobs: panicJobs{}, Routes: pingRoutes(), Grace: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEvent(ctx, "Ping", map[string]int{"n": 1}, rollout.Async)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := st.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Add(ctx, tx, e); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("committed %s\n", e.ID)
	os.Stdout.Sync()
	time.Sleep(time.Minute) // killed here, between the commit and the publish
	_, _ = o.Publish(ctx, e)
}

// TestCrashBetweenCommitAndPublish kills a process right after it committed
// an event, then lets two relays (as two processes would) race over the
// outbox: the event becomes exactly one job, and a later republish adds
// nothing.
func TestCrashBetweenCommitAndPublish(t *testing.T) {
	t.Parallel()
	for _, d := range []struct {
		name string
		url  func(testing.TB) string
	}{{"sqlite", func(testing.TB) string { return "" }}, {"postgres", storetest.IsolatedPostgresURL}} {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			testCrash(t, d.url(t))
		})
	}
}

func testCrash(t *testing.T, url string) {
	ctx := context.Background()
	dir := t.TempDir()
	open := func() *store.Store {
		st, err := store.Open(ctx, url, dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	st := open()
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}

	child := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	child.Env = append(os.Environ(), crashChildEnv+"=1", crashURLEnv+"="+url, crashDirEnv+"="+dir)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if id, ok := strings.CutPrefix(sc.Text(), "committed "); ok {
				lines <- id
				return
			}
		}
		close(lines)
	}()
	var eventID string
	select {
	case id, ok := <-lines:
		if !ok {
			t.Fatal("child ended without committing")
		}
		eventID = id
	case <-time.After(60 * time.Second):
		child.Process.Kill()
		t.Fatal("child did not commit within 60s")
	}
	if err := child.Process.Kill(); err != nil { // SIGKILL: no deferred code runs
		t.Fatal(err)
	}
	child.Wait()

	if n := unpublished(t, st); n != 1 {
		t.Fatalf("%d unpublished rows after the crash, want 1", n)
	}
	b, err := queues.OpenBackend(ctx, queues.BackendConfig{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	prod := queues.NewProducer(queues.NewRegistry(), b.Driver)
	counter := &countingJobs{next: prod, adds: map[string]int{}}
	time.Sleep(5 * time.Millisecond) // past the child's grace period
	var wg sync.WaitGroup
	for range 2 {
		relayStore := open() // a second process would have its own connections
		o, err := New(Config{Store: relayStore, Jobs: counter, Routes: pingRoutes(), Registry: prometheus.NewRegistry()})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			for range 20 {
				if _, err := o.PublishPending(ctx, 10); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if n := unpublished(t, st); n != 0 {
		t.Fatalf("%d unpublished after the relays", n)
	}
	counter.mu.Lock()
	adds := counter.adds["evt-"+eventID]
	counter.mu.Unlock()
	if adds != 1 {
		t.Fatalf("event %s added %d times by two relays, want 1", eventID, adds)
	}
	// A republish (a relay whose lease lapsed mid-publish) is a no-op.
	storetest.Exec(t, st, "UPDATE outbox SET published_at = NULL, lease_until = 0")
	o, _ := New(Config{Store: st, Jobs: counter, Routes: pingRoutes()})
	if n, err := o.PublishPending(ctx, 10); n != 1 || err != nil {
		t.Fatalf("republish = %d, %v", n, err)
	}
	all, err := prod.Queue(queues.QueueAnalytics).GetJobs(ctx, []jobq.State{jobq.StateWaiting, jobq.StatePrioritized}, 0, -1, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].ID != "evt-"+eventID {
		ids := []string{}
		for _, j := range all {
			ids = append(ids, j.ID)
		}
		t.Fatalf("jobs %v, want exactly evt-%s", ids, eventID)
	}
}
