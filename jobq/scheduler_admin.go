package jobq

import (
	"context"
	"errors"
	"fmt"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// schedulerJobID is the id of a scheduler's job for the run at millis.
func schedulerJobID(id string, millis int64) string { return fmt.Sprintf("repeat:%s:%d", id, millis) }

// RunJobSchedulerNow adds one job now from scheduler id's template (name,
// data and options), outside its schedule: the pending run stays as it is
// and the schedule is not advanced. The job gets a generated id and no
// repeat key, so no worker (Go or BullMQ) treats it as part of the chain.
func (q *Queue) RunJobSchedulerNow(ctx context.Context, id string) (*Job, error) {
	s, err := q.drv.GetScheduler(ctx, q.name, id)
	if err != nil {
		return nil, q.wrap("run scheduler "+id, err)
	}
	now := q.cfg.Clock()
	j := schedulerJob(q.drv, q.name, s, now.UnixMilli(), now.UnixMilli())
	j.ID, j.Opts.JobID, j.RepeatJobKey, j.Opts.RepeatJobKey = "", "", "", ""
	res, err := q.drv.Add(ctx, q.name, []*jobqdriver.Job{j}, now.UnixMilli())
	if err != nil {
		return nil, q.wrap("run scheduler "+id, err)
	}
	j.ID = res[0].ID
	return fromDriver(q.drv, j), nil
}

// PauseJobScheduler stops scheduler id by removing its pending job; the
// scheduler itself is kept, shows as paused in GetJobSchedulers, and
// ResumeJobScheduler starts it again. It reports false when the scheduler
// was already paused. A pending job that a worker holds right now cannot
// be removed (ErrJobActive).
func (q *Queue) PauseJobScheduler(ctx context.Context, id string) (bool, error) {
	s, err := q.drv.GetScheduler(ctx, q.name, id)
	if err != nil {
		return false, q.wrap("pause scheduler "+id, err)
	}
	err = q.drv.Remove(ctx, q.name, schedulerJobID(id, s.Next), false)
	if errors.Is(err, ErrJobNotFound) {
		return false, nil
	}
	return err == nil, q.wrap("pause scheduler "+id, err)
}

// ResumeJobScheduler schedules the next run of a paused scheduler from
// now; on a running scheduler it changes nothing and reports false.
func (q *Queue) ResumeJobScheduler(ctx context.Context, id string) (bool, error) {
	s, err := q.drv.GetScheduler(ctx, q.name, id)
	if err != nil {
		return false, q.wrap("resume scheduler "+id, err)
	}
	if paused, err := q.schedulerPaused(ctx, s.ID, s.Next); err != nil || !paused {
		return false, err
	}
	now := q.cfg.Clock().UnixMilli()
	next, err := nextRun(s, 0, now)
	if err != nil {
		return false, err
	}
	if next == 0 {
		return false, fmt.Errorf("%w: scheduler %s has no future run", ErrInvalidOption, id)
	}
	s.Next = next
	if err := q.drv.UpsertScheduler(ctx, q.name, *s, schedulerJob(q.drv, q.name, s, next, now), now); err != nil {
		return false, q.wrap("resume scheduler "+id, err)
	}
	return true, nil
}

// schedulerPaused reports whether the scheduler's pending job is missing.
func (q *Queue) schedulerPaused(ctx context.Context, id string, next int64) (bool, error) {
	st, err := q.drv.JobState(ctx, q.name, schedulerJobID(id, next))
	if err != nil {
		return false, q.wrap("scheduler state "+id, err)
	}
	return State(st) == StateUnknown, nil
}
