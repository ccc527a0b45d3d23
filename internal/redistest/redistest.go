// Package redistest gives tests a Redis connection and a key prefix of
// their own: the Redis at ATLAS_TEST_REDIS_URL, or a skip with the reason
// (a failure under ATLAS_TEST_REQUIRE_SERVICES=1, as CI sets it).
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Client returns a client for ATLAS_TEST_REDIS_URL (context deadlines
// honoured), closed when the test ends, or skips the test.
func Client(t testing.TB) *redis.Client {
	t.Helper()
	u := os.Getenv("ATLAS_TEST_REDIS_URL")
	if u == "" {
		if os.Getenv("ATLAS_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("ATLAS_TEST_REDIS_URL is not set but ATLAS_TEST_REQUIRE_SERVICES=1")
		}
		t.Skip("set ATLAS_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0) to run Redis tests")
	}
	opts, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("ATLAS_TEST_REDIS_URL: %v", err)
	}
	opts.ContextTimeoutEnabled = true
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Prefix returns name plus a random suffix, unique to this test; every
// key under "<prefix>:" is deleted when the test ends.
func Prefix(t testing.TB, c *redis.Client, name string) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := name + "-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx := context.Background()
		keys, err := c.Keys(ctx, prefix+":*").Result()
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		if len(keys) > 0 {
			if err := c.Del(ctx, keys...).Err(); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	return prefix
}
