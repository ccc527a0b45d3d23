package views

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/store/storetest"
)

// BenchmarkRecord measures one counted view from parallel requests over
// 100 posts: async into Redis (one HINCRBY), async into memory, and the
// old sync UPDATE on SQLite (whose writes serialise) and PostgreSQL.
func BenchmarkRecord(b *testing.B) {
	cases := []struct {
		name string
		mode rollout.Mode
		buf  func(b *testing.B) Buffer
		open storetest.Opener
	}{
		{"async-redis", rollout.Async, func(b *testing.B) Buffer {
			return NewRedisBuffer(testRedis(b), RedisConfig{Prefix: testPrefix(b)})
		}, storetest.OpenSQLite},
		{"async-memory", rollout.Async, func(*testing.B) Buffer { return NewMemoryBuffer() }, storetest.OpenSQLite},
		{"sync-sqlite", rollout.Sync, func(*testing.B) Buffer { return NewMemoryBuffer() }, storetest.OpenSQLite},
		{"sync-postgres", rollout.Sync, func(*testing.B) Buffer { return NewMemoryBuffer() }, storetest.OpenPostgres},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			st := tc.open(b)
			ids := make([]int64, 100)
			for i := range ids {
				ids[i] = int64(i + 1)
			}
			addPosts(b, st, ids...)
			s := newService(b, st, tc.buf(b), tc.mode, nil)
			ctx := context.Background()
			var n atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(8) // 8 concurrent requests per CPU, as a busy server has
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := s.Record(ctx, n.Add(1)%100+1, "GET", browser); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			if _, err := s.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			if got := queryInt(b, st, "SELECT sum(view_count) FROM posts"); got != int64(b.N) {
				b.Fatalf("%d views counted; want %d", got, b.N)
			}
		})
	}
}
