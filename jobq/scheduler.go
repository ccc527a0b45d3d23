package jobq

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// Repeat says when a job scheduler fires: every Every, or on the cron
// Pattern (5 fields, or 6 with leading seconds) in time zone TZ.
type Repeat struct {
	Every   time.Duration
	Pattern string
	TZ      string // IANA name; default UTC
	// Limit stops the scheduler after that many jobs (0 = no limit).
	Limit int
	// StartDate and EndDate bound the runs (zero = unbounded).
	StartDate, EndDate time.Time
}

// JobTemplate is the job a scheduler creates on every tick.
type JobTemplate struct {
	Name string
	Data any
	// Opts apply to each job (JobID, Delay and Parent are ignored).
	Opts *JobOptions
}

// JobScheduler describes a stored job scheduler.
type JobScheduler struct {
	ID         string
	Name       string
	Every      time.Duration
	Pattern    string
	TZ         string
	Limit      int
	Iterations int
	Next       time.Time
	// Paused reports that the scheduler has no pending job (see
	// PauseJobScheduler); GetJobSchedulers fills it, GetJobScheduler too.
	Paused bool
}

// cronParser is the one cron parser of jobq; ParseCron exposes it.
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// nextRun returns the first run strictly after prev (prev 0: the first run
// at or after now), or 0 when the schedule has ended.
func nextRun(s *jobqdriver.Scheduler, prev, now int64) (int64, error) {
	var next int64
	switch {
	case s.Every > 0:
		if prev == 0 {
			// The first run is aligned to a multiple of Every, so producers
			// that upsert the same scheduler at different instants compute
			// the same run (and job id) instead of starting extra chains.
			next = (now + s.Every - 1) / s.Every * s.Every
		} else {
			next = prev + s.Every
			if next < now {
				// Missed ticks are skipped: the next run is the first slot
				// at or after now, keeping the phase (as BullMQ does).
				next += (now - next + s.Every - 1) / s.Every * s.Every
			}
		}
	case s.Pattern != "":
		sched, loc, err := parseCron(s.Pattern, s.TZ)
		if err != nil {
			return 0, err
		}
		from := now
		if prev > from {
			from = prev
		}
		// cron's Next is strictly after its argument; a pattern that
		// never fires (30 February) gives the zero time.
		t := sched.Next(time.UnixMilli(from).In(loc))
		if t.IsZero() {
			return 0, fmt.Errorf("%w: cron pattern %q never fires", ErrInvalidOption, s.Pattern)
		}
		next = t.UnixMilli()
	default:
		return 0, fmt.Errorf("%w: scheduler needs every or pattern", ErrInvalidOption)
	}
	if s.StartDate > 0 && next < s.StartDate {
		if s.Every > 0 {
			next = s.StartDate
		} else {
			sched, loc, _ := parseCron(s.Pattern, s.TZ)
			next = sched.Next(time.UnixMilli(s.StartDate - 1).In(loc)).UnixMilli()
		}
	}
	if s.EndDate > 0 && next > s.EndDate {
		return 0, nil
	}
	if s.Limit > 0 && s.Iterations >= s.Limit {
		return 0, nil
	}
	return next, nil
}

// ParseCron parses a cron pattern exactly as job schedulers do (see
// Repeat), so a pattern ParseCron accepts is one UpsertJobScheduler
// accepts. A pattern has 5 fields (minute, hour, day of month, month, day
// of week), or 6 with leading seconds, or is a descriptor such as
// "@daily" or "@every 1h". tz is an IANA time zone name; "" means UTC.
// A pattern that never fires ("0 0 30 2 *") is refused too. Errors wrap
// ErrInvalidOption.
//
// next returns the first run strictly after its argument, in tz.
func ParseCron(pattern, tz string) (next func(after time.Time) time.Time, err error) {
	sched, loc, err := parseCron(pattern, tz)
	if err != nil {
		return nil, err
	}
	return func(after time.Time) time.Time { return sched.Next(after.In(loc)) }, nil
}

// parseCron is ParseCron, returning the schedule and the location.
func parseCron(pattern, tz string) (cron.Schedule, *time.Location, error) {
	loc := time.UTC
	if tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: time zone %q: %v", ErrInvalidOption, tz, err)
		}
		loc = l
	}
	sched, err := cronParser.Parse(pattern)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: cron pattern %q: %v", ErrInvalidOption, pattern, err)
	}
	if sched.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, loc)).IsZero() {
		// robfig/cron searches five years ahead; a pattern with no run in
		// that span (30 February) never fires.
		return nil, nil, fmt.Errorf("%w: cron pattern %q never fires", ErrInvalidOption, pattern)
	}
	return sched, loc, nil
}

// schedulerJob builds the job a scheduler adds for the run at millis.
func schedulerJob(d jobqdriver.Driver, queue string, s *jobqdriver.Scheduler, millis, now int64) *jobqdriver.Job {
	opts := s.Opts
	opts.JobID = fmt.Sprintf("repeat:%s:%d", s.ID, millis)
	opts.RepeatJobKey = s.ID
	delay := millis - now
	if delay < 0 {
		delay = 0
	}
	opts.Delay = delay
	return &jobqdriver.Job{
		Queue: queue, ID: opts.JobID, Name: s.Name, Data: s.Data, Opts: opts,
		Timestamp: now, Delay: delay, Priority: opts.Priority, RepeatJobKey: s.ID,
	}
}

// UpsertJobScheduler creates or replaces the scheduler id and returns the
// first job it scheduled. Many producers may upsert the same scheduler:
// each tick still yields exactly one job.
func (q *Queue) UpsertJobScheduler(ctx context.Context, id string, r Repeat, tmpl *JobTemplate) (*Job, error) {
	if id == "" {
		return nil, fmt.Errorf("%w: scheduler id is empty", ErrInvalidOption)
	}
	if (r.Every > 0) == (r.Pattern != "") {
		return nil, fmt.Errorf("%w: scheduler %s needs exactly one of every and pattern", ErrInvalidOption, id)
	}
	if r.Pattern != "" {
		if _, _, err := parseCron(r.Pattern, r.TZ); err != nil {
			return nil, err
		}
	}
	if tmpl == nil {
		tmpl = &JobTemplate{}
	}
	name := tmpl.Name
	if name == "" {
		name = id
	}
	o := mergeDefaults(tmpl.Opts, q.cfg.DefaultJobOptions)
	if o != nil {
		c := *o
		c.JobID, c.Delay, c.Parent = "", 0, nil
		o = &c
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	data, err := encodeData(tmpl.Data)
	if err != nil {
		return nil, err
	}
	now := q.cfg.Clock().UnixMilli()
	base := toDriver(q.drv, q.name, name, data, o, q.cfg.Clock())
	s := jobqdriver.Scheduler{
		ID: id, Name: name, Every: r.Every.Milliseconds(), Pattern: r.Pattern, TZ: r.TZ,
		Limit: r.Limit, Data: data, Opts: base.Opts,
	}
	if !r.StartDate.IsZero() {
		s.StartDate = r.StartDate.UnixMilli()
	}
	if !r.EndDate.IsZero() {
		s.EndDate = r.EndDate.UnixMilli()
	}
	next, err := nextRun(&s, 0, now)
	if err != nil {
		return nil, err
	}
	if next == 0 {
		return nil, fmt.Errorf("%w: scheduler %s has no future run", ErrInvalidOption, id)
	}
	s.Next = next
	first := schedulerJob(q.drv, q.name, &s, next, now)
	if err := q.drv.UpsertScheduler(ctx, q.name, s, first, now); err != nil {
		return nil, fmt.Errorf("jobq: upsert scheduler %s: %w", id, err)
	}
	return fromDriver(q.drv, first), nil
}

// RemoveJobScheduler deletes a scheduler and its pending job; it reports
// whether the scheduler existed.
func (q *Queue) RemoveJobScheduler(ctx context.Context, id string) (bool, error) {
	ok, err := q.drv.RemoveScheduler(ctx, q.name, id)
	return ok, q.wrap("remove scheduler "+id, err)
}

// GetJobScheduler returns one scheduler, or ErrJobNotFound.
func (q *Queue) GetJobScheduler(ctx context.Context, id string) (*JobScheduler, error) {
	s, err := q.drv.GetScheduler(ctx, q.name, id)
	if err != nil {
		return nil, q.wrap("get scheduler "+id, err)
	}
	js := schedulerInfo(*s)
	if js.Paused, err = q.schedulerPaused(ctx, s.ID, s.Next); err != nil {
		return nil, err
	}
	return &js, nil
}

// GetJobSchedulers lists the queue's schedulers by next run.
func (q *Queue) GetJobSchedulers(ctx context.Context) ([]JobScheduler, error) {
	ss, err := q.drv.ListSchedulers(ctx, q.name)
	if err != nil {
		return nil, q.wrap("list schedulers", err)
	}
	out := make([]JobScheduler, len(ss))
	for i, s := range ss {
		out[i] = schedulerInfo(s)
		if out[i].Paused, err = q.schedulerPaused(ctx, s.ID, s.Next); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func schedulerInfo(s jobqdriver.Scheduler) JobScheduler {
	return JobScheduler{
		ID: s.ID, Name: s.Name, Every: time.Duration(s.Every) * time.Millisecond,
		Pattern: s.Pattern, TZ: s.TZ, Limit: s.Limit, Iterations: s.Iterations, Next: msTime(s.Next),
	}
}

// scheduleNext is called by the worker that takes a scheduler's job: it
// adds the following run's job.
func scheduleNext(ctx context.Context, d jobqdriver.Driver, j *jobqdriver.Job, now int64) error {
	s, err := d.GetScheduler(ctx, j.Queue, j.RepeatJobKey)
	if err != nil {
		if errors.Is(err, jobqdriver.ErrJobNotFound) {
			return nil
		}
		return err
	}
	// The run this job was created for is the last part of its id.
	prev := s.Next
	if i := strings.LastIndexByte(j.ID, ':'); i >= 0 {
		if ms, perr := strconv.ParseInt(j.ID[i+1:], 10, 64); perr == nil {
			prev = ms
		}
	}
	if prev != s.Next {
		// A superseded job (an upsert or another run moved the schedule
		// on): only the scheduler's current job continues the chain, or
		// two interleaved chains would both live on.
		return nil
	}
	s.Iterations++
	next, err := nextRun(s, prev, now)
	if err != nil || next == 0 {
		return err
	}
	_, err = d.ScheduleNext(ctx, j.Queue, s.ID, schedulerJob(d, j.Queue, s, next, now), now)
	return err
}
