package cache

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// env is one cache under test and the means to drive it.
type env struct {
	c       Cache
	advance func(time.Duration) // lets time pass, for TTLs
	waiting func() int          // callers waiting for a shared load
}

// loader returns a load function returning val and counting its calls.
func loader(val string, calls *atomic.Int32) func(context.Context) ([]byte, error) {
	return func(context.Context) ([]byte, error) {
		calls.Add(1)
		return []byte(val), nil
	}
}

// get calls GetOrLoad with a TTL of a minute and fails the test on error.
func get(t *testing.T, c Cache, key string, load func(context.Context) ([]byte, error)) string {
	t.Helper()
	val, err := c.GetOrLoad(context.Background(), key, time.Minute, load)
	if err != nil {
		t.Fatalf("GetOrLoad(%q): %v", key, err)
	}
	return string(val)
}

// waitFor fails the test unless cond becomes true within 5 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// blockingLoad returns a load function that reports its start on started,
// then returns val once release is closed.
func blockingLoad(val string, started chan<- struct{}, release <-chan struct{}) func(context.Context) ([]byte, error) {
	return func(context.Context) ([]byte, error) {
		started <- struct{}{}
		<-release
		return []byte(val), nil
	}
}

// runContract checks the behaviour every Cache shares.
func runContract(t *testing.T, newEnv func(t *testing.T) env) {
	t.Run("HitAndMiss", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		var calls atomic.Int32
		if got := get(t, e.c, "salon:1", loader("one", &calls)); got != "one" {
			t.Fatalf("miss = %q, want %q", got, "one")
		}
		if got := get(t, e.c, "salon:1", loader("other", &calls)); got != "one" {
			t.Fatalf("hit = %q, want %q", got, "one")
		}
		if got := get(t, e.c, "salon:2", loader("two", &calls)); got != "two" {
			t.Fatalf("other key = %q, want %q", got, "two")
		}
		if n := calls.Load(); n != 2 {
			t.Fatalf("load called %d times, want 2", n)
		}
	})

	t.Run("EmptyValue", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		var calls atomic.Int32
		for range 2 {
			if got := get(t, e.c, "k", loader("", &calls)); got != "" {
				t.Fatalf("got %q, want empty", got)
			}
		}
		if n := calls.Load(); n != 1 {
			t.Fatalf("load called %d times, want 1 (empty values are cached)", n)
		}
	})

	t.Run("TTL", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		var calls atomic.Int32
		ctx := context.Background()
		for i, step := range []struct {
			advance time.Duration
			want    int32
		}{{0, 1}, {50 * time.Millisecond, 1}, {450 * time.Millisecond, 2}} {
			e.advance(step.advance)
			if _, err := e.c.GetOrLoad(ctx, "k", 300*time.Millisecond, loader("v", &calls)); err != nil {
				t.Fatal(err)
			}
			if n := calls.Load(); n != step.want {
				t.Fatalf("step %d: load called %d times, want %d", i, n, step.want)
			}
		}
	})

	t.Run("LoadErrorNotCached", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		errBoom := errors.New("boom")
		_, err := e.c.GetOrLoad(context.Background(), "k", time.Minute, func(context.Context) ([]byte, error) {
			return nil, errBoom
		})
		if !errors.Is(err, errBoom) {
			t.Fatalf("err = %v, want %v", err, errBoom)
		}
		var calls atomic.Int32
		if got := get(t, e.c, "k", loader("v", &calls)); got != "v" || calls.Load() != 1 {
			t.Fatalf("after an error: got %q with %d loads, want %q with 1", got, calls.Load(), "v")
		}
	})

	t.Run("Singleflight", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		var calls atomic.Int32
		release := make(chan struct{})
		load := func(context.Context) ([]byte, error) {
			calls.Add(1)
			<-release
			return []byte("v"), nil
		}
		const n = 100
		results := make(chan string, n)
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				val, err := e.c.GetOrLoad(context.Background(), "k", time.Minute, load)
				if err != nil {
					t.Error(err)
				}
				results <- string(val)
			})
		}
		waitFor(t, "99 waiters", func() bool { return e.waiting() == n-1 })
		close(release)
		wg.Wait()
		close(results)
		for got := range results {
			if got != "v" {
				t.Fatalf("got %q, want %q", got, "v")
			}
		}
		if c := calls.Load(); c != 1 {
			t.Fatalf("load called %d times, want 1", c)
		}
	})

	t.Run("DeleteReloads", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		ctx := context.Background()
		var calls atomic.Int32
		get(t, e.c, "a", loader("a1", &calls))
		get(t, e.c, "b", loader("b1", &calls))
		get(t, e.c, "c", loader("c1", &calls))
		if err := e.c.Delete(ctx, "a", "b"); err != nil {
			t.Fatal(err)
		}
		if err := e.c.Delete(ctx); err != nil {
			t.Fatalf("Delete of no key: %v", err)
		}
		for _, tc := range []struct{ key, load, want string }{
			{"a", "a2", "a2"}, {"b", "b2", "b2"}, {"c", "c2", "c1"},
		} {
			if got := get(t, e.c, tc.key, loader(tc.load, &calls)); got != tc.want {
				t.Errorf("%s after Delete(a, b) = %q, want %q", tc.key, got, tc.want)
			}
		}
		if n := calls.Load(); n != 5 {
			t.Fatalf("load called %d times, want 5", n)
		}
	})

	// A load that began before a Delete must not store its result, and a
	// GetOrLoad that begins after the Delete must not share it.
	t.Run("StaleSetRace", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		ctx := context.Background()
		started, release := make(chan struct{}, 1), make(chan struct{})
		old := make(chan string, 1)
		go func() {
			val, err := e.c.GetOrLoad(ctx, "k", time.Minute, blockingLoad("old", started, release))
			if err != nil {
				t.Error(err)
			}
			old <- string(val)
		}()
		<-started
		if err := e.c.Delete(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		// The old load is still running: this call must not wait for it.
		var calls atomic.Int32
		during, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		got, err := e.c.GetOrLoad(during, "k", time.Minute, loader("new", &calls))
		if err != nil || string(got) != "new" || calls.Load() != 1 {
			t.Fatalf("during the old load: got %q, %v with %d loads, want %q with 1", got, err, calls.Load(), "new")
		}
		if err := e.c.Delete(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		close(release)
		if got := <-old; got != "old" {
			t.Fatalf("old load returned %q to its caller, want %q", got, "old")
		}
		if got := get(t, e.c, "k", loader("newer", &calls)); got != "newer" || calls.Load() != 2 {
			t.Fatalf("after the old load: got %q with %d loads, want %q with 2", got, calls.Load(), "newer")
		}
		if got := get(t, e.c, "k", loader("newest", &calls)); got != "newer" || calls.Load() != 2 {
			t.Fatalf("then: got %q with %d loads, want %q with 2 (cached)", got, calls.Load(), "newer")
		}
	})

	t.Run("WaiterContextEnds", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		started, release := make(chan struct{}, 1), make(chan struct{})
		loaded := make(chan struct{})
		defer func() { close(release); <-loaded }() // before the cleanup
		go func() {
			defer close(loaded)
			_, _ = e.c.GetOrLoad(context.Background(), "k", time.Minute, blockingLoad("v", started, release))
		}()
		<-started
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		var calls atomic.Int32
		_, err := e.c.GetOrLoad(ctx, "k", time.Minute, loader("w", &calls))
		if !errors.Is(err, context.DeadlineExceeded) || calls.Load() != 0 {
			t.Fatalf("err = %v with %d loads, want %v with 0", err, calls.Load(), context.DeadlineExceeded)
		}
	})

	// When the caller running a shared load gives up, a waiter whose context
	// is alive loads for itself instead of returning the cancellation.
	t.Run("LoaderContextEnds", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		ctx, cancel := context.WithCancel(context.Background())
		started := make(chan struct{}, 1)
		go func() {
			_, _ = e.c.GetOrLoad(ctx, "k", time.Minute, func(ctx context.Context) ([]byte, error) {
				started <- struct{}{}
				<-ctx.Done()
				return nil, ctx.Err()
			})
		}()
		<-started
		type result struct {
			val []byte
			err error
		}
		results := make(chan result, 1)
		var calls atomic.Int32
		go func() {
			val, err := e.c.GetOrLoad(context.Background(), "k", time.Minute, loader("w", &calls))
			results <- result{val, err}
		}()
		waitFor(t, "a waiter", func() bool { return e.waiting() == 1 })
		cancel()
		if r := <-results; r.err != nil || string(r.val) != "w" || calls.Load() != 1 {
			t.Fatalf("waiter got %q, %v with %d loads, want %q with 1", r.val, r.err, calls.Load(), "w")
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		ctx := context.Background()
		var calls atomic.Int32
		for _, tc := range []struct {
			name string
			key  string
			ttl  time.Duration
			want error
		}{
			{"empty key", "", time.Minute, ErrInvalidKey},
			{"513-byte key", strings.Repeat("k", 513), time.Minute, ErrInvalidKey},
			{"512-byte key", strings.Repeat("k", 512), time.Minute, nil},
			{"zero ttl", "k", 0, ErrInvalidTTL},
			{"negative ttl", "k", -time.Second, ErrInvalidTTL},
		} {
			if _, err := e.c.GetOrLoad(ctx, tc.key, tc.ttl, loader("v", &calls)); !errors.Is(err, tc.want) {
				t.Errorf("%s: GetOrLoad err = %v, want %v", tc.name, err, tc.want)
			}
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("load called %d times, want 1 (for the 512-byte key only)", n)
		}
		if err := e.c.Delete(ctx, "k", ""); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Delete with an empty key: err = %v, want %v", err, ErrInvalidKey)
		}
		if err := e.c.Delete(ctx, strings.Repeat("k", 512)); err != nil {
			t.Errorf("Delete of a 512-byte key: %v", err)
		}
	})
}
