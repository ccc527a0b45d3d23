package store_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/store"
	"github.com/sevra/atlas/internal/store/storetest"
)

func TestLeases(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		open storetest.Opener
	}{
		{"sqlite", storetest.OpenSQLite},
		{"postgres", func(t testing.TB) *store.Store { storetest.PostgresURL(t); return storetest.OpenPostgres(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testLeases(t, tc.open(t))
		})
	}
}

func testLeases(t *testing.T, s *store.Store) {
	ctx := context.Background()
	t0 := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	must := func(ok bool, err error) bool {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !must(s.AcquireLease(ctx, "x", "a", time.Minute, t0)) {
		t.Fatal("a: free lease not acquired")
	}
	if must(s.AcquireLease(ctx, "x", "b", time.Minute, t0.Add(59*time.Second))) {
		t.Fatal("b took a live lease")
	}
	if !must(s.RenewLease(ctx, "x", "a", time.Minute, t0.Add(50*time.Second))) {
		t.Fatal("a could not renew")
	}
	if must(s.AcquireLease(ctx, "x", "b", time.Minute, t0.Add(100*time.Second))) {
		t.Fatal("b took a renewed lease")
	}
	if !must(s.AcquireLease(ctx, "x", "b", time.Minute, t0.Add(111*time.Second))) {
		t.Fatal("b did not take a lapsed lease")
	}
	if must(s.RenewLease(ctx, "x", "a", time.Minute, t0.Add(112*time.Second))) {
		t.Fatal("a renewed a lease it lost")
	}
	if err := s.ReleaseLease(ctx, "x", "a"); err != nil { // not a's: no-op
		t.Fatal(err)
	}
	if must(s.AcquireLease(ctx, "x", "c", time.Minute, t0.Add(113*time.Second))) {
		t.Fatal("a's release freed b's lease")
	}
	if err := s.ReleaseLease(ctx, "x", "b"); err != nil {
		t.Fatal(err)
	}
	// 16 contenders for a free lease: exactly one wins.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.AcquireLease(ctx, "race", string(rune('a'+i)), time.Minute, t0)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d winners of one lease", wins.Load())
	}
}
