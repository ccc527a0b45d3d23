package seo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/sevra/atlas/internal/sitemap"
)

// Job names and the entity types seo-refresh accepts. A rebuild is
// requested in one way only, the EventRebuildRequested outbox event (see
// Service and rebuildRoute).
const (
	JobRebuild       = "rebuild-sitemap"
	JobSEORefresh    = "seo-refresh"
	EntitySalon      = "salon"
	EntityCity       = "city"
	EntityPost       = "post"
	maxEntityTypeLen = 32
)

// ErrUnknownEntity is returned by SEORefresh for an entity type the
// sitemap does not list.
var ErrUnknownEntity = errors.New("unknown SEO entity type")

// CacheInvalidator deletes cached renderings of one entity (delete after
// write). The HTTP layer's cache implements it; nil means no cache.
type CacheInvalidator interface {
	Invalidate(ctx context.Context, entityType string, entityID int64) error
}

// Rebuilder is what Jobs needs from a *sitemap.Builder.
type Rebuilder interface {
	Rebuild(ctx context.Context, progress func(done, total int64)) (sitemap.Stats, error)
}

// Jobs holds the job handlers of this package, ready for the queue adapter
// to register.
type Jobs struct {
	Builder Rebuilder
	// Cache may be nil.
	Cache  CacheInvalidator
	Logger *slog.Logger
}

// RebuildSitemap is the rebuild-sitemap job body: a full rebuild,
// idempotent, publishing a new generation or leaving the old one live.
func (j *Jobs) RebuildSitemap(ctx context.Context, progress func(done, total int64)) error {
	if _, err := j.Builder.Rebuild(ctx, progress); err != nil {
		return err
	}
	return nil
}

// SEORefresh is the seo-refresh job body (after VerificationApproved and
// similar changes). It invalidates the entity's cache entry synchronously
// and reports whether a sitemap rebuild should be requested; the Service
// then writes a SitemapRebuildRequested event (coalesced by the outbox
// route's deduplication window). Every listed
// entity type asks for one: whether the entity appeared, disappeared or
// changed, the sitemap's content or lastmod may differ, and the rebuild is
// deduplicated anyway.
func (j *Jobs) SEORefresh(ctx context.Context, entityType string, entityID int64) (bool, error) {
	switch entityType {
	case EntitySalon, EntityCity, EntityPost:
	default:
		return false, fmt.Errorf("%w: %.32q", ErrUnknownEntity, entityType)
	}
	if entityID <= 0 {
		return false, fmt.Errorf("seo refresh %s: id %d must be positive", entityType, entityID)
	}
	if j.Cache != nil {
		if err := j.Cache.Invalidate(ctx, entityType, entityID); err != nil {
			return false, fmt.Errorf("seo refresh %s %d: %w", entityType, entityID, err)
		}
	}
	if j.Logger != nil {
		j.Logger.DebugContext(ctx, "seo refresh", "entity", entityType, "id", entityID)
	}
	return true, nil
}

// SEORefreshPayload is the seo-refresh job payload, {entityType, entityId}.
type SEORefreshPayload struct {
	EntityType string `json:"entityType"`
	EntityID   int64  `json:"entityId"`
}

// ParseSEORefreshPayload decodes and validates a seo-refresh payload.
func ParseSEORefreshPayload(data []byte) (SEORefreshPayload, error) {
	var p SEORefreshPayload
	if err := json.Unmarshal(data, &p); err != nil {
		return SEORefreshPayload{}, fmt.Errorf("seo-refresh payload: %w", err)
	}
	switch {
	case p.EntityType == "" || len(p.EntityType) > maxEntityTypeLen:
		return SEORefreshPayload{}, fmt.Errorf("seo-refresh payload: %w: %.32q", ErrUnknownEntity, p.EntityType)
	case p.EntityID <= 0:
		return SEORefreshPayload{}, fmt.Errorf("seo-refresh payload: entityId %d must be positive", p.EntityID)
	}
	return p, nil
}
