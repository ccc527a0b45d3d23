package cache

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRedisConcurrentReadsShareRoundTrips: 64 concurrent readers of 8
// cached keys each get their own key's value, in fewer MGET round trips
// than reads; after Close reads still work (one MGET each).
func TestRedisConcurrentReadsShareRoundTrips(t *testing.T) {
	t.Parallel()
	c := testRedis(t)
	prefix := testPrefix(t, c)
	hook := &countHook{}
	c.AddHook(hook)
	r := newTestRedis(t, c, RedisConfig{Prefix: prefix, Timeout: 5 * time.Second}) // loaded machine: no bypass
	var loads atomic.Int32
	for k := range 8 {
		key := "k" + strconv.Itoa(k)
		get(t, r, key, loader("v"+strconv.Itoa(k), &loads))
	}
	hook.take()
	const readers, each = 64, 20
	var wg sync.WaitGroup
	var wrong atomic.Int32
	for g := range readers {
		wg.Go(func() {
			for i := range each {
				k := strconv.Itoa((g + i) % 8)
				v, err := r.GetOrLoad(context.Background(), "k"+k, time.Minute, loader("reloaded", &loads))
				if err != nil || string(v) != "v"+k {
					wrong.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := wrong.Load(); n != 0 {
		t.Errorf("%d of %d reads got another value or an error", n, readers*each)
	}
	if n := loads.Load(); n != 8 {
		t.Errorf("loads = %d, want 8 (every concurrent read a hit)", n)
	}
	trips, mgets := 0, 0
	for _, trip := range hook.take() {
		if n := strings.Count(trip, "mget"); n > 0 {
			trips++
			mgets += n
		}
	}
	if mgets != readers*each || trips >= mgets {
		t.Errorf("%d MGETs in %d round trips; want %d in fewer", mgets, trips, readers*each)
	}
	t.Logf("%d reads in %d round trips", mgets, trips)
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := get(t, r, "k3", loader("reloaded", &loads)); got != "v3" {
		t.Errorf("read after Close = %q, want v3", got)
	}
}
