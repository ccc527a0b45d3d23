package views

import (
	"time"

	"github.com/sevra/atlas/internal/rollout"
)

// The views module's declarations: its rollout module, its job and the
// job scheduler that runs it. The composition root (internal/app)
// collects them; Register adds the handler.
//
// The module has no event and no outbox route, so it declares no
// Routes(): a view is a signal, not an event. Losing one (Redis down, a
// process crash with the in-process buffer) is acceptable and counted in
// atlas_views_dropped_total; the flush is driven by a schedule, not by
// each view.
const (
	// Module is the views module's rollout name (ATLAS_MODE_VIEWS).
	Module rollout.Module = "views"
	// JobFlush is the job (queue analytics) that applies buffered views
	// to posts.view_count.
	JobFlush = "flush-post-views"
	// SchedulerID is the id of the job scheduler that adds JobFlush.
	SchedulerID = "flush-post-views"
	// DefaultFlushEvery is how often the scheduler flushes by default.
	DefaultFlushEvery = 10 * time.Second
)
