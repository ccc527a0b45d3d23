package media

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/sevra/atlas/internal/media/storage"
	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/jobq"
)

// Payload is the generate-variants job data as the outbox writes it: the
// MediaUploaded payload plus the outbox metadata (event id, trace, mode).
type Payload struct {
	JobPayload
	outbox.Meta
}

// ParsePayload decodes and validates a generate-variants payload.
func ParsePayload(data []byte) (Payload, error) {
	var p Payload
	if err := json.Unmarshal(data, &p); err != nil {
		return Payload{}, fmt.Errorf("%s payload: %w", JobName, err)
	}
	if p.MediaID <= 0 {
		return Payload{}, fmt.Errorf("%s payload: mediaId %d must be positive", JobName, p.MediaID)
	}
	if err := storage.ValidKey(p.StorageKey); err != nil || !strings.HasPrefix(p.StorageKey, "incoming/") {
		return Payload{}, fmt.Errorf("%s payload: storageKey %.64q must be a key under incoming/", JobName, p.StorageKey)
	}
	switch p.Mode {
	case "", rollout.Async, rollout.Shadow, rollout.Sync:
	default:
		return Payload{}, fmt.Errorf("%s payload: %w", JobName, rollout.ErrInvalidMode)
	}
	return p, nil
}

// Register adds the generate-variants handler to reg, on queue media.
func (s *Service) Register(reg *queues.Registry) {
	reg.Handle(queues.QueueMedia, JobName, s.HandleGenerate)
}

// HandleGenerate is the generate-variants job handler. It reports progress
// through the job; a bad file (ErrPermanent, already recorded on the row)
// fails the job at once; a transient failure is retried, and on the last
// attempt the row is marked failed so it never stays processing. Shadow
// jobs run CompareShadow instead.
func (s *Service) HandleGenerate(ctx context.Context, job *jobq.Job) (any, error) {
	p, err := ParsePayload(job.Data)
	if err != nil {
		return nil, jobq.Unrecoverable(err)
	}
	attempts := max(job.Opts.Attempts, 1)
	final := job.AttemptsMade+1 >= attempts
	if p.Shadow() {
		match, err := s.CompareShadow(ctx, p.MediaID, p.StorageKey, final, "job", job.ID, "event", p.EventID)
		if errors.Is(err, ErrPermanent) {
			return nil, jobq.Unrecoverable(err)
		}
		if err != nil {
			return nil, err
		}
		return map[string]any{"mediaId": p.MediaID, "match": match}, nil
	}
	res, err := s.GenerateVariants(ctx, p.MediaID, p.StorageKey, func(pct int) {
		if err := job.UpdateProgress(ctx, pct); err != nil {
			s.log.DebugContext(ctx, "media: job progress", "job", job.ID, "err", err)
		}
	})
	switch {
	case errors.Is(err, ErrPermanent):
		s.log.WarnContext(ctx, "media job failed permanently", "media_id", p.MediaID, "job", job.ID, "event", p.EventID, "err", err)
		return nil, jobq.Unrecoverable(err)
	case err != nil && final && ctx.Err() == nil:
		reason := fmt.Sprintf("processing failed after %d attempts", attempts)
		if ferr := s.MarkFailed(context.WithoutCancel(ctx), p.MediaID, reason); ferr != nil {
			s.log.ErrorContext(ctx, "media: record failure", "media_id", p.MediaID, "job", job.ID, "err", ferr)
		}
		s.log.ErrorContext(ctx, "media job gave up", "media_id", p.MediaID, "job", job.ID, "event", p.EventID,
			"attempts", attempts, "err", err)
		return nil, err
	case err != nil:
		return nil, err
	}
	s.log.InfoContext(ctx, "media job done", "media_id", p.MediaID, "job", job.ID, "event", p.EventID,
		"variants", len(res.Variants))
	return res, nil
}
