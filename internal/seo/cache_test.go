package seo

import (
	"context"
	"testing"
)

type countingCache struct{ n int }

func (c *countingCache) Invalidate(context.Context, string, int64) error { c.n++; return nil }

func TestCacheHubFansOut(t *testing.T) {
	t.Parallel()
	var h CacheHub
	if err := h.Invalidate(context.Background(), EntitySalon, 1); err != nil {
		t.Fatal(err)
	}
	a, b := &countingCache{}, &countingCache{}
	h.Attach(a)
	h.Attach(b)
	if err := h.Invalidate(context.Background(), EntitySalon, 1); err != nil || a.n != 1 || b.n != 1 {
		t.Fatalf("invalidations %d, %d (%v)", a.n, b.n, err)
	}
}
