package ratelimit

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sevra/atlas/internal/redistest"
)

// testRedis returns a client for ATLAS_TEST_REDIS_URL, closed when the test
// ends, or skips (fails under ATLAS_TEST_REQUIRE_SERVICES=1).
func testRedis(t *testing.T) *redis.Client { return redistest.Client(t) }

func testPrefix(t *testing.T, c *redis.Client) string {
	return redistest.Prefix(t, c, "ratelimit-test")
}

func TestRedisContract(t *testing.T) {
	t.Parallel()
	c := testRedis(t)
	runContract(t, backend{
		newEnv: func(t *testing.T) (Limiter, func(time.Duration)) {
			return NewRedis(c, testPrefix(t, c)), time.Sleep
		},
		W:     time.Second,
		slack: 100 * time.Millisecond,
		res:   time.Millisecond,
	})
}

// TestRedisShared checks that limiters on different clients share one
// budget per key.
func TestRedisShared(t *testing.T) {
	t.Parallel()
	c1, c2 := testRedis(t), testRedis(t)
	prefix := testPrefix(t, c1)
	ls := []Limiter{NewRedis(c1, prefix), NewRedis(c2, prefix)}
	rules := []Rule{{"burst", 7, time.Minute}, {"hour", 20, time.Hour}}
	if got := allowConcurrently(t, ls, 50, "+4915112345678", rules...); got != 7 {
		t.Fatalf("allowed %d of 50, want 7", got)
	}
}

// TestRedisExpiry checks that every log has a TTL of its window and vanishes
// once idle for it.
func TestRedisExpiry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := testRedis(t)
	l := NewRedis(c, testPrefix(t, c))
	rules := []Rule{{"short", 2, 300 * time.Millisecond}, {"long", 5, time.Hour}}
	if _, err := l.Allow(ctx, "k", rules...); err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		ttl, err := c.PTTL(ctx, l.Key("k", r.Name)).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl <= 0 || ttl > r.Window {
			t.Errorf("rule %s: TTL %v, want in (0, %v]", r.Name, ttl, r.Window)
		}
	}
	time.Sleep(400 * time.Millisecond)
	if n, err := c.Exists(ctx, l.Key("k", "short")).Result(); err != nil || n != 0 {
		t.Errorf("short log after its window: exists = %d, %v; want 0", n, err)
	}
}

// TestRedisKeys checks key construction: any bytes are safe, distinct keys
// get distinct logs, and all rules of one key share one hash tag.
func TestRedisKeys(t *testing.T) {
	t.Parallel()
	l := NewRedis(nil, "atlas:otp")
	keys := []string{
		"+4915112345678", "203.0.113.7", "2001:db8::1", "fe80::1%eth0",
		"{", "}", "{}", "a}b{c", "%7B", "%", "k", "k:phone", "k}:phone",
		"\x00", "\xff", "ü", " ", "\n",
	}
	rules := []string{"phone", "ip", "a{b}", ":", "%"}
	seen := map[string]string{}
	for _, k := range keys {
		tag := ""
		for _, r := range rules {
			rk := l.Key(k, r)
			if prev, ok := seen[rk]; ok {
				t.Errorf("Key(%q, %q) = %q, also for %s", k, r, rk, prev)
			}
			seen[rk] = k + "/" + r
			if !strings.HasPrefix(rk, "atlas:otp:{") {
				t.Errorf("Key(%q, %q) = %q, want prefix atlas:otp:{", k, r, rk)
			}
			for _, c := range []byte(rk) {
				if c < 0x21 || c > 0x7e {
					t.Errorf("Key(%q, %q) = %q has byte %#x", k, r, rk, c)
				}
			}
			got := hashTag(rk)
			if tag == "" {
				tag = got
			}
			if got == "" || got != tag || got != escape(k) {
				t.Errorf("Key(%q, %q) = %q: hash tag %q, want %q", k, r, rk, got, escape(k))
			}
		}
	}
	if got := l.Key("+49 151", "p"); got != "atlas:otp:{+49%20151}:p" {
		t.Errorf("Key = %q", got)
	}
	if got := NewRedis(nil, "{x}").Key("k", "r"); got != "%7Bx%7D:{k}:r" {
		t.Errorf("braces in the prefix: Key = %q", got)
	}

	// and end to end: look-alike keys keep separate budgets
	c := testRedis(t)
	lr := NewRedis(c, testPrefix(t, c))
	for _, k := range keys {
		d, err := lr.Allow(context.Background(), k, Rule{"phone", 1, time.Minute})
		if err != nil || !d.Allowed {
			t.Errorf("key %q: %+v, %v; want allowed", k, d, err)
		}
	}
}

// hashTag returns the part of a Redis key that Redis Cluster hashes when it
// is not the whole key, as Redis does: between the first '{' and the first
// '}' after it, if not empty.
func hashTag(key string) string {
	i := strings.IndexByte(key, '{')
	if i < 0 {
		return ""
	}
	j := strings.IndexByte(key[i+1:], '}')
	if j <= 0 {
		return ""
	}
	return key[i+1 : i+1+j]
}

func TestRedisUnreachable(t *testing.T) {
	t.Parallel()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	_, err := NewRedis(c, "x").Allow(context.Background(), "k", Rule{"r", 1, time.Second})
	if err == nil || !strings.HasPrefix(err.Error(), "ratelimit: redis: ") {
		t.Fatalf("err = %v, want a wrapped connection error", err)
	}
}
