package otp

import (
	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/rollout"
)

// The OTP module's declarations: its rollout module, its event and the
// route that turns the event into a send-otp job. The composition root
// (internal/app) collects them; Register adds the handler.
const (
	// Module is the module's rollout name (ATLAS_MODE_SMS).
	Module rollout.Module = "sms"
	// EventRequested {challengeId}: a login code must be sent.
	EventRequested = "OTPRequested"
	// JobSend is the job that sends one challenge's code.
	JobSend = "send-otp"
)

// requestedRoute gives each challenge one job, "otp-<challengeId>": a
// republished event is a no-op, and the job's retries resend the same
// code.
var requestedRoute = outbox.Route{Event: EventRequested, Module: Module, Queue: queues.QueueNotifications,
	Job: JobSend, JobID: "otp-{challengeId}"}

// Routes returns the module's outbox routes.
func Routes() []outbox.Route { return []outbox.Route{requestedRoute} }

// JobID returns the send-otp job id of challenge id.
func JobID(challengeID string) string {
	s, err := requestedRoute.JobIDFor(Payload{ChallengeID: challengeID})
	if err != nil {
		return ""
	}
	return s
}
