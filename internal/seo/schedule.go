package seo

import (
	"context"
	"fmt"

	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/jobq"
)

// Nightly rebuild defaults.
const (
	NightlySchedulerID = "nightly-sitemap"
	DefaultSchedule    = "0 3 * * *"
	DefaultScheduleTZ  = "Asia/Tehran"
)

// Schedule is the nightly rebuild's cron pattern and time zone; an empty
// Pattern disables it.
type Schedule struct {
	Pattern string
	TZ      string
}

// EnsureSchedule upserts the nightly-sitemap job scheduler on the
// maintenance queue, or removes it when the pattern is empty. Upserting
// the same schedule again (a restart, or several processes starting) is
// a no-op: the scheduler id is fixed and its next job's id derives from
// the next run time. The scheduled job is an ordinary rebuild-sitemap
// job, subject to the same lease and coalescing.
func (s *Service) EnsureSchedule(ctx context.Context, sch Schedule) error {
	q := s.cfg.Queues.Queue(queues.QueueMaintenance)
	if sch.Pattern == "" {
		removed, err := q.RemoveJobScheduler(ctx, NightlySchedulerID)
		if err != nil {
			return fmt.Errorf("remove sitemap schedule: %w", err)
		}
		s.log.InfoContext(ctx, "nightly sitemap rebuild disabled", "removed", removed)
		return nil
	}
	j, err := q.UpsertJobScheduler(ctx, NightlySchedulerID, jobq.Repeat{Pattern: sch.Pattern, TZ: sch.TZ},
		&jobq.JobTemplate{Name: JobRebuild, Data: map[string]string{"source": "schedule"}})
	if err != nil {
		return fmt.Errorf("sitemap schedule: %w", err)
	}
	s.log.InfoContext(ctx, "nightly sitemap rebuild scheduled", "pattern", sch.Pattern, "tz", sch.TZ, "next_job", j.ID)
	return nil
}
