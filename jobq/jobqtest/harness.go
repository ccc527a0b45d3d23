package jobqtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq"
	"github.com/sevra/atlas/jobq/jobqdriver"
)

// newBackendFunc returns a fresh backend for one sub-test.
type newBackendFunc = func(t *testing.T) jobqdriver.Driver

// waitTimeout bounds every eventually-style wait; it only costs time when a
// test fails.
const waitTimeout = 15 * time.Second

// testCase is one sub-test of a group.
type testCase struct {
	name string
	fn   func(h *harness)
}

// runGroup runs each case as a parallel sub-test with its own backend.
func runGroup(t *testing.T, nb newBackendFunc, cases []testCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(newHarness(t, nb))
		})
	}
}

// harness bundles a sub-test's backend and helpers.
type harness struct {
	t   *testing.T
	drv jobqdriver.Driver
	ctx context.Context
}

func newHarness(t *testing.T, nb newBackendFunc) *harness {
	t.Helper()
	// newBackend registers the backend's own cleanup; registered first, it
	// runs after the cleanups of the workers and subscribers below.
	drv := nb(t)
	if drv == nil {
		t.Fatal("jobqtest: newBackend returned nil")
	}
	return &harness{t: t, drv: drv, ctx: t.Context()}
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// queueName returns a queue name unique to this sub-test.
func (h *harness) queueName(suffix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	base := h.t.Name()
	if i := strings.LastIndexByte(base, '/'); i >= 0 {
		base = base[i+1:]
	}
	base = unsafeName.ReplaceAllString(base, "_")
	if len(base) > 40 {
		base = base[:40]
	}
	if suffix != "" {
		base += "-" + suffix
	}
	return "jqt-" + base + "-" + hex.EncodeToString(b[:])
}

// queue returns a queue with a unique name.
func (h *harness) queue(suffix string, cfg *jobq.QueueConfig) *jobq.Queue {
	return jobq.NewQueue(h.queueName(suffix), h.drv, cfg)
}

// fastConfig fills the timing fields tests rely on: short enough to keep
// the suite fast, long enough not to stall jobs on a loaded machine.
func fastConfig(cfg *jobq.WorkerConfig) jobq.WorkerConfig {
	var c jobq.WorkerConfig
	if cfg != nil {
		c = *cfg
	}
	if c.LockDuration == 0 {
		c.LockDuration = 3 * time.Second
	}
	if c.StalledInterval == 0 {
		c.StalledInterval = time.Second
	}
	if c.DrainDelay == 0 {
		c.DrainDelay = 100 * time.Millisecond
	}
	return c
}

// worker starts a worker on queue and closes it when the test ends.
func (h *harness) worker(queue string, proc jobq.Processor, cfg *jobq.WorkerConfig) *jobq.Worker {
	h.t.Helper()
	c := fastConfig(cfg)
	if c.OnError == nil {
		t := h.t
		c.OnError = func(err error) { t.Logf("worker error: %v", err) }
	}
	w, err := jobq.NewWorker(queue, h.drv, proc, &c)
	if err != nil {
		h.t.Fatalf("new worker: %v", err)
	}
	if err := w.Start(h.ctx); err != nil {
		h.t.Fatalf("start worker: %v", err)
	}
	h.t.Cleanup(func() { closeWorker(h.t, w) })
	return w
}

func closeWorker(t testing.TB, w *jobq.Worker) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Logf("close worker %s: %v", w.Name(), err)
	}
}

// add adds one job and fails the test on error.
func (h *harness) add(q *jobq.Queue, name string, data any, opts *jobq.JobOptions) *jobq.Job {
	h.t.Helper()
	j, err := q.Add(h.ctx, name, data, opts)
	if err != nil {
		h.t.Fatalf("add %s to %s: %v", name, q.Name(), err)
	}
	return j
}

// job reads a job and fails the test on error.
func (h *harness) job(q *jobq.Queue, id string) *jobq.Job {
	h.t.Helper()
	j, err := q.GetJob(h.ctx, id)
	if err != nil {
		h.t.Fatalf("get job %s: %v", id, err)
	}
	return j
}

// state returns a job's state; a missing job is StateUnknown.
func (h *harness) state(q *jobq.Queue, id string) jobq.State {
	h.t.Helper()
	j, err := q.GetJob(h.ctx, id)
	if errors.Is(err, jobq.ErrJobNotFound) {
		return jobq.StateUnknown
	}
	if err != nil {
		h.t.Fatalf("get job %s: %v", id, err)
	}
	s, err := j.State(h.ctx)
	if err != nil {
		h.t.Fatalf("state of job %s: %v", id, err)
	}
	return s
}

// waitState waits until the job is in state and returns it.
func (h *harness) waitState(q *jobq.Queue, id string, want jobq.State) *jobq.Job {
	h.t.Helper()
	var last jobq.State
	eventually(h.t, waitTimeout, func() string {
		last = h.state(q, id)
		if last == want {
			return ""
		}
		return fmt.Sprintf("job %s in state %s, want %s", id, last, want)
	})
	return h.job(q, id)
}

// counts returns job counts for the given states.
func (h *harness) counts(q *jobq.Queue, states ...jobq.State) map[jobq.State]int64 {
	h.t.Helper()
	m, err := q.GetJobCounts(h.ctx, states...)
	if err != nil {
		h.t.Fatalf("counts: %v", err)
	}
	return m
}

// waitCount waits until state holds n jobs.
func (h *harness) waitCount(q *jobq.Queue, s jobq.State, n int64) {
	h.t.Helper()
	eventually(h.t, waitTimeout, func() string {
		if got := h.counts(q, s)[s]; got != n {
			return fmt.Sprintf("%d jobs %s, want %d", got, s, n)
		}
		return ""
	})
}

// nextDelayed asks the backend for the due time of the earliest delayed
// job, as a worker's fetch would see it at now. Nothing may be ready at
// now, or the probe would take it.
func (h *harness) nextDelayed(queue string, now time.Time) int64 {
	h.t.Helper()
	res, err := h.drv.Fetch(h.ctx, jobqdriver.FetchParams{
		Queue: queue, WorkerName: "jobqtest-probe", Tokens: []string{"jobqtest-probe"},
		LockDuration: 60_000, Now: now.UnixMilli(),
	})
	if err != nil {
		h.t.Fatalf("probe fetch: %v", err)
	}
	if len(res.Jobs) > 0 {
		h.t.Fatalf("probe fetch took job %s that should not be ready at %d", res.Jobs[0].ID, now.UnixMilli())
	}
	return res.NextDelayed
}

// eventually polls cond until it returns "" or timeout passes; cond returns
// a description of what is still missing.
func eventually(t testing.TB, timeout time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s: %s", timeout, msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// never checks that cond stays false for d (a negative assertion needs a
// window of time; it is not a speed assertion).
func never(t testing.TB, d time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if msg := cond(); msg != "" {
			t.Fatal(msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// jsonEqual reports whether two JSON texts hold the same value.
func jsonEqual(a, b []byte) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

// wantJSON fails the test unless got holds the same JSON value as want.
func wantJSON(t testing.TB, what string, got []byte, want string) {
	t.Helper()
	if !jsonEqual(got, []byte(want)) {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
}

// wantErr fails the test unless errors.Is(err, target).
func wantErr(t testing.TB, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: err = %v, want %v", what, err, target)
	}
}

// fakeClock is a settable clock for QueueConfig.Clock and
// WorkerConfig.Clock. It stands still until advanced.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Now().Truncate(time.Second)}
}

// Now returns the clock's time.
func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// recorder collects values from processors, safe for concurrent use.
type recorder[T any] struct {
	mu   sync.Mutex
	vals []T
}

func (r *recorder[T]) add(v T) {
	r.mu.Lock()
	r.vals = append(r.vals, v)
	r.mu.Unlock()
}

func (r *recorder[T]) all() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]T(nil), r.vals...)
}

func (r *recorder[T]) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.vals)
}

// gate is a processor barrier: jobs block in wait until open is called or
// their context ends.
type gate struct {
	once sync.Once
	ch   chan struct{}
}

func newGate() *gate { return &gate{ch: make(chan struct{})} }

func (g *gate) open() { g.once.Do(func() { close(g.ch) }) }

func (g *gate) wait(ctx context.Context) error {
	select {
	case <-g.ch:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
