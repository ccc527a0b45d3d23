package salon

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/seo"
	"github.com/sevra/atlas/internal/store"
)

// Outbox is what the service needs from the outbox; *outbox.Outbox
// implements it.
type Outbox interface {
	Add(ctx context.Context, tx outbox.Execer, events ...outbox.Event) error
	Publish(ctx context.Context, events ...outbox.Event) ([]outbox.Published, error)
}

// CacheInvalidator deletes cached renderings of one entity (delete after
// write); *seo.CacheHub implements it.
type CacheInvalidator interface {
	Invalidate(ctx context.Context, entityType string, entityID int64) error
}

// CityRefresher recomputes a city's statistics in process (geo's sync and
// shadow modes); *geo.Service implements it.
type CityRefresher interface {
	Refresh(ctx context.Context, cityID int64) error
}

// SitemapRebuilder rebuilds the sitemap in the request, for the sitemap
// module's sync and shadow modes; *seo.Service implements it.
type SitemapRebuilder interface {
	// RebuildInline rebuilds now or, when another rebuild is running,
	// requests one so the change is not lost; it logs its own errors.
	RebuildInline(ctx context.Context)
}

// Config configures a Service. Zero fields take the stated defaults.
type Config struct {
	// Store is the database the service writes. Required.
	Store *store.Store
	// Outbox writes each change's events in its transaction and publishes
	// them after the commit. Required.
	Outbox Outbox
	// Sitemap rebuilds in the request when the sitemap module runs inline
	// (sync and shadow modes). Required.
	Sitemap SitemapRebuilder
	// Cache receives invalidations (usually a *seo.CacheHub); nil: none.
	Cache CacheInvalidator
	// Cities refreshes city statistics when geo runs inline (PATCH salon);
	// nil: none.
	Cities CityRefresher
	// Modes are the rollout modes; the service reads sitemap and geo.
	Modes rollout.Modes
	// Logger; default discards.
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Service writes salons: PATCH with slug history, and verification
// approval. Each write commits with its outbox events, then invalidates
// the salon's cache entries and publishes.
type Service struct {
	cfg Config
	st  *store.Store
	ob  Outbox
	log *slog.Logger
}

// NewService returns a service.
func NewService(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Outbox == nil || cfg.Sitemap == nil {
		return nil, errors.New("salon service: store, outbox and sitemap are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg, st: cfg.Store, ob: cfg.Outbox, log: cfg.Logger}, nil
}

// sitemapMode is the sitemap module's rollout mode.
func (s *Service) sitemapMode() rollout.Mode { return s.cfg.Modes.Mode(seo.Module) }

// invalidate deletes a salon's cache entries after its write committed.
func (s *Service) invalidate(ctx context.Context, id int64) {
	if s.cfg.Cache == nil {
		return
	}
	if err := s.cfg.Cache.Invalidate(ctx, seo.EntitySalon, id); err != nil {
		s.log.WarnContext(ctx, "cache invalidation", "entity", seo.EntitySalon, "id", id, "err", err)
	}
}
