package views

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/store/storetest"
)

// postCacheLog is a PostCache that logs the ids it is given.
type postCacheLog struct {
	mu    sync.Mutex
	calls [][]int64
	fail  error
}

func (c *postCacheLog) InvalidatePosts(_ context.Context, ids ...int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, slices.Clone(ids))
	return c.fail
}

// TestFlushInvalidatesCachedPosts: an applied batch invalidates the
// cached pages of the posts it names, once per batch; a failed
// invalidation is counted and does not fail the flush.
func TestFlushInvalidatesCachedPosts(t *testing.T) {
	t.Parallel()
	st := storetest.OpenSQLite(t)
	addPosts(t, st, 1, 2, 3)
	pc := &postCacheLog{}
	reg := prometheus.NewRegistry()
	s, err := New(Config{Store: st, Mode: rollout.Async, Cache: pc, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{3, 1, 3, 3} {
		record(t, s, id)
	}
	if _, err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(pc.calls) != 1 || !slices.Equal(pc.calls[0], []int64{1, 3}) {
		t.Fatalf("invalidations after one batch = %v, want [[1 3]]", pc.calls)
	}
	if _, err := s.Flush(context.Background()); err != nil || len(pc.calls) != 1 {
		t.Fatalf("an empty flush invalidated: %v (%v)", pc.calls, err)
	}
	pc.fail = errors.New("redis down")
	record(t, s, 2)
	if _, err := s.Flush(context.Background()); err != nil {
		t.Fatalf("flush with a failing cache: %v", err)
	}
	if got := viewCounts(t, st); got[1] != 1 || got[2] != 1 || got[3] != 3 {
		t.Errorf("view counts %v, want 1:1 2:1 3:3", got)
	}
	if n := testutil.ToFloat64(s.m.rows); n != 3 {
		t.Errorf("atlas_views_flushed_rows_total = %v, want 3 (posts 1 and 3, then 2)", n)
	}
	if n := testutil.ToFloat64(s.m.cacheErrors); n != 1 {
		t.Errorf("atlas_views_cache_errors_total = %v, want 1", n)
	}
}
