package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock that only moves when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
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

func TestMemoryContract(t *testing.T) {
	t.Parallel()
	runContract(t, backend{
		newEnv: func(t *testing.T) (Limiter, func(time.Duration)) {
			c := newFakeClock()
			return NewMemory(MemoryConfig{Now: c.Now}), c.Advance
		},
		W: time.Minute,
	})
}

// TestMemoryOTP plays the OTP rules of the package doc for one phone.
func TestMemoryOTP(t *testing.T) {
	t.Parallel()
	c := newFakeClock()
	m := NewMemory(MemoryConfig{Now: c.Now})
	rules := []Rule{{"minute", 1, time.Minute}, {"hour", 3, time.Hour}}
	steps := []struct {
		after   time.Duration
		allowed bool
		rule    string
		retry   time.Duration
	}{
		{0, true, "", 0},
		{30 * time.Second, false, "minute", 30 * time.Second},
		{30 * time.Second, true, "", 0},
		{2 * time.Minute, true, "", 0},
		{5 * time.Minute, false, "hour", 52 * time.Minute},
		{50 * time.Minute, false, "hour", 2 * time.Minute},
		{2 * time.Minute, true, "", 0},
	}
	for i, st := range steps {
		c.Advance(st.after)
		d, err := m.Allow(context.Background(), "+4915112345678", rules...)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		want := Decision{Allowed: st.allowed, Rule: st.rule, RetryAfter: st.retry}
		if d != want {
			t.Fatalf("step %d: got %+v, want %+v", i, d, want)
		}
	}
}

func TestMemoryConcurrent(t *testing.T) {
	t.Parallel()
	m := NewMemory(MemoryConfig{})
	got := allowConcurrently(t, []Limiter{m}, 100, "k", Rule{"r", 10, time.Hour})
	if got != 10 {
		t.Fatalf("allowed %d of 100, want 10", got)
	}
}

func TestMemoryMaxKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	minute := Rule{"m", 1, time.Minute}
	day := Rule{"d", 1, 24 * time.Hour}

	t.Run("default", func(t *testing.T) {
		if got := NewMemory(MemoryConfig{}).maxKeys; got != DefaultMaxKeys {
			t.Fatalf("maxKeys = %d, want %d", got, DefaultMaxKeys)
		}
	})

	t.Run("bound holds", func(t *testing.T) {
		const bound = 1000
		c := newFakeClock()
		m := NewMemory(MemoryConfig{MaxKeys: bound, Now: c.Now})
		for i := range 2 * bound {
			c.Advance(time.Millisecond)
			if d, err := m.Allow(ctx, fmt.Sprint("key", i), day); err != nil || !d.Allowed {
				t.Fatalf("key %d: %+v, %v", i, d, err)
			}
			if n := m.len(); n > bound {
				t.Fatalf("after key %d: %d keys held, want <= %d", i, n, bound)
			}
		}
		if n, h, l := m.len(), m.exp.Len(), m.lru.Len(); n != bound || h != bound || l != bound {
			t.Fatalf("map/heap/list sizes %d/%d/%d, want %d", n, h, l, bound)
		}
	})

	// Each case fills a limiter of 3 keys a, b, c (in that order, one
	// minute apart, with the given rule), touches some, lets time pass,
	// adds key d and checks which key was dropped.
	cases := []struct {
		name    string
		rules   map[string]Rule
		touch   []string
		after   time.Duration
		dropped string
	}{
		{"least recently used", map[string]Rule{"a": day, "b": day, "c": day}, nil, 0, "a"},
		{"touched is kept", map[string]Rule{"a": day, "b": day, "c": day}, []string{"a"}, 0, "b"},
		{"expired first", map[string]Rule{"a": day, "b": day, "c": minute}, nil, time.Minute, "c"},
		{"nothing expired yet", map[string]Rule{"a": day, "b": day, "c": minute}, nil, time.Second, "a"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newFakeClock()
			m := NewMemory(MemoryConfig{MaxKeys: 3, Now: c.Now})
			for _, k := range []string{"a", "b", "c"} {
				if _, err := m.Allow(ctx, k, tc.rules[k]); err != nil {
					t.Fatal(err)
				}
				c.Advance(time.Minute)
			}
			c.Advance(-time.Minute) // the last key was recorded "now"
			for _, k := range tc.touch {
				if d, _ := m.Allow(ctx, k, tc.rules[k]); d.Allowed {
					t.Fatalf("touch %s: allowed, want refused", k)
				}
			}
			c.Advance(tc.after)
			if _, err := m.Allow(ctx, "d", day); err != nil {
				t.Fatal(err)
			}
			if n := m.len(); n != 3 {
				t.Fatalf("%d keys held, want 3", n)
			}
			for _, k := range []string{"a", "b", "c", "d"} {
				m.mu.Lock()
				_, held := m.keys[k]
				m.mu.Unlock()
				if held == (k == tc.dropped) {
					t.Errorf("key %s held = %v, dropped = %q", k, held, tc.dropped)
				}
			}
		})
	}
}

// TestMemoryDropsExpired checks that idle keys go away without filling the
// map.
func TestMemoryDropsExpired(t *testing.T) {
	t.Parallel()
	c := newFakeClock()
	m := NewMemory(MemoryConfig{Now: c.Now})
	for i := range 10 {
		_, _ = m.Allow(context.Background(), fmt.Sprint(i), Rule{"r", 1, time.Minute})
	}
	c.Advance(time.Minute)
	for range 10 {
		_, _ = m.Allow(context.Background(), "other", Rule{"r", 5, time.Hour})
	}
	if n := m.len(); n != 1 {
		t.Fatalf("%d keys held, want 1", n)
	}
}

func TestMemoryContextDone(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := NewMemory(MemoryConfig{}).Allow(ctx, "k", Rule{"r", 1, time.Second}); err != context.Canceled {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
