package app

import (
	"context"
	"time"

	"github.com/sevra/atlas/internal/geo"
)

// scheduleCityRepair adds the component that upserts the city-stats-repair
// scheduler (refresh-all-city-stats every Config.Geo.RepairEvery, default
// geo.DefaultRepairEvery) at start, in every process, like the views
// flush schedule: the upsert is idempotent and only workers run the job.
func (a *App) scheduleCityRepair() {
	every := a.cfg.Geo.RepairEvery
	if every <= 0 {
		every = geo.DefaultRepairEvery
	}
	a.components = append(a.components, &geoScheduleComponent{a: a, every: every})
}

// geoScheduleComponent upserts the city-stats-repair job scheduler at start.
type geoScheduleComponent struct {
	a     *App
	every time.Duration
}

func (c *geoScheduleComponent) Name() string { return "city stats repair schedule" }

func (c *geoScheduleComponent) Start(ctx context.Context) error {
	return c.a.mods.cities.EnsureSchedule(ctx, c.a.producer, c.every)
}

func (c *geoScheduleComponent) Close(context.Context) error { return nil }
