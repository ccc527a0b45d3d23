package seo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/sitemap"
	"github.com/sevra/atlas/jobq"
)

// queuedStates are the states of a rebuild job that has not started.
var queuedStates = []jobq.State{jobq.StateWaiting, jobq.StateDelayed, jobq.StatePrioritized, jobq.StatePaused}

// RebuildOutcome is a rebuild-sitemap job's return value.
type RebuildOutcome struct {
	// Result: "published", "coalesced" (another queued job covers this
	// request) or "shadow" (a side build was compared).
	Result string `json:"result"`
	// CoalescedInto is the queued job that covers this one.
	CoalescedInto string `json:"coalescedInto,omitempty"`
	// Collapsed lists queued rebuild jobs this run covered and removed.
	Collapsed []string       `json:"collapsed,omitempty"`
	Stats     *sitemap.Stats `json:"stats,omitempty"`
	// Match is the shadow comparison's result.
	Match *bool                `json:"match,omitempty"`
	Live  *sitemap.Fingerprint `json:"live,omitempty"`
	Side  *sitemap.Fingerprint `json:"side,omitempty"`
}

// handleRebuild is the rebuild-sitemap job. It is a singleton across
// every process:
//
//   - Running: the job takes the database lease (and the Builder's
//     in-process lock). When another rebuild holds it, the job goes back
//     to delayed for BusyRetry without using an attempt, unless another
//     queued request exists, which will start later and so covers this
//     one: then it completes as "coalesced".
//   - Queued: once it holds the lease and before it reads anything, the
//     job removes every other queued rebuild request (not scheduler
//     jobs): their events committed before they were added, so this
//     run's reads see them.
//
// A shadow job (mode shadow) builds a side generation and compares it
// with the live one instead; shadow and normal jobs never coalesce into
// each other.
func (s *Service) handleRebuild(ctx context.Context, job *jobq.Job) (any, error) {
	var meta outbox.Meta
	if len(job.Data) > 0 {
		if err := json.Unmarshal(job.Data, &meta); err != nil {
			return nil, jobq.Unrecoverable(fmt.Errorf("%s payload: %w", JobRebuild, err))
		}
	}
	var out RebuildOutcome
	err := s.withLease(ctx, func(ctx context.Context) error {
		if meta.Shadow() {
			return s.compareShadow(ctx, job, meta, &out)
		}
		out.Collapsed = s.collapse(ctx, job)
		st, err := s.b.Rebuild(ctx, progressOf(ctx, job))
		if err != nil {
			return err
		}
		out.Result, out.Stats = "published", &st
		return nil
	})
	if errors.Is(err, sitemap.ErrRebuildRunning) {
		if peer := s.queuedPeer(ctx, job, meta.Shadow()); peer != "" {
			return RebuildOutcome{Result: "coalesced", CoalescedInto: peer}, nil
		}
		return nil, jobq.DelayUntil(s.cfg.Now().Add(s.cfg.BusyRetry))
	}
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "rebuild-sitemap done", "job", job.ID, "event", meta.EventID, "result", out.Result,
		"collapsed", len(out.Collapsed))
	return out, nil
}

// queuedRequests lists the queued rebuild requests other than job of the
// same kind (shadow or not). Scheduler jobs are left out: they stand for
// a future run, not for a change already committed.
func (s *Service) queuedRequests(ctx context.Context, job *jobq.Job, shadow bool) ([]*jobq.Job, error) {
	q := s.cfg.Queues.Queue(job.Queue)
	list, err := q.GetJobs(ctx, queuedStates, 0, 999, true)
	if err != nil {
		return nil, err
	}
	var out []*jobq.Job
	for _, j := range list {
		if j.Name != JobRebuild || j.ID == job.ID || j.RepeatJobKey != "" {
			continue
		}
		var m outbox.Meta
		_ = json.Unmarshal(j.Data, &m)
		if m.Shadow() == shadow {
			out = append(out, j)
		}
	}
	return out, nil
}

// queuedPeer returns a queued request that covers job, or "".
func (s *Service) queuedPeer(ctx context.Context, job *jobq.Job, shadow bool) string {
	list, err := s.queuedRequests(ctx, job, shadow)
	if err != nil || len(list) == 0 {
		if err != nil {
			s.log.WarnContext(ctx, "sitemap: list queued rebuilds", "err", err)
		}
		return ""
	}
	return list[0].ID
}

// collapse removes the queued requests this run covers.
func (s *Service) collapse(ctx context.Context, job *jobq.Job) []string {
	list, err := s.queuedRequests(ctx, job, false)
	if err != nil {
		s.log.WarnContext(ctx, "sitemap: list queued rebuilds", "err", err)
		return nil
	}
	q := s.cfg.Queues.Queue(job.Queue)
	var removed []string
	for _, j := range list {
		// A job that became active meanwhile refuses removal and will
		// wait for the lease: harmless.
		if err := q.Remove(ctx, j.ID, false); err == nil {
			removed = append(removed, j.ID)
		}
	}
	return removed
}

// compareShadow builds a side generation, fingerprints it and the live
// one, records match or mismatch, and deletes the side generation.
func (s *Service) compareShadow(ctx context.Context, job *jobq.Job, meta outbox.Meta, out *RebuildOutcome) error {
	if s.cfg.Shadow == nil {
		return jobq.Unrecoverable(errors.New("sitemap shadow run without a recorder"))
	}
	st, gen, err := s.b.BuildSide(ctx, progressOf(ctx, job))
	if err != nil {
		return err
	}
	defer gen.Abort()
	side, err := sitemap.FingerprintDir(gen.Dir(), gen.ID())
	if err != nil {
		return err
	}
	var live sitemap.Fingerprint
	liveID := ""
	if l, err := s.Publisher().LiveContext(ctx); err == nil {
		liveID = l.ID
		if live, err = s.Publisher().Fingerprint(ctx, l); err != nil {
			return err
		}
	} else if !errors.Is(err, sitemap.ErrNoSitemap) {
		return err
	}
	match := s.cfg.Shadow.Record(ctx, rollout.Comparison{Module: Module, Subject: "sitemap",
		IDs: []any{"job", job.ID, "event", meta.EventID, "live", liveID, "side", gen.ID()}, Live: live, Shadow: side,
		Match: live.Equal(side)})
	out.Result, out.Stats, out.Match, out.Live, out.Side = "shadow", &st, &match, &live, &side
	return nil
}

// progressOf reports a rebuild's progress (percent) on the job, at most
// twice a second.
func progressOf(ctx context.Context, job *jobq.Job) func(done, total int64) {
	var last atomic.Int64
	return func(done, total int64) {
		now := time.Now().UnixMilli()
		if total <= 0 || now-last.Load() < 500 && done < total {
			return
		}
		last.Store(now)
		_ = job.UpdateProgress(ctx, done*100/total)
	}
}

// handleRefresh is the seo-refresh job: it invalidates the entity's cache
// entries in this process and requests a sitemap rebuild with an event id
// derived from the job id, so a retry does not request twice.
func (s *Service) handleRefresh(ctx context.Context, job *jobq.Job) (any, error) {
	p, err := ParseSEORefreshPayload(job.Data)
	if err != nil {
		return nil, jobq.Unrecoverable(err)
	}
	var meta outbox.Meta
	_ = json.Unmarshal(job.Data, &meta)
	rebuild, err := s.jobs.SEORefresh(ctx, p.EntityType, p.EntityID)
	if errors.Is(err, ErrUnknownEntity) {
		return nil, jobq.Unrecoverable(err)
	}
	if err != nil {
		return nil, err
	}
	out := map[string]any{"entityType": p.EntityType, "entityId": p.EntityID}
	if rebuild {
		_, ev, err := s.enqueueRebuild(ctx, meta.Mode, "rebuild-"+job.ID)
		if err != nil {
			return nil, err
		}
		out["rebuildEvent"] = ev
	}
	return out, nil
}
