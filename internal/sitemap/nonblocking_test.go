package sitemap

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/seed"
	"github.com/sevra/atlas/internal/store"
)

// TestRebuildDoesNotBlockWrites rebuilds over 50,000 seeded salons on
// SQLite (WAL) while another connection pool, standing in for the API
// process, keeps updating salons.
//
// Two checks:
//   - Structural: between pages (in the progress callback) the builder's
//     pool has no connection in use, so no transaction, statement or open
//     rows span pages; each page is one short implicit read.
//   - Measured: the slowest concurrent UPDATE stays under
//     max(10 × the slowest page query, 500 ms). In WAL mode readers never
//     block the single writer, so a write waits at most for another
//     writer and an fsync; a builder holding one read or write
//     transaction across the whole rebuild would instead show write
//     stalls the length of the rebuild (or starve the WAL checkpoint).
//     10× the page query leaves room for 2 shared CPU cores and fsync
//     jitter; the 500 ms floor covers page queries too quick to measure
//     meaningfully.
func TestRebuildDoesNotBlockWrites(t *testing.T) {
	t.Parallel()
	salons := 50_000
	if testing.Short() {
		salons = 10_000
	}
	ctx := context.Background()
	dir := t.TempDir()
	s, err := store.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := seed.Run(ctx, s, seed.Options{Cities: 20, Salons: salons, Posts: 50, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	api, err := store.Open(ctx, "", dir) // a second pool: the API's writes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Close() })

	b := newFixtureBuilder(t, Config{DB: s, PageSize: 5_000, Now: time.Now})
	var (
		running   atomic.Bool
		heldPages atomic.Int64
		wg        sync.WaitGroup
		writes    int
		maxWrite  time.Duration
		writeErr  error
	)
	running.Store(true)
	started := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-started
		for i := 0; running.Load(); i++ {
			id := int64(1 + (i*7919)%salons)
			t0 := time.Now()
			_, err := api.DB().ExecContext(ctx, api.Rebind("UPDATE salons SET name = ?, updated_at = ? WHERE id = ?"),
				fmt.Sprintf("renamed %d", i), time.Now().UTC(), id)
			d := time.Since(t0)
			if err != nil {
				writeErr = err
				return
			}
			writes++
			maxWrite = max(maxWrite, d)
			time.Sleep(2 * time.Millisecond)
		}
	}()
	var once sync.Once
	st, err := b.Rebuild(ctx, func(done, total int64) {
		once.Do(func() { close(started) })
		if n := s.DB().Stats().InUse; n != 0 {
			heldPages.Add(1)
		}
	})
	running.Store(false)
	once.Do(func() { close(started) })
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if writeErr != nil {
		t.Fatalf("concurrent write: %v", writeErr)
	}
	if st.Salons != int64(salons) {
		t.Errorf("listed %d salons, want %d", st.Salons, salons)
	}
	if n := heldPages.Load(); n != 0 {
		t.Errorf("the builder held a DB connection between pages %d times", n)
	}
	bound := max(10*st.MaxPageQuery, 500*time.Millisecond)
	t.Logf("rebuild %v over %d pages (slowest page query %v); %d concurrent writes, slowest %v, bound %v",
		st.Duration, st.Pages, st.MaxPageQuery, writes, maxWrite, bound)
	if writes == 0 {
		t.Fatal("no write ran during the rebuild")
	}
	if maxWrite > bound {
		t.Errorf("a salon UPDATE took %v during the rebuild, over the bound %v", maxWrite, bound)
	}
}
