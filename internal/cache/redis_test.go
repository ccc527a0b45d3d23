package cache

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/sevra/atlas/internal/redistest"
)

// testRedis returns a client for ATLAS_TEST_REDIS_URL, closed when the test
// ends, or skips (fails under ATLAS_TEST_REQUIRE_SERVICES=1).
func testRedis(t *testing.T) *redis.Client { return redistest.Client(t) }

func testPrefix(t *testing.T, c *redis.Client) string {
	return redistest.Prefix(t, c, "atlas-cache-test")
}

func newTestRedis(t *testing.T, c redis.UniversalClient, cfg RedisConfig) *Redis {
	t.Helper()
	r, err := NewRedis(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(context.Background()) })
	return r
}

func TestRedisContract(t *testing.T) {
	t.Parallel()
	c := testRedis(t)
	runContract(t, func(t *testing.T) env {
		r := newTestRedis(t, c, RedisConfig{Prefix: testPrefix(t, c)})
		return env{c: r, advance: time.Sleep, waiting: r.flights.waiting}
	})
}

// TestRedisNodes runs two caches on two clients (two nodes) sharing a
// prefix: an entry cached by one is read by the other, and a Delete on one
// makes the other reload.
func TestRedisNodes(t *testing.T) {
	t.Parallel()
	ca, cb := testRedis(t), testRedis(t)
	prefix := testPrefix(t, ca)
	a := newTestRedis(t, ca, RedisConfig{Prefix: prefix})
	b := newTestRedis(t, cb, RedisConfig{Prefix: prefix})
	var calls atomic.Int32
	steps := []struct {
		node       *Redis
		load, want string
		loads      int32
		del        bool // b deletes the key before this step
	}{
		{node: a, load: "v1", want: "v1", loads: 1},
		{node: b, load: "x", want: "v1", loads: 1},
		{node: a, load: "v2", want: "v2", loads: 2, del: true},
		{node: b, load: "x", want: "v2", loads: 2},
	}
	for i, s := range steps {
		if s.del {
			if err := b.Delete(context.Background(), "salon:7"); err != nil {
				t.Fatal(err)
			}
		}
		if got := get(t, s.node, "salon:7", loader(s.load, &calls)); got != s.want || calls.Load() != s.loads {
			t.Fatalf("step %d: got %q after %d loads, want %q after %d", i, got, calls.Load(), s.want, s.loads)
		}
	}
}

// TestRedisStaleSetAcrossNodes: node A loads (the old value) while node B
// deletes; A's result must not be stored, on either node.
func TestRedisStaleSetAcrossNodes(t *testing.T) {
	t.Parallel()
	ca, cb := testRedis(t), testRedis(t)
	prefix := testPrefix(t, ca)
	a := newTestRedis(t, ca, RedisConfig{Prefix: prefix})
	b := newTestRedis(t, cb, RedisConfig{Prefix: prefix})
	ctx := context.Background()
	started, release := make(chan struct{}, 1), make(chan struct{})
	old := make(chan string, 1)
	go func() {
		val, err := a.GetOrLoad(ctx, "k", time.Minute, blockingLoad("old", started, release))
		if err != nil {
			t.Error(err)
		}
		old <- string(val)
	}()
	<-started
	if err := b.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	close(release)
	if got := <-old; got != "old" {
		t.Fatalf("A's load returned %q, want %q", got, "old")
	}
	var calls atomic.Int32
	if got := get(t, b, "k", loader("new", &calls)); got != "new" || calls.Load() != 1 {
		t.Fatalf("B: got %q after %d loads, want %q after 1", got, calls.Load(), "new")
	}
	if got := get(t, a, "k", loader("x", &calls)); got != "new" || calls.Load() != 1 {
		t.Fatalf("A: got %q after %d loads, want %q after 1", got, calls.Load(), "new")
	}
}

// TestRedisTTLs checks that every key the cache writes expires.
func TestRedisTTLs(t *testing.T) {
	t.Parallel()
	c := testRedis(t)
	prefix := testPrefix(t, c)
	r := newTestRedis(t, c, RedisConfig{Prefix: prefix})
	ctx := context.Background()
	get(t, r, "a", loader("v", new(atomic.Int32)))
	get(t, r, "b", loader("v", new(atomic.Int32)))
	if err := r.Delete(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	get(t, r, "b", loader("v", new(atomic.Int32)))
	for _, tc := range []struct {
		name     string
		min, max time.Duration
	}{
		{prefix + ":{a}", time.Minute - 5*time.Second, time.Minute},
		{prefix + ":{b}", time.Minute - 5*time.Second, time.Minute},
		{prefix + ":{b}:v", VersionTTL - 5*time.Second, VersionTTL},
	} {
		ttl, err := c.PTTL(ctx, tc.name).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl < tc.min || ttl > tc.max {
			t.Errorf("PTTL %s = %v, want in [%v, %v]", tc.name, ttl, tc.min, tc.max)
		}
	}
	keys, err := c.Keys(ctx, prefix+":*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 3 {
		t.Errorf("keys %v, want 3", keys)
	}
}

// hungServer returns the address of a TCP server that accepts connections
// and never answers. It stops when the test ends.
func hungServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

// TestRedisFailOpen checks that reads load without the cache, and Deletes
// fail, when Redis refuses connections or does not answer within Timeout.
func TestRedisFailOpen(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		addr   func(t *testing.T) string
		reason string
	}{
		{"refused", func(*testing.T) string { return "127.0.0.1:1" }, "error"},
		{"no answer", hungServer, "timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := redis.NewClient(&redis.Options{
				Addr:                  tc.addr(t),
				ContextTimeoutEnabled: true,
				MaxRetries:            -1,
				DialerRetries:         1, // else refused dials retry past Timeout
				DialTimeout:           10 * time.Second,
				ReadTimeout:           10 * time.Second,
				WriteTimeout:          10 * time.Second,
			})
			t.Cleanup(func() { _ = c.Close() })
			reg := prometheus.NewPedanticRegistry()
			r := newTestRedis(t, c, RedisConfig{Prefix: "unused", Timeout: 50 * time.Millisecond, Registerer: reg})
			var calls atomic.Int32
			start := time.Now()
			for i := range 2 {
				if got := get(t, r, "k", loader("v", &calls)); got != "v" || calls.Load() != int32(i+1) {
					t.Fatalf("read %d: got %q after %d loads, want %q after %d", i, got, calls.Load(), "v", i+1)
				}
			}
			err := r.Delete(context.Background(), "k")
			if err == nil {
				t.Fatal("Delete: nil error")
			}
			// 2 reads and a Delete (with its fallback) of 50ms each, far below
			// the client's own 10s timeouts.
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v, want < 2s", d)
			}
			for _, m := range []struct {
				c    prometheus.Counter
				want float64
			}{
				{r.metrics.bypass.WithLabelValues(tc.reason), 2},
				{r.metrics.errors.WithLabelValues("delete"), 1},
				{r.metrics.requests.WithLabelValues("hit"), 0},
				{r.metrics.requests.WithLabelValues("miss"), 0},
			} {
				if got := testutil.ToFloat64(m.c); got != m.want {
					t.Errorf("%s = %v, want %v", m.c.Desc(), got, m.want)
				}
			}
		})
	}
}

// countHook records each round trip: one per command, one per pipeline.
type countHook struct {
	mu    sync.Mutex
	trips []string // the commands of each round trip
}

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.record(cmd.Name())
		return next(ctx, cmd)
	}
}

func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		names := make([]string, len(cmds))
		for i, c := range cmds {
			names[i] = c.Name()
		}
		h.record(strings.Join(names, " "))
		return next(ctx, cmds)
	}
}

func (h *countHook) record(trip string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.trips = append(h.trips, trip)
}

// take returns the round trips recorded since the last take.
func (h *countHook) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.trips
	h.trips = nil
	return t
}

func TestRedisRoundTrips(t *testing.T) {
	t.Parallel()
	c := testRedis(t)
	prefix := testPrefix(t, c)
	hook := &countHook{}
	c.AddHook(hook)
	r := newTestRedis(t, c, RedisConfig{Prefix: prefix})
	// Connect and load the script first.
	get(t, r, "warm-up", loader("v", new(atomic.Int32)))
	if err := r.Delete(context.Background(), "warm-up"); err != nil {
		t.Fatal(err)
	}
	hook.take()
	for _, tc := range []struct {
		name string
		do   func()
		want []string
	}{
		{"miss", func() { get(t, r, "k", loader("v", new(atomic.Int32))) }, []string{"mget", "evalsha"}},
		{"hit", func() { get(t, r, "k", loader("v", new(atomic.Int32))) }, []string{"mget"}},
		{"delete", func() {
			if err := r.Delete(context.Background(), "k", "other"); err != nil {
				t.Fatal(err)
			}
		}, []string{"multi set del set del exec"}},
	} {
		tc.do()
		if got := hook.take(); strings.Join(got, ", ") != strings.Join(tc.want, ", ") {
			t.Errorf("%s: round trips %q, want %q", tc.name, got, tc.want)
		}
	}
}

// failMulti fails every MULTI/EXEC pipeline, as Redis does under
// noeviction when it is full, and lets everything else through.
type failMulti struct{ countHook }

func (h *failMulti) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && cmds[0].Name() == "multi" {
			return errors.New("OOM command not allowed when used memory > 'maxmemory'")
		}
		return next(ctx, cmds)
	}
}

// TestRedisDeleteFallback checks that a Delete whose transaction fails
// still deletes the values, and reports the error.
func TestRedisDeleteFallback(t *testing.T) {
	t.Parallel()
	c := testRedis(t)
	prefix := testPrefix(t, c)
	c.AddHook(&failMulti{})
	reg := prometheus.NewPedanticRegistry()
	r := newTestRedis(t, c, RedisConfig{Prefix: prefix, Registerer: reg})
	get(t, r, "k", loader("v1", new(atomic.Int32)))
	if err := r.Delete(context.Background(), "k"); err == nil || !strings.Contains(err.Error(), "OOM") {
		t.Fatalf("Delete err = %v, want the OOM error", err)
	}
	if got := testutil.ToFloat64(r.metrics.errors.WithLabelValues("delete")); got != 1 {
		t.Errorf("delete errors = %v, want 1", got)
	}
	if got := get(t, r, "k", loader("v2", new(atomic.Int32))); got != "v2" {
		t.Fatalf("after the failed Delete: %q, want %q", got, "v2")
	}
}

func TestNewRedisNeedsContextTimeout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		client redis.UniversalClient
		want   error
	}{
		{"client", redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), ErrContextTimeoutDisabled},
		{"cluster", redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}}), ErrContextTimeoutDisabled},
		{"client with it", redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true}), nil},
	} {
		t.Cleanup(func() { _ = tc.client.Close() })
		if _, err := NewRedis(tc.client, RedisConfig{}); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
}
