package seo

import (
	"context"
	"testing"
)

func TestFingerprintOfTwoBuildsOfTheSameData(t *testing.T) {
	t.Parallel()
	b := newFixtureBuilder(t, Config{})
	ctx := context.Background()
	if _, err := b.Rebuild(ctx, nil); err != nil {
		t.Fatal(err)
	}
	live, err := b.Publisher().Live()
	if err != nil {
		t.Fatal(err)
	}
	_, side, err := b.BuildSide(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := FingerprintDir(live.Dir, live.ID)
	if err != nil {
		t.Fatal(err)
	}
	c, err := FingerprintDir(side.Dir(), side.ID())
	if err != nil {
		t.Fatal(err)
	}
	if !a.Equal(c) || a.URLs != 10 || len(a.Files) != 4 {
		t.Fatalf("fingerprints differ or are wrong:\nlive %+v\nside %+v", a, c)
	}
	if l, _ := b.Publisher().Live(); l.ID != live.ID {
		t.Fatal("BuildSide published")
	}
	if err := side.Abort(); err != nil {
		t.Fatal(err)
	}
	for _, id := range genDirs(t, b.Publisher()) {
		if id == side.ID() {
			t.Fatal("side generation left on disk after Abort")
		}
	}
}

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
