package media

import (
	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/rollout"
)

// The media module's declarations: its rollout module, its event, and the
// route that turns the event into a generate-variants job. The composition
// root (internal/app) collects them; Register adds the handler.
const (
	// Module is the media module's rollout name (ATLAS_MODE_MEDIA).
	Module rollout.Module = "media"
	// EventUploaded {mediaId, storageKey}: an upload is stored and waits
	// for its variants.
	EventUploaded = "MediaUploaded"
	// JobName is the variant job.
	JobName = "generate-variants"
)

// uploadedRoute gives each media item one job, "media-<id>" (BullMQ 6
// refuses ':' in custom ids), so a republished event is a no-op.
var uploadedRoute = outbox.Route{Event: EventUploaded, Module: Module, Queue: queues.QueueMedia, Job: JobName, JobID: "media-{mediaId}"}

// Routes returns the module's outbox routes.
func Routes() []outbox.Route { return []outbox.Route{uploadedRoute} }

// JobID returns the job id of media id's generate-variants job.
func JobID(id int64) string {
	s, err := uploadedRoute.JobIDFor(JobPayload{MediaID: id})
	if err != nil {
		return "" // unreachable: an integer always expands
	}
	return s
}
