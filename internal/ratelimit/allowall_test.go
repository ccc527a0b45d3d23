package ratelimit

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestAllowAllRefusalCountsNowhere: an event refused by one key's rule is
// recorded under none of the keys, on both limiters.
func TestAllowAllRefusalCountsNowhere(t *testing.T) {
	t.Parallel()
	ip := []Rule{{Name: "ip", Limit: 3, Window: time.Hour}}
	ph := []Rule{{Name: "phone", Limit: 1, Window: time.Hour}}
	run := func(t *testing.T, l Limiter) {
		ctx := context.Background()
		if d, err := l.AllowAll(ctx, Check{"ip:a", ip}, Check{"ph:1", ph}); err != nil || !d.Allowed {
			t.Fatalf("first = %+v, %v", d, err)
		}
		// The number's limit refuses twice: the address's budget (3) must
		// not shrink.
		for range 2 {
			d, err := l.AllowAll(ctx, Check{"ip:a", ip}, Check{"ph:1", ph})
			if err != nil || d.Allowed || d.Rule != "phone" || d.RetryAfter <= 0 {
				t.Fatalf("refused = %+v, %v; want phone", d, err)
			}
		}
		for i, n := range []string{"ph:2", "ph:3"} {
			if d, err := l.AllowAll(ctx, Check{"ip:a", ip}, Check{n, ph}); err != nil || !d.Allowed {
				t.Fatalf("other number %d = %+v, %v; the address still has budget", i, d, err)
			}
		}
		if d, _ := l.AllowAll(ctx, Check{"ip:a", ip}, Check{"ph:4", ph}); d.Allowed || d.Rule != "ip" {
			t.Fatalf("fourth number = %+v; want the ip rule to refuse", d)
		}
		if _, err := l.AllowAll(ctx); !errors.Is(err, ErrBadRule) {
			t.Fatalf("no checks: %v", err)
		}
		if _, err := l.AllowAll(ctx, Check{"k", ph}, Check{"k", ip}); !errors.Is(err, ErrBadRule) {
			t.Fatalf("a key twice: %v", err)
		}
	}
	t.Run("memory", func(t *testing.T) { run(t, NewMemory(MemoryConfig{})) })
	t.Run("redis", func(t *testing.T) {
		url := os.Getenv("ATLAS_TEST_REDIS_URL")
		if url == "" {
			if os.Getenv("ATLAS_TEST_REQUIRE_SERVICES") == "1" {
				t.Fatal("ATLAS_TEST_REDIS_URL is required under ATLAS_TEST_REQUIRE_SERVICES=1")
			}
			t.Skip("ATLAS_TEST_REDIS_URL not set: skipping the Redis limiter")
		}
		opt, err := redis.ParseURL(url)
		if err != nil {
			t.Fatal(err)
		}
		c := redis.NewClient(opt)
		defer c.Close()
		prefix := "test-allowall-" + time.Now().Format("150405.000000000")
		r := NewRedis(c, prefix).InSlot("otp")
		if k := r.Key("ph:1", "phone"); k != prefix+":{otp}:ph:1:phone" {
			t.Fatalf("key %q", k)
		}
		defer func() {
			keys, _ := c.Keys(context.Background(), prefix+":*").Result()
			if len(keys) > 0 {
				c.Del(context.Background(), keys...)
			}
		}()
		run(t, r)
	})
}
