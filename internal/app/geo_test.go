package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/app"
	"github.com/sevra/atlas/internal/app/apptest"
	"github.com/sevra/atlas/internal/geo"
	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/store/storetest"
	"github.com/sevra/atlas/jobq"
)

// TestCityStatsRepairSchedule: a worker process upserts the
// city-stats-repair scheduler (1h by default, Config.Geo.RepairEvery
// otherwise), and its job, run by the workers, repairs a corrupted city.
func TestCityStatsRepairSchedule(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		every time.Duration
		want  time.Duration
	}{{"default", 0, time.Hour}, {"set", 2 * time.Hour, 2 * time.Hour}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := storetest.OpenSQLite(t)
			a := apptest.Start(t, app.Config{DataDir: t.TempDir(), Workers: true, Geo: app.GeoConfig{RepairEvery: tc.every},
				SEO: app.SEOConfig{ScheduleTZ: "UTC"}}, &app.Hooks{Store: st}, false)
			q := a.Queues().Queue(queues.QueueAnalytics)
			s, err := q.GetJobScheduler(ctx, geo.RepairSchedulerID)
			if err != nil {
				t.Fatal(err)
			}
			if s.Every != tc.want || s.Name != "refresh-all-city-stats" {
				t.Fatalf("scheduler %+v, want every %v, job refresh-all-city-stats", s, tc.want)
			}
			if tc.every != 0 {
				return
			}
			storetest.AddCity(t, st, 1, "tehran", "Tehran")
			storetest.AddSalon(t, st, 10, 1, "rose", "Rose", 9, 2, storetest.Base)
			storetest.AddSalon(t, st, 11, 1, "lily", "Lily", 0, 0, storetest.Base)
			storetest.Exec(t, st, "UPDATE cities SET salon_count = 99 WHERE id = 1")
			j, err := a.Queues().Add(ctx, queues.QueueAnalytics, geo.JobRefreshAll, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(10 * time.Second); ; {
				got, err := q.GetJob(ctx, j.ID)
				if err != nil {
					t.Fatal(err)
				}
				if state, _ := got.State(ctx); state == jobq.StateCompleted {
					break
				} else if state == jobq.StateFailed || time.Now().After(deadline) {
					t.Fatalf("job %s: state %s, reason %q", j.ID, state, got.FailedReason)
				}
				time.Sleep(20 * time.Millisecond)
			}
			var n, direct int64
			st.DB().QueryRow("SELECT salon_count FROM cities WHERE id = 1").Scan(&n)
			st.DB().QueryRow("SELECT count(*) FROM salons WHERE city_id = 1").Scan(&direct)
			if n != 2 || direct != 2 {
				t.Fatalf("salon_count %d, direct count %d; want 2", n, direct)
			}
		})
	}
}
