package views

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/store/storetest"
)

// plan is 1,000 views over posts 1–5 (400, 300, 200, 60, 40), in an
// interleaved order, plus 7 views of post 99, which does not exist.
func plan() (views []int64, want map[int64]int64) {
	want = map[int64]int64{1: 400, 2: 300, 3: 200, 4: 60, 5: 40}
	left := maps.Clone(want)
	for len(views) < 1000 {
		for id := int64(1); id <= 5; id++ {
			if left[id] > 0 {
				views = append(views, id)
				left[id]--
			}
		}
	}
	for range 7 {
		views = append(views, 99)
	}
	return views, want
}

// send records views from 8 goroutines at once.
func send(t *testing.T, s *Service, views []int64) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(views))
	for g := range 8 {
		wg.Go(func() {
			for i := g; i < len(views); i += 8 {
				if err := s.Record(context.Background(), views[i], "GET", browser); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Record: %v", err)
	}
}

var errCrash = errors.New("injected crash")

// crashAt makes s's flush stop at step, once.
func crashAt(s *Service, step string) {
	s.fault = func(at string) error {
		if at == step {
			s.fault = nil
			return errCrash
		}
		return nil
	}
}

// TestFlushCrashPoints crashes the flush after each of its steps, then
// runs a normal flush, which must finish the crashed batch: the database
// ends with exactly the views sent, whatever the step.
func TestFlushCrashPoints(t *testing.T) {
	t.Parallel()
	for _, db := range stores {
		for _, bf := range buffers {
			for _, step := range []string{stepSealed, stepPreCommit, stepCommitted} {
				t.Run(db.name+"/"+bf.name+"/"+step, func(t *testing.T) {
					t.Parallel()
					ctx := context.Background()
					st := db.open(t)
					addPosts(t, st, 1, 2, 3, 4, 5)
					buf := bf.open(t)
					s := newService(t, st, buf, rollout.Async, nil)
					views, want := plan()
					send(t, s, views)

					crashAt(s, step)
					if _, err := s.Flush(ctx); !errors.Is(err, errCrash) {
						t.Fatalf("Flush = %v; want the injected crash", err)
					}
					zero := map[int64]int64{1: 0, 2: 0, 3: 0, 4: 0, 5: 0}
					atCrash, logged := zero, int64(0)
					if step == stepCommitted {
						atCrash, logged = want, 1
					}
					if got := viewCounts(t, st); !maps.Equal(got, atCrash) {
						t.Fatalf("after a crash at %s: view counts %v; want %v", step, got, atCrash)
					}
					if n := queryInt(t, st, "SELECT count(*) FROM view_flushes"); n != logged {
						t.Fatalf("after a crash at %s: %d flush log rows; want %d", step, n, logged)
					}
					if ids, err := buf.Batches(ctx, LiveHash); err != nil || len(ids) != 1 {
						t.Fatalf("after a crash at %s: sealed batches %v, %v; want 1", step, ids, err)
					}

					// Views after the crash go to a new buffer.
					for range 10 {
						record(t, s, 1)
					}
					want[1] += 10
					res, err := s.Flush(ctx)
					if err != nil {
						t.Fatalf("recovery Flush: %v", err)
					}
					wantRes := FlushResult{Batches: 2, Posts: 6, Views: 1010, Recovered: 1, Skipped: 7}
					if step == stepCommitted {
						wantRes = FlushResult{Batches: 1, Posts: 1, Views: 10, Recovered: 1, Duplicates: 1}
					}
					if res != wantRes {
						t.Errorf("recovery Flush = %+v; want %+v", res, wantRes)
					}
					if got := viewCounts(t, st); !maps.Equal(got, map[int64]int64{1: 410, 2: 300, 3: 200, 4: 60, 5: 40}) {
						t.Errorf("view counts %v; want {1:410 2:300 3:200 4:60 5:40}", got)
					}
					if n := queryInt(t, st, "SELECT count(*) FROM view_flushes"); n != 2 {
						t.Errorf("%d flush log rows; want 2", n)
					}
					if n := queryInt(t, st, "SELECT sum(views) FROM view_flushes"); n != 1010 {
						t.Errorf("flush log sums %d views; want 1010", n)
					}
					drained(t, buf, LiveHash)
				})
			}
		}
	}
}

// TestFlushCrashesInRecovery crashes three flushes in a row, each at a
// later step, with views recorded between them: the first seals a batch,
// the next two crash while recovering it. The fourth flush leaves exact
// counts.
func TestFlushCrashesInRecovery(t *testing.T) {
	t.Parallel()
	for _, db := range stores {
		for _, bf := range buffers {
			t.Run(db.name+"/"+bf.name, func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				st := db.open(t)
				addPosts(t, st, 1, 2, 3, 4, 5)
				buf := bf.open(t)
				s := newService(t, st, buf, rollout.Async, nil)
				views, _ := plan()
				send(t, s, views)
				for i, step := range []string{stepSealed, stepPreCommit, stepCommitted} {
					crashAt(s, step)
					if _, err := s.Flush(ctx); !errors.Is(err, errCrash) {
						t.Fatalf("Flush %d = %v; want the injected crash at %s", i+1, err, step)
					}
					for range 5 {
						record(t, s, 5)
					}
				}
				if _, err := s.Flush(ctx); err != nil {
					t.Fatalf("last Flush: %v", err)
				}
				want := map[int64]int64{1: 400, 2: 300, 3: 200, 4: 60, 5: 55}
				if got := viewCounts(t, st); !maps.Equal(got, want) {
					t.Errorf("view counts %v; want %v", got, want)
				}
				drained(t, buf, LiveHash)
			})
		}
	}
}

// TestApplyTwice applies one batch twice, as a recovery after a crash
// between the commit and the delete does: the second changes nothing.
func TestApplyTwice(t *testing.T) {
	t.Parallel()
	for _, db := range stores {
		t.Run(db.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := db.open(t)
			addPosts(t, st, 1, 2)
			s := newService(t, st, NewMemoryBuffer(), rollout.Async, nil)
			rows := []postCount{{1, 3}, {2, 4}, {3, 5}}
			first, err := s.apply(ctx, "batch-a", rows)
			if err != nil || first != (applied{posts: 2, views: 7, skipped: 5}) {
				t.Fatalf("first apply = %+v, %v; want 2 posts, 7 views, 5 skipped", first, err)
			}
			second, err := s.apply(ctx, "batch-a", rows)
			if err != nil || second != (applied{dup: true}) {
				t.Fatalf("second apply = %+v, %v; want a duplicate", second, err)
			}
			if got := viewCounts(t, st); !maps.Equal(got, map[int64]int64{1: 3, 2: 4}) {
				t.Errorf("view counts %v; want {1:3 2:4}", got)
			}
			if n := queryInt(t, st, "SELECT views FROM view_flushes WHERE batch_id = ?", "batch-a"); n != 7 {
				t.Errorf("flush log: %d views; want 7", n)
			}
		})
	}
}

// TestFlushWhileRecording flushes over and over while 8 goroutines
// record: every view lands in exactly one batch.
func TestFlushWhileRecording(t *testing.T) {
	t.Parallel()
	for _, bf := range buffers {
		t.Run(bf.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := stores[0].open(t)
			addPosts(t, st, 1, 2, 3, 4, 5)
			buf := bf.open(t)
			s := newService(t, st, buf, rollout.Async, nil)
			views, want := plan()
			var stop atomic.Bool
			done := make(chan struct{})
			flushes := 0
			go func() {
				defer close(done)
				for flushes < 5 || !stop.Load() {
					if _, err := s.Flush(ctx); err != nil {
						t.Errorf("Flush: %v", err)
						return
					}
					flushes++
				}
			}()
			send(t, s, views)
			stop.Store(true)
			<-done
			if _, err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if got := viewCounts(t, st); !maps.Equal(got, want) {
				t.Errorf("view counts %v; want %v (after %d concurrent flushes)", got, want, flushes)
			}
			if n := queryInt(t, st, "SELECT sum(views) FROM view_flushes"); n != 1000 {
				t.Errorf("flush log sums %d views; want 1000", n)
			}
		})
	}
}

// TestFlushPrunesLog drops flush log rows past the retention and keeps
// newer ones.
func TestFlushPrunesLog(t *testing.T) {
	t.Parallel()
	for _, db := range stores {
		t.Run(db.name, func(t *testing.T) {
			t.Parallel()
			st := db.open(t)
			s := newService(t, st, NewMemoryBuffer(), rollout.Async, nil)
			now := s.now().UTC()
			for i, age := range []int{1, 6 * 24, 8 * 24, 30 * 24} { // hours
				storetest.Exec(t, st, "INSERT INTO view_flushes (batch_id, applied_at, views) VALUES (?, ?, 1)",
					fmt.Sprintf("old-%d", i), now.Add(-time.Duration(age)*time.Hour))
			}
			if _, err := s.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n := queryInt(t, st, "SELECT count(*) FROM view_flushes"); n != 2 {
				t.Errorf("%d flush log rows after pruning; want 2 (1 h and 6 days old)", n)
			}
		})
	}
}
