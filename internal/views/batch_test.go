package views

import (
	"context"
	"maps"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestRedisBatcherCoalesces: views from 64 concurrent callers all reach
// the Redis hash, exactly, in fewer round trips than views; after Close
// Incr still counts (one round trip each) and the batcher counts no more.
func TestRedisBatcherCoalesces(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := testRedis(t)
	prefix := testPrefix(t)
	// A generous timeout: the machine may be loaded; this test is about
	// exact counts and coalescing, TestRedisDown about timeouts.
	buf := NewRedisBuffer(c, RedisConfig{Prefix: prefix, Timeout: 5 * time.Second})
	const callers, each = 64, 100
	var wg sync.WaitGroup
	errs := make(chan error, callers*each)
	for g := range callers {
		wg.Go(func() {
			for i := range each {
				if err := buf.Incr(ctx, LiveHash, strconv.Itoa((g+i)%4+1)); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Incr: %v", err)
	}
	want := map[string]string{"1": "1600", "2": "1600", "3": "1600", "4": "1600"}
	if got, err := c.HGetAll(ctx, prefix+":views:buffer").Result(); err != nil || !maps.Equal(got, want) {
		t.Fatalf("HGETALL = %v, %v; want %v", got, err, want)
	}
	views, trips := buf.BatchStats()
	if views != callers*each || trips < 1 || trips >= views {
		t.Errorf("BatchStats = %d views in %d round trips; want %d views in fewer round trips", views, trips, callers*each)
	}
	t.Logf("%d views in %d round trips (%.1f per trip)", views, trips, float64(views)/float64(trips))

	if err := buf.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := buf.Incr(ctx, LiveHash, "1"); err != nil {
		t.Fatalf("Incr after Close: %v", err)
	}
	if got, err := c.HGet(ctx, prefix+":views:buffer", "1").Result(); err != nil || got != "1601" {
		t.Errorf("HGET field 1 after Close = %q, %v; want 1601", got, err)
	}
	if v, _ := buf.BatchStats(); v != callers*each {
		t.Errorf("batched views after Close = %d, want %d (Incr goes direct)", v, callers*each)
	}
	if err := buf.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
