package seo

import (
	"time"

	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/rollout"
)

// The sitemap module's declarations: its rollout module, its events and
// the routes that turn them into maintenance jobs. The composition root
// (internal/app) collects them; Register adds the handlers.
const (
	// Module is the sitemap module's rollout name (ATLAS_MODE_SITEMAP).
	Module rollout.Module = "sitemap"
	// EventRebuildRequested {}: an admin, a salon write or a refresh asked
	// for a sitemap rebuild.
	EventRebuildRequested = "SitemapRebuildRequested"
	// EventVerificationApproved {entityType, entityId}: a verification
	// passed; the entity's SEO (cache, sitemap) must be refreshed.
	EventVerificationApproved = "VerificationApproved"
)

// rebuildRoute gives each request its own job id (a fixed id kept for an
// hour after completion would swallow later requests) and coalesces
// requests within 10 s into one job that starts 15 s after the first; the
// singleton itself is the Service's lease.
var rebuildRoute = outbox.Route{Event: EventRebuildRequested, Module: Module, Queue: queues.QueueMaintenance,
	Job: JobRebuild, JobID: outbox.EventJobID, Dedup: JobRebuild, DedupTTL: 10 * time.Second, Delay: 15 * time.Second}

// approvedRoute runs one seo-refresh per approval.
var approvedRoute = outbox.Route{Event: EventVerificationApproved, Module: Module, Queue: queues.QueueMaintenance,
	Job: JobSEORefresh, JobID: outbox.EventJobID}

// Routes returns the module's outbox routes.
func Routes() []outbox.Route { return []outbox.Route{rebuildRoute, approvedRoute} }
