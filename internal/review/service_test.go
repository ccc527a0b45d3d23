package review_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/app"
	"github.com/sevra/atlas/internal/app/apptest"
	"github.com/sevra/atlas/internal/geo"
	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/review"
	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/rollout/rollouttest"
	"github.com/sevra/atlas/internal/store"
	"github.com/sevra/atlas/internal/store/storetest"
	"github.com/sevra/atlas/internal/tracing"
	"github.com/sevra/atlas/jobq"
)

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fastRoutes shrinks every coalescing window for tests (the delay still
// exceeds the dedup TTL).
func fastRoutes(rs outbox.Routes) {
	for k, r := range rs {
		if r.Dedup != "" {
			r.Delay, r.DedupTTL = 150*time.Millisecond, 100*time.Millisecond
		}
		rs[k] = r
	}
}

// rig is a worker process (internal/app) on st: review service, real
// outbox, queue backend, relay and workers.
type rig struct {
	st     *store.Store
	svc    *review.Service
	prod   *queues.Producer
	shadow *rollout.Recorder
	logs   *syncBuffer
	user   int64
}

// newRig builds the process with fastRoutes; alter, when set, alters the
// workers' shadow side results (see rollouttest.Faulty).
func newRig(t *testing.T, st *store.Store, modes rollout.Modes, alter func(side any) (any, bool)) *rig {
	t.Helper()
	return newRigRoutes(t, st, modes, alter, fastRoutes)
}

// newRigRoutes is newRig with routes adjusting the outbox routes (nil:
// the production coalescing windows).
func newRigRoutes(t *testing.T, st *store.Store, modes rollout.Modes, alter func(side any) (any, bool), routes func(outbox.Routes)) *rig {
	t.Helper()
	ctx := context.Background()
	logs := &syncBuffer{}
	log := slog.New(tracing.NewLogHandler(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	hooks := &app.Hooks{Store: st, Routes: routes, Relay: outbox.RelayConfig{Interval: 20 * time.Millisecond},
		Outbox: func(c *outbox.Config) { c.Grace = 50 * time.Millisecond }}
	hooks.Shadow = rollouttest.Wrapper(alter)
	a := apptest.Start(t, app.Config{DataDir: t.TempDir(), Workers: true, Modes: modes, Logger: log,
		SEO: app.SEOConfig{ScheduleTZ: "UTC"}}, hooks, false)
	uid, err := st.SystemUserID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	storetest.AddCity(t, st, 1, "tehran", "Tehran")
	storetest.AddCity(t, st, 2, "shiraz", "Shiraz")
	storetest.AddSalon(t, st, 10, 1, "rose", "Rose", 0, 0, storetest.Base)
	storetest.AddSalon(t, st, 11, 1, "lily", "Lily", 0, 0, storetest.Base)
	storetest.AddSalon(t, st, 12, 2, "iris", "Iris", 0, 0, storetest.Base)
	if err := st.RefreshCityStats(ctx, storetest.Base); err != nil {
		t.Fatal(err)
	}
	return &rig{st: st, svc: a.Reviews(), prod: a.Queues(), shadow: a.Shadow(), logs: logs, user: uid}
}

// settle waits until the outbox is empty and the analytics queue idle.
func (r *rig) settle(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var pending int
		if err := r.st.DB().QueryRow("SELECT count(*) FROM outbox WHERE published_at IS NULL").Scan(&pending); err != nil {
			t.Fatal(err)
		}
		// Pending jobs, apart from the scheduler's next flush-post-views.
		js, err := r.prod.Queue(queues.QueueAnalytics).GetJobs(ctx, []jobq.State{jobq.StateWaiting, jobq.StatePrioritized,
			jobq.StateDelayed, jobq.StateActive}, 0, 999, true)
		if err != nil {
			t.Fatal(err)
		}
		var busy []string
		for _, j := range js {
			if j.RepeatJobKey == "" {
				busy = append(busy, j.Name)
			}
		}
		if pending == 0 && len(busy) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not settled: %d unpublished, jobs %v\n%s", pending, busy, r.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkAggregates compares every salon's and city's stored numbers with a
// recomputation from scratch.
func (r *rig) checkAggregates(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for _, id := range []int64{10, 11, 12} {
		// Expected values straight from the reviews table.
		want := review.Aggregate{SalonID: id}
		err := r.st.DB().QueryRowContext(ctx, r.st.Rebind(`SELECT COALESCE(SUM(rating), 0), COUNT(*) FROM reviews
			WHERE salon_id = ? AND status = 'published'`), id).Scan(&want.Sum, &want.Count)
		if err != nil {
			t.Fatal(err)
		}
		if want.Count > 0 {
			want.Avg = float64(want.Sum) / float64(want.Count)
		}
		// The Bayesian average with the documented prior: 10 reviews of 3.5.
		want.Bayesian = (3.5*10 + float64(want.Sum)) / (10 + float64(want.Count))
		got, err := r.svc.Stored(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(want) {
			t.Errorf("salon %d: stored %+v, want %+v", id, got, want)
		}
	}
	for _, id := range []int64{1, 2} {
		stored, computed, err := r.st.CityStatsFor(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if stored != computed {
			t.Errorf("city %d: stored %+v, computed %+v", id, stored, computed)
		}
	}
}

func dialects(t *testing.T, fn func(*testing.T, *store.Store)) {
	for _, d := range []struct {
		name string
		open storetest.Opener
	}{{"sqlite", storetest.OpenSQLite}, {"postgres", storetest.OpenPostgres}} {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			fn(t, d.open(t))
		})
	}
}

func TestModes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		reviews, geo   rollout.Mode
		wantShadowRuns bool
	}{
		{"async", rollout.Async, rollout.Async, false},
		{"sync", rollout.Sync, rollout.Sync, false},
		{"shadow", rollout.Shadow, rollout.Shadow, true},
		{"sync reviews, async geo", rollout.Sync, rollout.Async, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dialects(t, func(t *testing.T, st *store.Store) {
				r := newRig(t, st, rollout.Modes{review.Module: tc.reviews, geo.Module: tc.geo}, nil)
				ctx := tracing.With(context.Background(), tracing.New())
				var wg sync.WaitGroup
				for i := range 30 {
					wg.Go(func() {
						slug := []string{"rose", "lily", "iris"}[i%3]
						if _, err := r.svc.Create(ctx, slug, r.user, review.Input{Rating: i%5 + 1, Body: fmt.Sprint("review ", i)}); err != nil {
							t.Error(err)
						}
					})
				}
				wg.Wait()
				if tc.reviews == rollout.Sync && tc.geo == rollout.Sync {
					// Done in the request: nothing was queued.
					var n int
					st.DB().QueryRow("SELECT count(*) FROM outbox").Scan(&n)
					if n != 0 {
						t.Fatalf("sync mode wrote %d outbox rows", n)
					}
					r.checkAggregates(t)
					return
				}
				r.settle(t)
				r.checkAggregates(t)
				counts := r.shadow.Counts()
				if tc.wantShadowRuns {
					if len(counts) != 2 || counts[0].Match == 0 || counts[0].Mismatch != 0 || counts[1].Match == 0 || counts[1].Mismatch != 0 {
						t.Fatalf("shadow counts %+v, want matches for reviews and geo only", counts)
					}
				} else if len(counts) != 0 {
					t.Fatalf("shadow counts %+v outside shadow mode", counts)
				}
			})
		})
	}
}

// TestShadowMismatch injects a fault into the worker's side result: the
// mismatch is counted and logged with the ids.
func TestShadowMismatch(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, st *store.Store) {
		alter := func(side any) (any, bool) {
			a := side.(review.Aggregate)
			if a.SalonID != 11 {
				return a, false
			}
			a.Sum++
			return a, true
		}
		r := newRig(t, st, rollout.Modes{review.Module: rollout.Shadow, geo.Module: rollout.Sync}, alter)
		ctx := context.Background()
		if _, err := r.svc.Create(ctx, "rose", r.user, review.Input{Rating: 4}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.svc.Create(ctx, "lily", r.user, review.Input{Rating: 2}); err != nil {
			t.Fatal(err)
		}
		r.settle(t)
		c := r.shadow.Counts()
		if len(c) != 1 || c[0].Module != review.Module || c[0].Match != 1 || c[0].Mismatch != 1 {
			t.Fatalf("counts %+v, want reviews 1 match 1 mismatch", c)
		}
		mm := r.shadow.RecentMismatches()
		if len(mm) != 1 || mm[0].Subject != "salon 11" {
			t.Fatalf("mismatches %+v", mm)
		}
		logs := r.logs.String()
		var line string
		for _, l := range strings.Split(logs, "\n") {
			if strings.Contains(l, "shadow result mismatch") {
				line = l
			}
		}
		if !strings.Contains(line, "salon=11") || !strings.Contains(line, "job=evt-") || !strings.Contains(line, "event=") {
			t.Fatalf("mismatch log line lacks ids: %q", line)
		}
		// The live row was not touched by the shadow run.
		r.checkAggregates(t)
	})
}

// TestTraceReachesWorkerLogs follows one review from the request's trace
// context to the worker's log lines.
func TestTraceReachesWorkerLogs(t *testing.T) {
	t.Parallel()
	r := newRig(t, storetest.OpenSQLite(t), nil, nil)
	tc := tracing.New()
	if _, err := r.svc.Create(tracing.With(context.Background(), tc), "iris", r.user, review.Input{Rating: 5}); err != nil {
		t.Fatal(err)
	}
	r.settle(t)
	logs := r.logs.String()
	for _, msg := range []string{"review aggregates recomputed", "city stats refreshed"} {
		found := false
		for _, l := range strings.Split(logs, "\n") {
			if strings.Contains(l, msg) && strings.Contains(l, "trace_id="+tc.TraceIDString()) {
				found = true
			}
		}
		if !found {
			t.Errorf("no %q line with trace_id=%s in\n%s", msg, tc.TraceIDString(), logs)
		}
	}
}

func TestCreateUnknownSalon(t *testing.T) {
	t.Parallel()
	r := newRig(t, storetest.OpenSQLite(t), nil, nil)
	if _, err := r.svc.Create(context.Background(), "nope", r.user, review.Input{Rating: 3}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("unknown salon: %v", err)
	}
}
