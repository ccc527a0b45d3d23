package geo

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/sevra/atlas/internal/seo"
	"github.com/sevra/atlas/internal/store"
	"github.com/sevra/atlas/internal/store/storetest"
	"github.com/sevra/atlas/jobq"
)

// recordingCache records the invalidations it receives.
type recordingCache struct {
	mu  sync.Mutex
	ids []int64
}

func (c *recordingCache) Invalidate(_ context.Context, entityType string, id int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if entityType == seo.EntityCity {
		c.ids = append(c.ids, id)
	}
	return nil
}

// TestRefreshAllRepairsDrift corrupts every statistic of two cities with
// direct SQL; the repair job puts back what a direct count gives and
// invalidates every city.
func TestRefreshAllRepairsDrift(t *testing.T) {
	t.Parallel()
	for _, d := range []struct {
		name string
		open storetest.Opener
	}{{"sqlite", storetest.OpenSQLite}, {"postgres", storetest.OpenPostgres}} {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			st := d.open(t)
			ctx := context.Background()
			storetest.AddCity(t, st, 1, "tehran", "Tehran")
			storetest.AddCity(t, st, 2, "shiraz", "Shiraz")
			storetest.AddCity(t, st, 3, "yazd", "Yazd") // no salons
			storetest.AddSalon(t, st, 10, 1, "rose", "Rose", 9, 2, storetest.Base)
			storetest.AddSalon(t, st, 11, 1, "lily", "Lily", 4, 1, storetest.Base)
			storetest.AddSalon(t, st, 12, 2, "iris", "Iris", 0, 0, storetest.Base)
			// Drift: numbers no event will ever fix.
			storetest.Exec(t, st, "UPDATE cities SET salon_count = 42, review_count = 7, avg_rating = 1.5 WHERE id IN (1, 3)")
			storetest.Exec(t, st, "UPDATE cities SET salon_count = 0 WHERE id = 2")

			c := &recordingCache{}
			s := NewService(st, nil, nil)
			s.SetCache(c)
			res, err := s.handleRefreshAll(ctx, &jobq.Job{ID: "repeat:city-stats-repair:1", Name: JobRefreshAll, Data: []byte(`{"source":"schedule"}`)})
			if err != nil {
				t.Fatal(err)
			}
			if m, ok := res.(map[string]int); !ok || m["cities"] != 3 {
				t.Errorf("result %v, want 3 cities", res)
			}
			// Literal expectations (from the fixtures above) ...
			want := map[int64]store.CityStats{
				1: {SalonCount: 2, ReviewCount: 3, AvgRating: 13.0 / 3},
				2: {SalonCount: 1},
				3: {},
			}
			for id, w := range want {
				var got store.CityStats
				err := st.DB().QueryRowContext(ctx, st.Rebind("SELECT salon_count, review_count, avg_rating FROM cities WHERE id = ?"), id).
					Scan(&got.SalonCount, &got.ReviewCount, &got.AvgRating)
				if err != nil {
					t.Fatal(err)
				}
				if got.SalonCount != w.SalonCount || got.ReviewCount != w.ReviewCount || got.AvgRating-w.AvgRating > 1e-9 || w.AvgRating-got.AvgRating > 1e-9 {
					t.Errorf("city %d: %+v, want %+v", id, got, w)
				}
				// ... and a direct SQL count.
				var n int64
				if err := st.DB().QueryRowContext(ctx, st.Rebind("SELECT count(*) FROM salons WHERE city_id = ?"), id).Scan(&n); err != nil {
					t.Fatal(err)
				}
				if got.SalonCount != n {
					t.Errorf("city %d: salon_count %d, direct count %d", id, got.SalonCount, n)
				}
			}
			slices.Sort(c.ids)
			if !slices.Equal(c.ids, []int64{1, 2, 3}) {
				t.Errorf("invalidated cities %v, want [1 2 3]", c.ids)
			}
		})
	}
}
