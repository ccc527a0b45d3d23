package geo

import (
	"context"
	"fmt"
	"time"

	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/seo"
	"github.com/sevra/atlas/jobq"
)

// RefreshAll recomputes every city's statistics in one statement (one
// transaction on PostgreSQL, locking the cities in id order like Refresh
// does, so the two never deadlock), then invalidates every city's cached
// answers. It runs whatever the geo module's mode: it writes the values
// the synchronous path would write. It returns the number of cities.
func (s *Service) RefreshAll(ctx context.Context) (int, error) {
	if err := s.st.RefreshCityStats(ctx, s.now()); err != nil {
		return 0, fmt.Errorf("refresh all cities: %w", err)
	}
	// Listed after the refresh: every city it updated is here (a city
	// added since has no cached answer that predates its stats).
	cities, err := s.st.ListCities(ctx)
	if err != nil {
		return 0, fmt.Errorf("refresh all cities: %w", err)
	}
	for _, c := range cities {
		if s.cache == nil {
			break
		}
		if err := s.cache.Invalidate(ctx, seo.EntityCity, c.ID); err != nil {
			s.log.WarnContext(ctx, "cache invalidation after city stats repair", "city", c.ID, "err", err)
		}
	}
	return len(cities), nil
}

func (s *Service) handleRefreshAll(ctx context.Context, job *jobq.Job) (any, error) {
	n, err := s.RefreshAll(ctx)
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "all city stats refreshed", "cities", n, "job", job.ID)
	return map[string]int{"cities": n}, nil
}

// EnsureSchedule upserts the city-stats-repair job scheduler on the
// analytics queue of jobs, adding a refresh-all-city-stats job every every
// (rounded to whole seconds; the first run is at the next multiple of every
// since the Unix epoch, e.g. the top of the hour), or removes it when every
// is 0. Upserting the same schedule again (a restart, several processes
// starting) is harmless: the scheduler id is fixed.
func (s *Service) EnsureSchedule(ctx context.Context, jobs *queues.Producer, every time.Duration) error {
	q := jobs.Queue(queues.QueueAnalytics)
	if every == 0 {
		removed, err := q.RemoveJobScheduler(ctx, RepairSchedulerID)
		if err != nil {
			return fmt.Errorf("remove city stats repair schedule: %w", err)
		}
		s.log.InfoContext(ctx, "city stats repair schedule removed", "removed", removed)
		return nil
	}
	if every < time.Second {
		return fmt.Errorf("city stats repair schedule: every %v: want 0 or at least 1s", every)
	}
	j, err := q.UpsertJobScheduler(ctx, RepairSchedulerID, jobq.Repeat{Every: every.Truncate(time.Second)},
		&jobq.JobTemplate{Name: JobRefreshAll, Data: map[string]string{"source": "schedule"},
			Opts: &jobq.JobOptions{RemoveOnComplete: jobq.KeepFor(7*24*time.Hour, 100)}})
	if err != nil {
		return fmt.Errorf("city stats repair schedule: %w", err)
	}
	s.log.InfoContext(ctx, "city stats repair scheduled", "every", every, "next_job", j.ID)
	return nil
}
