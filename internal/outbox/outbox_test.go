package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/store"
	"github.com/sevra/atlas/internal/store/storetest"
	"github.com/sevra/atlas/internal/tracing"
	"github.com/sevra/atlas/jobq"
)

// fakeJobs records adds and fails while err is set.
type fakeJobs struct {
	mu   sync.Mutex
	err  error
	adds map[string]int // job id -> adds
	data map[string]json.RawMessage
}

func newFakeJobs() *fakeJobs {
	return &fakeJobs{adds: map[string]int{}, data: map[string]json.RawMessage{}}
}

func (f *fakeJobs) Add(_ context.Context, queue, name string, data any, opts *jobq.JobOptions) (*jobq.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	id := name
	if opts != nil {
		id = opts.JobID
	}
	f.adds[id]++
	f.data[id], _ = data.(json.RawMessage)
	return &jobq.Job{ID: id, Queue: queue, Name: name}, nil
}

func (f *fakeJobs) setErr(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

func (f *fakeJobs) total() (jobsN, addsN int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range f.adds {
		addsN += n
	}
	return len(f.adds), addsN
}

// pingRoutes is a test table: one event, one job per event, no coalescing.
func pingRoutes() Routes {
	return Routes{"Ping": {Event: "Ping", Module: "reviews", Queue: queues.QueueAnalytics, Job: "ping", JobID: "evt-{eventId}"}}
}

// dialects runs fn against SQLite and, when configured, PostgreSQL.
func dialects(t *testing.T, fn func(t *testing.T, st *store.Store)) {
	t.Helper()
	for _, d := range []struct {
		name string
		open storetest.Opener
	}{{"sqlite", storetest.OpenSQLite}, {"postgres", storetest.OpenPostgres}} {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			fn(t, d.open(t))
		})
	}
}

func newOutbox(t testing.TB, st *store.Store, j JobAdder, mut func(*Config)) *Outbox {
	t.Helper()
	cfg := Config{Store: st, Jobs: j, Routes: pingRoutes(), Registry: prometheus.NewRegistry()}
	if mut != nil {
		mut(&cfg)
	}
	o, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// write inserts events in one transaction and commits.
func write(t testing.TB, o *Outbox, st *store.Store, events ...Event) {
	t.Helper()
	ctx := context.Background()
	tx, err := st.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := o.Add(ctx, tx, events...); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func ping(t testing.TB, ctx context.Context, n int, mode rollout.Mode) Event {
	t.Helper()
	e, err := NewEvent(ctx, "Ping", map[string]int{"n": n}, mode)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func unpublished(t testing.TB, st *store.Store) int {
	t.Helper()
	var n int
	if err := st.DB().QueryRow("SELECT count(*) FROM outbox WHERE published_at IS NULL").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestOutbox(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		fn   func(*testing.T, *store.Store)
	}{
		{"FastPathPublishesAndCarriesTrace", testFastPath},
		{"SyncEventsAreNotStored", testSyncEvents},
		{"RelayPublishesWhatTheFastPathLeft", testRelayAfterOutage},
		{"RollbackLeavesNoEvent", testRollback},
		{"PermanentErrorDoesNotBlock", testPermanentError},
		{"TwoRelaysEachEventOnce", testTwoRelays},
		{"PruneAfterRetention", testPrune},
		{"BacklogAlert", testBacklog},
		{"RelayComponentRecovers", testRelayComponent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dialects(t, tc.fn)
		})
	}
}

func testFastPath(t *testing.T, st *store.Store) {
	fj := newFakeJobs()
	o := newOutbox(t, st, fj, nil)
	tc := tracing.New()
	ctx := tracing.With(context.Background(), tc)
	e := ping(t, ctx, 1, rollout.Shadow)
	write(t, o, st, e)
	if n := unpublished(t, st); n != 1 {
		t.Fatalf("unpublished before publish = %d", n)
	}
	if _, err := o.Publish(ctx, e); err != nil {
		t.Fatal(err)
	}
	if n := unpublished(t, st); n != 0 {
		t.Fatalf("unpublished after publish = %d", n)
	}
	var meta Meta
	if err := json.Unmarshal(fj.data["evt-"+e.ID], &meta); err != nil {
		t.Fatal(err)
	}
	if meta.Trace != tc.String() || meta.Mode != rollout.Shadow || meta.EventID != e.ID {
		t.Fatalf("job meta %+v, trace %s", meta, tc)
	}
	// The relay finds nothing to do.
	if n, err := o.PublishPending(context.Background(), 10); n != 0 || err != nil {
		t.Fatalf("relay after fast path: %d, %v", n, err)
	}
}

func testSyncEvents(t *testing.T, st *store.Store) {
	fj := newFakeJobs()
	o := newOutbox(t, st, fj, nil)
	e := ping(t, context.Background(), 1, rollout.Sync)
	write(t, o, st, e)
	if _, err := o.Publish(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	var n int
	st.DB().QueryRow("SELECT count(*) FROM outbox").Scan(&n)
	if j, _ := fj.total(); n != 0 || j != 0 {
		t.Fatalf("sync event stored (%d rows) or published (%d jobs)", n, j)
	}
}

func testRelayAfterOutage(t *testing.T, st *store.Store) {
	fj := newFakeJobs()
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	o := newOutbox(t, st, fj, func(c *Config) { c.Now = clock })
	fj.setErr(errors.New("dial tcp: connection refused"))
	var evs []Event
	for i := range 5 {
		evs = append(evs, ping(t, context.Background(), i, rollout.Async))
	}
	write(t, o, st, evs...)
	if _, err := o.Publish(context.Background(), evs...); err == nil {
		t.Fatal("publish with the backend down succeeded")
	}
	// The breaker is open: the next fast path does not even try.
	if _, err := o.Publish(context.Background(), evs[0]); !errors.Is(err, ErrBackendDown) {
		t.Fatalf("second publish = %v, want ErrBackendDown", err)
	}
	// Within the grace period the relay leaves the rows to the fast path.
	if n, err := o.PublishPending(context.Background(), 10); n != 0 || err != nil {
		t.Fatalf("relay within grace: %d, %v", n, err)
	}
	mu.Lock()
	now = now.Add(3 * time.Second)
	mu.Unlock()
	if _, err := o.PublishPending(context.Background(), 10); err == nil {
		t.Fatal("relay with the backend down succeeded")
	}
	if n := unpublished(t, st); n != 5 {
		t.Fatalf("unpublished = %d, want 5", n)
	}
	fj.setErr(nil)
	n, err := o.PublishPending(context.Background(), 10)
	if n != 5 || err != nil {
		t.Fatalf("relay after recovery: %d, %v", n, err)
	}
	if jobsN, adds := fj.total(); jobsN != 5 || adds != 5 {
		t.Fatalf("%d jobs from %d adds, want 5/5", jobsN, adds)
	}
	if got := testutil.ToFloat64(o.m.published.WithLabelValues("relay")); got != 5 {
		t.Fatalf("relay published metric %v", got)
	}
}

func testRollback(t *testing.T, st *store.Store) {
	o := newOutbox(t, st, newFakeJobs(), nil)
	ctx := context.Background()
	tx, err := st.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Add(ctx, tx, ping(t, ctx, 1, rollout.Async)); err != nil {
		t.Fatal(err)
	}
	tx.Rollback()
	var n int
	st.DB().QueryRow("SELECT count(*) FROM outbox").Scan(&n)
	if n != 0 {
		t.Fatalf("%d rows after rollback", n)
	}
}

func testPermanentError(t *testing.T, st *store.Store) {
	fj := newFakeJobs()
	routes := pingRoutes()
	routes["Bad"] = Route{Event: "Bad", Module: "reviews", Queue: queues.QueueAnalytics, Job: "bad", JobID: "bad-{missing}"}
	o := newOutbox(t, st, fj, func(c *Config) { c.Routes = routes; c.Grace = time.Millisecond })
	bad, _ := NewEvent(context.Background(), "Bad", map[string]int{}, rollout.Async)
	write(t, o, st, bad, ping(t, context.Background(), 1, rollout.Async))
	time.Sleep(5 * time.Millisecond)
	n, err := o.PublishPending(context.Background(), 10)
	if n != 1 || err != nil {
		t.Fatalf("relay = %d, %v; want the good event published", n, err)
	}
	var lastErr string
	var lease int64
	if err := st.DB().QueryRow(st.Rebind("SELECT last_error, lease_until FROM outbox WHERE event_id = ?"), bad.ID).Scan(&lastErr, &lease); err != nil {
		t.Fatal(err)
	}
	if lastErr == "" || time.UnixMilli(lease).Before(time.Now().Add(30*time.Minute)) {
		t.Fatalf("bad row: error %q, lease %v", lastErr, time.UnixMilli(lease))
	}
	if n, _ := o.PublishPending(context.Background(), 10); n != 0 {
		t.Fatalf("bad row retried at once")
	}
}

// testTwoRelays runs two relays over one backlog against a real queue
// backend and shows every event became exactly one job, added once.
func testTwoRelays(t *testing.T, st *store.Store) {
	ctx := context.Background()
	b, err := queues.OpenBackend(ctx, queues.BackendConfig{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	prod := queues.NewProducer(queues.NewRegistry(), b.Driver)
	counter := &countingJobs{next: prod, adds: map[string]int{}}
	o := newOutbox(t, st, counter, func(c *Config) { c.Grace = time.Millisecond })
	const n = 300
	var evs []Event
	for i := range n {
		evs = append(evs, ping(t, ctx, i, rollout.Async))
	}
	write(t, o, st, evs...)
	time.Sleep(5 * time.Millisecond)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for unpublished(t, st) > 0 {
				if _, err := o.PublishPending(ctx, 7); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	counter.mu.Lock()
	for _, e := range evs {
		if got := counter.adds["evt-"+e.ID]; got != 1 {
			t.Errorf("event %s added %d times", e.ID, got)
		}
	}
	counter.mu.Unlock()
	if got := queued(t, prod); got != n {
		t.Fatalf("%d jobs queued, want %d", got, n)
	}
	// A republish of everything (a relay that lost its lease) adds nothing.
	storetest.Exec(t, st, "UPDATE outbox SET published_at = NULL, lease_until = 0")
	for unpublished(t, st) > 0 {
		if _, err := o.PublishPending(ctx, 100); err != nil {
			t.Fatal(err)
		}
	}
	if got := queued(t, prod); got != n {
		t.Fatalf("after republish: %d jobs, want %d", got, n)
	}
}

// queued counts the analytics jobs waiting to run (analytics jobs carry a
// priority, so they wait in the prioritized set).
func queued(t *testing.T, p *queues.Producer) int64 {
	t.Helper()
	c, err := p.Queue(queues.QueueAnalytics).GetJobCounts(context.Background(), jobq.StateWaiting, jobq.StatePrioritized)
	if err != nil {
		t.Fatal(err)
	}
	return c[jobq.StateWaiting] + c[jobq.StatePrioritized]
}

// countingJobs counts adds per job id and forwards them.
type countingJobs struct {
	next JobAdder
	mu   sync.Mutex
	adds map[string]int
}

func (c *countingJobs) Add(ctx context.Context, queue, name string, data any, opts *jobq.JobOptions) (*jobq.Job, error) {
	c.mu.Lock()
	c.adds[opts.JobID]++
	c.mu.Unlock()
	return c.next.Add(ctx, queue, name, data, opts)
}

func testPrune(t *testing.T, st *store.Store) {
	fj := newFakeJobs()
	now := time.Now()
	o := newOutbox(t, st, fj, func(c *Config) { c.Now = func() time.Time { return now }; c.Retention = time.Hour })
	old := ping(t, context.Background(), 1, rollout.Async)
	write(t, o, st, old)
	if _, err := o.Publish(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	pending := ping(t, context.Background(), 2, rollout.Async)
	write(t, o, st, pending)
	if n, err := o.Prune(context.Background()); n != 0 || err != nil {
		t.Fatalf("prune before retention: %d, %v", n, err)
	}
	now = now.Add(2 * time.Hour)
	if n, err := o.Prune(context.Background()); n != 1 || err != nil {
		t.Fatalf("prune after retention: %d, %v", n, err)
	}
	if n := unpublished(t, st); n != 1 {
		t.Fatalf("unpublished row pruned")
	}
}

func testBacklog(t *testing.T, st *store.Store) {
	now := time.Now()
	o := newOutbox(t, st, newFakeJobs(), func(c *Config) {
		c.Now = func() time.Time { return now }
		c.BacklogAlertRows = 3
		c.BacklogAlertAge = time.Minute
	})
	ctx := context.Background()
	if err := o.Check(ctx); err != nil {
		t.Fatalf("empty outbox: %v", err)
	}
	write(t, o, st, ping(t, ctx, 1, rollout.Async), ping(t, ctx, 2, rollout.Async))
	if err := o.Check(ctx); err != nil {
		t.Fatalf("small backlog: %v", err)
	}
	if v := testutil.ToFloat64(o.m.backlog); v != 2 {
		t.Fatalf("backlog gauge %v", v)
	}
	now = now.Add(2 * time.Minute)
	if err := o.Check(ctx); !errors.Is(err, ErrBacklog) {
		t.Fatalf("old backlog: %v", err)
	}
	now = now.Add(-2 * time.Minute)
	write(t, o, st, ping(t, ctx, 3, rollout.Async), ping(t, ctx, 4, rollout.Async))
	b, err := o.Backlog(ctx)
	if err != nil || !b.Alert || b.Pending != 4 {
		t.Fatalf("backlog %+v, %v", b, err)
	}
	if v := testutil.ToFloat64(o.m.alert); v != 1 {
		t.Fatalf("alert gauge %v", v)
	}
}

func testRelayComponent(t *testing.T, st *store.Store) {
	fj := newFakeJobs()
	o := newOutbox(t, st, fj, func(c *Config) { c.Grace = time.Millisecond })
	fj.setErr(errors.New("connection refused"))
	var evs []Event
	for i := range 20 {
		evs = append(evs, ping(t, context.Background(), i, rollout.Async))
	}
	write(t, o, st, evs...)
	r := o.NewRelay(RelayConfig{Interval: 10 * time.Millisecond, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if n := unpublished(t, st); n != 20 {
		t.Fatalf("published with the backend down: %d left", n)
	}
	fj.setErr(nil)
	deadline := time.Now().Add(10 * time.Second)
	for unpublished(t, st) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("relay did not publish after recovery")
		}
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if j, adds := fj.total(); j != 20 || adds != 20 {
		t.Fatalf("%d jobs, %d adds", j, adds)
	}
}

func TestNewEventRejectsNonObjects(t *testing.T) {
	t.Parallel()
	for _, p := range []any{[]int{1}, "x", 3} {
		if _, err := NewEvent(context.Background(), "Ping", p, rollout.Async); !errors.Is(err, ErrBadPayload) {
			t.Errorf("payload %v: %v", p, err)
		}
	}
	if _, err := NewEvent(context.Background(), "Ping", func() {}, rollout.Async); err == nil {
		t.Error("unencodable payload accepted")
	}
}
