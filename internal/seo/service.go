package seo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/sitemap"
	"github.com/sevra/atlas/internal/store"
	"github.com/sevra/atlas/jobq"
)

// LeaseName is the database lease that makes the rebuild a singleton
// across every Atlas process.
const LeaseName = JobRebuild

// Queues adds jobs and hands out queue handles; *queues.Producer
// implements it.
type Queues interface {
	Add(ctx context.Context, queue, name string, data any, opts *jobq.JobOptions) (*jobq.Job, error)
	Queue(name string) *jobq.Queue
}

// Outbox is what the service needs from the outbox; *outbox.Outbox
// implements it.
type Outbox interface {
	Add(ctx context.Context, tx outbox.Execer, events ...outbox.Event) error
	Publish(ctx context.Context, events ...outbox.Event) ([]outbox.Published, error)
}

// ServiceConfig configures a Service. Zero fields take the stated
// defaults.
type ServiceConfig struct {
	Store   *store.Store
	Builder *sitemap.Builder
	Outbox  Outbox
	Queues  Queues
	// Cache receives invalidations (usually a *CacheHub); nil: none.
	Cache CacheInvalidator
	// Modes are the rollout modes; the service reads sitemap.
	Modes rollout.Modes
	// Shadow records shadow comparisons; required for shadow jobs.
	Shadow rollout.Comparer
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// LeaseTTL is how long the singleton lease lasts without renewal
	// (renewed every third of it); default 60s.
	LeaseTTL time.Duration
	// BusyRetry is how long a rebuild job waits when another holds the
	// lease; default 5s.
	BusyRetry time.Duration
}

// Service is the SEO module: it requests, runs and compares sitemap
// rebuilds and registers the rebuild-sitemap and seo-refresh handlers.
type Service struct {
	cfg  ServiceConfig
	st   *store.Store
	b    *sitemap.Builder
	ob   Outbox
	log  *slog.Logger
	jobs Jobs
}

// NewService returns a service.
func NewService(cfg ServiceConfig) (*Service, error) {
	if cfg.Store == nil || cfg.Builder == nil || cfg.Outbox == nil || cfg.Queues == nil {
		return nil, errors.New("seo service: store, builder, outbox and queues are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = time.Minute
	}
	if cfg.BusyRetry <= 0 {
		cfg.BusyRetry = 5 * time.Second
	}
	return &Service{cfg: cfg, st: cfg.Store, b: cfg.Builder, ob: cfg.Outbox, log: cfg.Logger,
		jobs: Jobs{Builder: cfg.Builder, Cache: cfg.Cache, Logger: cfg.Logger}}, nil
}

// Publisher returns the publisher the builder writes to.
func (s *Service) Publisher() *sitemap.Publisher { return s.b.Publisher() }

// BaseURL returns the validated public base URL.
func (s *Service) BaseURL() sitemap.BaseURL { return s.b.BaseURL() }

// Mode is the sitemap module's rollout mode.
func (s *Service) Mode() rollout.Mode { return s.cfg.Modes.Mode(Module) }

// Register adds the rebuild-sitemap and seo-refresh handlers to reg.
func (s *Service) Register(reg *queues.Registry) {
	reg.Handle(queues.QueueMaintenance, JobRebuild, s.handleRebuild)
	reg.Handle(queues.QueueMaintenance, JobSEORefresh, s.handleRefresh)
}

// RebuildResult answers POST /admin/sitemap/rebuild.
type RebuildResult struct {
	Mode rollout.Mode `json:"mode"`
	// JobID is the job that will do the work (a deduplicated request gets
	// the job it was coalesced into); empty in sync mode.
	JobID   string `json:"job_id,omitempty"`
	EventID string `json:"event_id,omitempty"`
	// Stats of the rebuild done in the request (sync and shadow).
	Stats *sitemap.Stats `json:"stats,omitempty"`
}

// RequestRebuild is the admin trigger. In the sitemap module's sync mode
// it rebuilds in the request; in shadow mode it rebuilds in the request
// and enqueues a shadow job; in async mode it only enqueues. It returns
// sitemap.ErrRebuildRunning when an inline rebuild finds another one running.
func (s *Service) RequestRebuild(ctx context.Context) (RebuildResult, error) {
	mode := s.Mode()
	res := RebuildResult{Mode: mode}
	if mode.Inline() {
		st, err := s.RebuildNow(ctx)
		if err != nil {
			return res, err
		}
		res.Stats = &st
	}
	if mode.Enqueues() {
		job, ev, err := s.enqueueRebuild(ctx, mode, "")
		if err != nil {
			return res, err
		}
		res.JobID, res.EventID = job, ev
	}
	return res, nil
}

// RebuildNow rebuilds and publishes in the caller's goroutine under the
// singleton lease; it returns sitemap.ErrRebuildRunning when another rebuild
// holds it.
func (s *Service) RebuildNow(ctx context.Context) (sitemap.Stats, error) {
	var st sitemap.Stats
	err := s.withLease(ctx, func(ctx context.Context) error {
		var err error
		st, err = s.b.Rebuild(ctx, nil)
		return err
	})
	return st, err
}

// enqueueRebuild writes a EventRebuildRequested event in its own
// transaction and publishes it. eventID, when set, makes the write
// idempotent (a retried job reuses it). It returns the id of the job that
// will do the work (a deduplicated publish reports the job it was
// coalesced into; when the fast path could not publish, the id the route
// gives the event) and the event's id.
func (s *Service) enqueueRebuild(ctx context.Context, mode rollout.Mode, eventID string) (string, string, error) {
	if !mode.Enqueues() {
		mode = rollout.Async
	}
	ev, err := outbox.NewEvent(ctx, EventRebuildRequested, struct{}{}, mode)
	if err != nil {
		return "", "", err
	}
	if eventID != "" {
		ev.ID = eventID
	}
	tx, err := s.st.DB().BeginTx(ctx, nil)
	if err != nil {
		return "", "", fmt.Errorf("request sitemap rebuild: %w", err)
	}
	defer tx.Rollback()
	if err := s.ob.Add(ctx, tx, ev); err != nil {
		return "", "", fmt.Errorf("request sitemap rebuild: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return "", "", fmt.Errorf("request sitemap rebuild: %w", err)
	}
	pub, _ := s.ob.Publish(ctx, ev) // on failure the relay publishes it; logged there
	if len(pub) == 1 && pub[0].JobID != "" {
		return pub[0].JobID, ev.ID, nil
	}
	_, opts, err := rebuildRoute.Build(ev)
	if err != nil {
		return "", "", fmt.Errorf("request sitemap rebuild: %w", err)
	}
	return opts.JobID, ev.ID, nil
}

// RebuildInline is the inline half of sync and shadow modes for a change
// that needs a new sitemap (a salon write): it rebuilds now or, when
// another rebuild holds the lease, enqueues one so the change is not
// lost. It logs its errors instead of returning them: the change itself
// has committed.
func (s *Service) RebuildInline(ctx context.Context) {
	_, err := s.RebuildNow(ctx)
	if errors.Is(err, sitemap.ErrRebuildRunning) {
		if _, _, err := s.enqueueRebuild(ctx, rollout.Async, ""); err != nil {
			s.log.ErrorContext(ctx, "sitemap: enqueue rebuild after a busy inline rebuild", "err", err)
		}
		return
	}
	if err != nil {
		s.log.ErrorContext(ctx, "sitemap: inline rebuild", "err", err)
	}
}

// errLeaseLost cancels a rebuild whose lease could not be renewed.
var errLeaseLost = errors.New("sitemap rebuild lease lost")

// withLease runs fn while holding the singleton lease, renewing it every
// third of LeaseTTL; fn's context is cancelled if the lease is lost, so a
// rebuild that lost it never publishes. It returns sitemap.ErrRebuildRunning when
// another holder has it.
func (s *Service) withLease(ctx context.Context, fn func(context.Context) error) error {
	owner := newOwner()
	ttl := s.cfg.LeaseTTL
	ok, err := s.st.AcquireLease(ctx, LeaseName, owner, ttl, s.cfg.Now())
	if err != nil {
		return err
	}
	if !ok {
		return sitemap.ErrRebuildRunning
	}
	lctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		last := time.Now()
		t := time.NewTicker(ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			ok, err := s.st.RenewLease(context.WithoutCancel(ctx), LeaseName, owner, ttl, s.cfg.Now())
			switch {
			case err == nil && ok:
				last = time.Now()
			case err == nil || time.Since(last) > ttl*2/3:
				cancel(errLeaseLost)
				return
			default:
				s.log.WarnContext(ctx, "sitemap lease renewal", "err", err)
			}
		}
	}()
	err = fn(lctx)
	close(done)
	<-renewed
	if cause := context.Cause(lctx); errors.Is(cause, errLeaseLost) && err != nil {
		err = fmt.Errorf("%w: %w", errLeaseLost, err)
	}
	cancel(nil)
	if rerr := s.st.ReleaseLease(context.WithoutCancel(ctx), LeaseName, owner); rerr != nil {
		s.log.WarnContext(ctx, "sitemap lease release", "err", rerr)
	}
	return err
}

// newOwner returns a random lease owner token.
func newOwner() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
