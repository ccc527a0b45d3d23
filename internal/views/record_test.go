package views

import (
	"context"
	"maps"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/store/storetest"
)

// TestRecordSkipsBotsAndHead counts only GETs from browsers, in each mode.
func TestRecordSkipsBotsAndHead(t *testing.T) {
	t.Parallel()
	for _, mode := range []rollout.Mode{rollout.Sync, rollout.Async, rollout.Shadow} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := storetest.OpenSQLite(t)
			addPosts(t, st, 1)
			buf := NewMemoryBuffer()
			s := newService(t, st, buf, mode, nil)
			for _, r := range []struct{ method, ua string }{
				{"HEAD", browser},
				{"GET", ""},
				{"GET", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"},
				{"GET", "GPTBot/1.2"},
				{"GET", browser},
				{"GET", "curl/8.5.0"},
			} {
				if err := s.Record(ctx, 1, r.method, r.ua); err != nil {
					t.Fatalf("Record(%s, %q): %v", r.method, r.ua, err)
				}
			}
			if _, err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if got := viewCounts(t, st)[1]; got != 2 {
				t.Errorf("view_count = %d; want 2 (the browser and curl)", got)
			}
			if got := testutil.ToFloat64(s.m.recorded.WithLabelValues(string(mode))); got != 2 {
				t.Errorf("atlas_views_recorded_total{mode=%q} = %v; want 2", mode, got)
			}
		})
	}
}

// TestSyncMode makes one UPDATE per view and leaves the buffer alone.
func TestSyncMode(t *testing.T) {
	t.Parallel()
	for _, db := range stores {
		for _, bf := range buffers {
			t.Run(db.name+"/"+bf.name, func(t *testing.T) {
				t.Parallel()
				st := db.open(t)
				addPosts(t, st, 1, 2)
				buf := bf.open(t)
				s := newService(t, st, buf, rollout.Sync, nil)
				for range 25 {
					record(t, s, 1)
				}
				for range 3 {
					record(t, s, 2)
				}
				record(t, s, 99) // no such post: no row changes, no error
				if got := viewCounts(t, st); !maps.Equal(got, map[int64]int64{1: 25, 2: 3}) {
					t.Errorf("view counts %v; want {1:25 2:3}, without a flush", got)
				}
				drained(t, buf, LiveHash)
				drained(t, buf, ShadowHash)
			})
		}
	}
}

// TestShadowMode updates posts as sync mode does, tallies the views in
// the shadow hash, and the flush records a match; a view that reaches
// the shadow tally but not the database (injected below) is a mismatch.
func TestShadowMode(t *testing.T) {
	t.Parallel()
	for _, db := range stores {
		for _, bf := range buffers {
			t.Run(db.name+"/"+bf.name, func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				st := db.open(t)
				addPosts(t, st, 1, 2, 3, 4, 5)
				buf := bf.open(t)
				rec, err := rollout.NewRecorder(nil, nil, 10)
				if err != nil {
					t.Fatal(err)
				}
				s := newService(t, st, buf, rollout.Shadow, rec)
				views, want := plan()
				send(t, s, views)
				// Sync already counted every view; nothing went to the live buffer.
				if got := viewCounts(t, st); !maps.Equal(got, want) {
					t.Fatalf("view counts %v; want %v before any flush", got, want)
				}
				res, err := s.Flush(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if res != (FlushResult{Windows: 1}) {
					t.Errorf("Flush = %+v; want one shadow window and no batch", res)
				}
				if got := viewCounts(t, st); !maps.Equal(got, want) {
					t.Errorf("view counts %v after the flush; want %v (shadow applies nothing)", got, want)
				}
				if got := rec.Counts(); len(got) != 1 || got[0] != (rollout.Counts{Module: Module, Match: 1}) {
					t.Fatalf("shadow counts %+v; want one match", got)
				}

				// Drift: a view the async path counted and the sync path did not.
				record(t, s, 2)
				if err := buf.Incr(ctx, ShadowHash, "3"); err != nil {
					t.Fatal(err)
				}
				if _, err := s.Flush(ctx); err != nil {
					t.Fatal(err)
				}
				if got := rec.Counts(); len(got) != 1 || got[0] != (rollout.Counts{Module: Module, Match: 1, Mismatch: 1}) {
					t.Fatalf("shadow counts %+v; want one match and one mismatch", got)
				}
				mm := rec.RecentMismatches()
				if len(mm) != 1 || mm[0].Live != (Totals{Posts: 1, Views: 1}) || mm[0].Shadow != (Totals{Posts: 2, Views: 2}) {
					t.Fatalf("mismatch %+v; want live {1 post, 1 view}, shadow {2 posts, 2 views}", mm)
				}
				drained(t, buf, ShadowHash)
				drained(t, buf, LiveHash)
			})
		}
	}
}

// TestRedisDown drops views fast when Redis does not answer: a closed
// port (refused) and a server that accepts and never replies (hung).
// Record returns nil within ~100 ms and counts each view as dropped.
func TestRedisDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c) // read nothing, answer nothing
		}
	}()
	for _, tc := range []struct{ name, addr string }{{"refused", "127.0.0.1:1"}, {"hung", ln.Addr().String()}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			client := redis.NewClient(&redis.Options{Addr: tc.addr})
			t.Cleanup(func() { client.Close() })
			st := storetest.OpenSQLite(t)
			addPosts(t, st, 1)
			reg := prometheus.NewRegistry()
			s, err := New(Config{Store: st, Buffer: NewRedisBuffer(client, RedisConfig{Prefix: "unused"}), Registry: reg})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 5 {
				start := time.Now()
				err := s.Record(context.Background(), 1, "GET", browser)
				if took := time.Since(start); err != nil || took > 100*time.Millisecond {
					t.Fatalf("Record %d = %v after %v; want nil within 100ms", i, err, took)
				}
				if got := testutil.ToFloat64(s.m.dropped.WithLabelValues("buffer")); got != float64(i+1) {
					t.Fatalf("atlas_views_dropped_total{reason=buffer} = %v after %d views; want %d", got, i+1, i+1)
				}
			}
			if got := testutil.ToFloat64(s.m.recorded.WithLabelValues("async")); got != 0 {
				t.Errorf("atlas_views_recorded_total{mode=async} = %v; want 0", got)
			}
			if n, err := testutil.GatherAndCount(reg, "atlas_views_dropped_total"); err != nil || n != 1 {
				t.Errorf("registry has %d atlas_views_dropped_total series, %v; want 1", n, err)
			}
		})
	}
}

// TestMemoryBufferFlush moves the in-process counts to the database and
// empties the buffer.
func TestMemoryBufferFlush(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.OpenSQLite(t)
	addPosts(t, st, 1, 2, 3)
	buf := NewMemoryBuffer()
	s := newService(t, st, buf, rollout.Async, nil)
	for _, id := range []int64{1, 1, 1, 2, 3, 3} {
		record(t, s, id)
	}
	if got := viewCounts(t, st); !maps.Equal(got, map[int64]int64{1: 0, 2: 0, 3: 0}) {
		t.Fatalf("view counts %v before the flush; want zeros", got)
	}
	res, err := s.Flush(ctx)
	if err != nil || res != (FlushResult{Batches: 1, Posts: 3, Views: 6}) {
		t.Fatalf("Flush = %+v, %v; want 1 batch, 3 posts, 6 views", res, err)
	}
	if got := viewCounts(t, st); !maps.Equal(got, map[int64]int64{1: 3, 2: 1, 3: 2}) {
		t.Errorf("view counts %v; want {1:3 2:1 3:2}", got)
	}
	if got := testutil.ToFloat64(s.m.flushed); got != 6 {
		t.Errorf("atlas_views_flushed_total = %v; want 6", got)
	}
	drained(t, buf, LiveHash)
	if res, err := s.Flush(ctx); err != nil || res != (FlushResult{}) {
		t.Errorf("second Flush = %+v, %v; want nothing done", res, err)
	}
}
