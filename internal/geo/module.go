package geo

import (
	"time"

	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/rollout"
)

// The geo module's declarations: its rollout module, its event and the
// route that turns the event into a city-stats refresh. The composition
// root (internal/app) collects them; Register adds the handler.
const (
	// Module is the geo module's rollout name (ATLAS_MODE_GEO).
	Module rollout.Module = "geo"
	// EventSalonChanged {salonId, cityId}: a salon's listing or aggregates
	// changed, so its city's statistics must be refreshed.
	EventSalonChanged = "SalonChanged"
	// JobRefresh is the job that recomputes one city's statistics.
	JobRefresh = "refresh-city-stats"
	// JobRefreshAll is the scheduled job (queue analytics) that recomputes
	// every city's statistics, repairing drift that no SalonChanged event
	// reported (a direct SQL fix, a lost event, a salon deleted by hand).
	JobRefreshAll = "refresh-all-city-stats"
	// RepairSchedulerID is the id of the job scheduler that adds
	// JobRefreshAll.
	RepairSchedulerID = "city-stats-repair"
	// DefaultRepairEvery is how often the repair runs by default.
	DefaultRepairEvery = time.Hour
)

// changedRoute coalesces changes per city within a one-second window; the
// 2 s delay exceeds it, so no coalesced change is missed.
var changedRoute = outbox.Route{Event: EventSalonChanged, Module: Module, Queue: queues.QueueAnalytics, Job: JobRefresh,
	JobID: outbox.EventJobID, Dedup: "city-stats-{cityId}", DedupTTL: time.Second, Delay: 2 * time.Second}

// Routes returns the module's outbox routes.
func Routes() []outbox.Route { return []outbox.Route{changedRoute} }
