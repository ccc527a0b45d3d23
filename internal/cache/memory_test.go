package cache

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newTestMemory(t *testing.T, cfg MemoryConfig) *Memory {
	t.Helper()
	m, err := NewMemory(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMemoryContract(t *testing.T) {
	t.Parallel()
	runContract(t, func(t *testing.T) env {
		clock := newFakeClock()
		m := newTestMemory(t, MemoryConfig{Now: clock.Now})
		return env{c: m, advance: clock.Advance, waiting: m.flights.waiting}
	})
}

func TestMemoryTTLBoundary(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	m := newTestMemory(t, MemoryConfig{Now: clock.Now})
	var calls atomic.Int32
	ctx := context.Background()
	for i, step := range []struct {
		advance time.Duration
		want    int32
	}{{0, 1}, {time.Minute - time.Nanosecond, 1}, {time.Nanosecond, 2}, {time.Nanosecond, 2}} {
		clock.Advance(step.advance)
		if _, err := m.GetOrLoad(ctx, "k", time.Minute, loader("v", &calls)); err != nil {
			t.Fatal(err)
		}
		if n := calls.Load(); n != step.want {
			t.Fatalf("step %d: load called %d times, want %d", i, n, step.want)
		}
	}
}

// TestMemoryLRU stores keys a, b, c in turn, reading a after storing b, and
// checks which keys remain.
func TestMemoryLRU(t *testing.T) {
	t.Parallel()
	value := strings.Repeat("x", 100)
	entry := 1 + len(value) + memEntryOverhead // one-byte keys
	for _, tc := range []struct {
		name    string
		cfg     MemoryConfig
		want    map[string]bool // key: still cached
		entries int
		bytes   int
	}{
		{"unbounded", MemoryConfig{}, map[string]bool{"a": true, "b": true, "c": true}, 3, 3 * entry},
		{"two entries", MemoryConfig{MaxEntries: 2}, map[string]bool{"a": true, "b": false, "c": true}, 2, 2 * entry},
		{"two entries' bytes", MemoryConfig{MaxBytes: 3*entry - 1}, map[string]bool{"a": true, "b": false, "c": true}, 2, 2 * entry},
		{"one entry's bytes", MemoryConfig{MaxBytes: 2*entry - 1}, map[string]bool{"a": false, "b": false, "c": true}, 1, entry},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := newTestMemory(t, tc.cfg)
			var calls atomic.Int32
			get(t, m, "a", loader(value, &calls))
			get(t, m, "b", loader(value, &calls))
			get(t, m, "a", loader(value, &calls))
			get(t, m, "c", loader(value, &calls))
			if len(m.entries) != tc.entries || m.bytes != tc.bytes {
				t.Errorf("holds %d entries of %d bytes, want %d of %d", len(m.entries), m.bytes, tc.entries, tc.bytes)
			}
			for key, cached := range tc.want {
				if _, got := m.entries[key]; got != cached {
					t.Errorf("%s cached = %v, want %v", key, got, cached)
				}
			}
		})
	}
}

func TestMemoryTooLarge(t *testing.T) {
	t.Parallel()
	m := newTestMemory(t, MemoryConfig{MaxBytes: 1000})
	var calls atomic.Int32
	big := strings.Repeat("x", 1000)
	get(t, m, "small", loader("s", &calls))
	for range 2 {
		if got := get(t, m, "big", loader(big, &calls)); got != big {
			t.Fatalf("got %d bytes, want %d", len(got), len(big))
		}
	}
	if n := calls.Load(); n != 3 {
		t.Fatalf("load called %d times, want 3 (the large value is not stored)", n)
	}
	if got := get(t, m, "small", loader("other", &calls)); got != "s" {
		t.Fatalf("small = %q, want %q (not evicted for a value that does not fit)", got, "s")
	}
}

// TestMemoryLoadPanics checks that a panicking load reaches its caller,
// releases the waiters with an error and leaves the key loadable.
func TestMemoryLoadPanics(t *testing.T) {
	t.Parallel()
	m := newTestMemory(t, MemoryConfig{})
	started, release := make(chan struct{}, 1), make(chan struct{})
	panicked := make(chan any, 1)
	go func() {
		defer func() { panicked <- recover() }()
		_, _ = m.GetOrLoad(context.Background(), "k", time.Minute, func(context.Context) ([]byte, error) {
			started <- struct{}{}
			<-release
			panic("load broke")
		})
	}()
	<-started
	waiterErr := make(chan error, 1)
	go func() {
		_, err := m.GetOrLoad(context.Background(), "k", time.Minute, loader("w", new(atomic.Int32)))
		waiterErr <- err
	}()
	waitFor(t, "a waiter", func() bool { return m.flights.waiting() == 1 })
	close(release)
	if p := <-panicked; p != "load broke" {
		t.Fatalf("recovered %v, want %q", p, "load broke")
	}
	if err := <-waiterErr; !errors.Is(err, errLoadPanicked) {
		t.Fatalf("waiter err = %v, want %v", err, errLoadPanicked)
	}
	if got := get(t, m, "k", loader("v", new(atomic.Int32))); got != "v" {
		t.Fatalf("after the panic: %q, want %q", got, "v")
	}
}

// TestMemoryMetrics checks the counts and that two caches on one registry
// share the series.
func TestMemoryMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewPedanticRegistry()
	m1 := newTestMemory(t, MemoryConfig{Registerer: reg})
	m2 := newTestMemory(t, MemoryConfig{Registerer: reg})
	var calls atomic.Int32
	get(t, m1, "k", loader("v", &calls))
	get(t, m1, "k", loader("v", &calls))
	get(t, m2, "k", loader("v", &calls))
	get(t, m2, "k", loader("v", &calls))
	get(t, m2, "k", loader("v", &calls))
	if hits, misses := testutil.ToFloat64(m1.metrics.requests.WithLabelValues("hit")),
		testutil.ToFloat64(m1.metrics.requests.WithLabelValues("miss")); hits != 3 || misses != 2 {
		t.Fatalf("hits %v, misses %v; want 3, 2", hits, misses)
	}
	if n, err := testutil.GatherAndCount(reg, "atlas_cache_requests_total"); err != nil || n != 2 {
		t.Fatalf("registry holds %d requests series (err %v), want 2", n, err)
	}
}

func TestNewMemoryRegisterConflict(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "atlas_cache_bypass_total", Help: "x"}))
	if _, err := NewMemory(MemoryConfig{Registerer: reg}); err == nil {
		t.Fatal("NewMemory with a conflicting collector: nil error")
	}
}
