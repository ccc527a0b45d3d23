// Package geo keeps the per-city statistics (salon count, review count,
// average rating) up to date: the refresh-city-stats job and its shadow
// comparison.
package geo

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/seo"
	"github.com/sevra/atlas/internal/store"
	"github.com/sevra/atlas/jobq"
)

// Store is what the service needs from the database; *store.Store
// implements it.
type Store interface {
	RefreshCityStats(ctx context.Context, now time.Time, ids ...int64) error
	CityStatsFor(ctx context.Context, id int64) (stored, computed store.CityStats, err error)
	ListCities(ctx context.Context) ([]store.City, error)
}

// Service refreshes city statistics.
type Service struct {
	st     Store
	shadow rollout.Comparer
	cache  CacheInvalidator
	log    *slog.Logger
	now    func() time.Time
}

// NewService returns a service; shadow may be nil (no shadow comparisons
// are recorded), log may be nil.
func NewService(st Store, shadow rollout.Comparer, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{st: st, shadow: shadow, log: log, now: time.Now}
}

// Refresh recomputes city id's statistics (the sync path, and the job in
// async mode).
func (s *Service) Refresh(ctx context.Context, cityID int64) error {
	if err := s.st.RefreshCityStats(ctx, s.now(), cityID); err != nil {
		return fmt.Errorf("refresh city %d: %w", cityID, err)
	}
	if s.cache != nil {
		if err := s.cache.Invalidate(ctx, seo.EntityCity, cityID); err != nil {
			s.log.WarnContext(ctx, "cache invalidation after city stats", "city", cityID, "err", err)
		}
	}
	return nil
}

// CacheInvalidator deletes cached answers about one entity;
// *seo.CacheHub implements it.
type CacheInvalidator interface {
	Invalidate(ctx context.Context, entityType string, entityID int64) error
}

// SetCache makes Refresh invalidate the city's cached answers (nil:
// none). Call it at wiring, before the service is used.
func (s *Service) SetCache(c CacheInvalidator) { s.cache = c }

// Payload is the refresh-city-stats job data.
type Payload struct {
	CityID int64 `json:"cityId"`
	outbox.Meta
}

// ParsePayload decodes and validates a refresh-city-stats payload.
func ParsePayload(data []byte) (Payload, error) {
	var p Payload
	if err := json.Unmarshal(data, &p); err != nil {
		return Payload{}, fmt.Errorf("refresh-city-stats payload: %w", err)
	}
	if p.CityID <= 0 {
		return Payload{}, fmt.Errorf("refresh-city-stats payload: cityId %d must be positive", p.CityID)
	}
	return p, nil
}

// Register adds the geo job handlers to reg.
func (s *Service) Register(reg *queues.Registry) {
	reg.Handle(queues.QueueAnalytics, JobRefresh, s.handleRefresh)
	reg.Handle(queues.QueueAnalytics, JobRefreshAll, s.handleRefreshAll)
}

func (s *Service) handleRefresh(ctx context.Context, job *jobq.Job) (any, error) {
	p, err := ParsePayload(job.Data)
	if err != nil {
		return nil, jobq.Unrecoverable(err)
	}
	if p.Shadow() {
		return s.compare(ctx, job.ID, p)
	}
	if err := s.Refresh(ctx, p.CityID); err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "city stats refreshed", "city", p.CityID, "job", job.ID, "event", p.EventID)
	return map[string]int64{"cityId": p.CityID}, nil
}

// compare is the shadow run: it computes the city's statistics without
// writing and compares them with what the synchronous path stored.
func (s *Service) compare(ctx context.Context, jobID string, p Payload) (any, error) {
	if s.shadow == nil {
		return nil, nil
	}
	match, err := s.shadow.Compare(ctx, Module, fmt.Sprintf("city %d", p.CityID),
		[]any{"city", p.CityID, "job", jobID, "event", p.EventID},
		func(ctx context.Context) (any, any, bool, error) {
			stored, computed, err := s.st.CityStatsFor(ctx, p.CityID)
			if err != nil {
				return nil, nil, false, err
			}
			return stored, computed, stored.SalonCount == computed.SalonCount && stored.ReviewCount == computed.ReviewCount &&
				math.Abs(stored.AvgRating-computed.AvgRating) < 1e-9, nil
		})
	if err != nil {
		return nil, err
	}
	return map[string]any{"cityId": p.CityID, "match": match}, nil
}
