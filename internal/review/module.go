package review

import (
	"time"

	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/rollout"
)

// The reviews module's declarations: its rollout module, its event and
// the route that turns the event into a recompute job. The composition
// root (internal/app) collects them; Register adds the handler.
const (
	// Module is the reviews module's rollout name (ATLAS_MODE_REVIEWS).
	Module rollout.Module = "reviews"
	// EventCreated {reviewId, salonId}: a review was written.
	EventCreated = "ReviewCreated"
	// JobRecompute is the job that recomputes one salon's aggregates.
	JobRecompute = "recompute-review-aggregates"
)

// createdRoute coalesces a burst of reviews on one salon: the first event
// adds a job delayed by 2 s, and events within the next second are
// deduplicated into it (the delay exceeds the window, so the job starts
// after every coalesced review committed).
var createdRoute = outbox.Route{Event: EventCreated, Module: Module, Queue: queues.QueueAnalytics, Job: JobRecompute,
	JobID: outbox.EventJobID, Dedup: "review-agg-{salonId}", DedupTTL: time.Second, Delay: 2 * time.Second}

// Routes returns the module's outbox routes.
func Routes() []outbox.Route { return []outbox.Route{createdRoute} }
