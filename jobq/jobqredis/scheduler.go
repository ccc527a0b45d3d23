package jobqredis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// schedulerFields encodes a Scheduler as the repeat:<id> hash fields
// (without "ic", which the scripts keep).
func schedulerFields(s *jobqdriver.Scheduler) ([]any, error) {
	f := []any{"name", s.Name}
	add := func(k string, v int64) {
		if v != 0 {
			f = append(f, k, itoa(v))
		}
	}
	if s.TZ != "" {
		f = append(f, "tz", s.TZ)
	}
	add("limit", int64(s.Limit))
	if s.Pattern != "" {
		f = append(f, "pattern", s.Pattern)
	}
	add("startDate", s.StartDate)
	add("endDate", s.EndDate)
	add("every", s.Every)
	add("offset", s.Offset)
	opts, err := jobqdriver.MarshalJSON(s.Opts)
	if err != nil {
		return nil, fmt.Errorf("jobqredis: encode scheduler opts: %w", err)
	}
	if string(opts) != "{}" {
		f = append(f, "opts", string(opts))
	}
	if len(s.Data) > 0 && string(s.Data) != "{}" {
		f = append(f, "data", string(s.Data))
	}
	return f, nil
}

// nextMillisOf reads <millis> from a scheduler job id
// "repeat:<schedulerId>:<millis>", falling back to timestamp+delay.
func nextMillisOf(j *jobqdriver.Job, now int64) int64 {
	if i := strings.LastIndexByte(j.ID, ':'); i >= 0 {
		if n, err := strconv.ParseInt(j.ID[i+1:], 10, 64); err == nil {
			return n
		}
	}
	ts := j.Timestamp
	if ts == 0 {
		ts = now
	}
	return ts + j.Delay
}

// withRepeatOpts adds to a scheduler job's opts the keys a Node BullMQ
// 6.7 Worker reads when it takes a scheduler job to add the next one:
// "repeat" (every or pattern, tz, limit, offset, startDate, endDate and
// count, the job's iteration) and "prevMillis" (the run the job is for).
// BullMQ's worker cannot advance a scheduler whose job lacks opts.repeat;
// Go workers ignore both keys.
func withRepeatOpts(j *jobqdriver.Job, s *jobqdriver.Scheduler, millis int64, count int) error {
	rep := map[string]any{"count": count}
	if s.Every > 0 {
		rep["every"] = s.Every
		rep["offset"] = s.Offset
	} else {
		rep["pattern"] = s.Pattern
	}
	if s.TZ != "" {
		rep["tz"] = s.TZ
	}
	if s.Limit > 0 {
		rep["limit"] = s.Limit
	}
	if s.StartDate > 0 {
		rep["startDate"] = s.StartDate
	}
	if s.EndDate > 0 {
		rep["endDate"] = s.EndDate
	}
	b, err := json.Marshal(rep)
	if err != nil {
		return fmt.Errorf("jobqredis: encode repeat opts: %w", err)
	}
	extra := maps.Clone(j.Opts.Extra)
	if extra == nil {
		extra = map[string]json.RawMessage{}
	}
	extra["repeat"] = b
	extra["prevMillis"] = json.RawMessage(itoa(millis))
	j.Opts.Extra = extra
	return nil
}

// UpsertScheduler stores a scheduler and replaces its pending job with
// first, atomically.
func (d *Driver) UpsertScheduler(ctx context.Context, queue string, s jobqdriver.Scheduler, first *jobqdriver.Job, now int64) error {
	if err := d.ensureMeta(ctx, queue); err != nil {
		return err
	}
	if first == nil {
		return fmt.Errorf("jobqredis: upsert scheduler %q: no first job", s.ID)
	}
	fields, err := schedulerFields(&s)
	if err != nil {
		return err
	}
	if first.RepeatJobKey == "" {
		first.RepeatJobKey = s.ID
	}
	next := s.Next
	if next == 0 {
		next = nextMillisOf(first, now)
	}
	if err := withRepeatOpts(first, &s, next, max(s.Iterations, 1)); err != nil {
		return err
	}
	jargs, err := d.jobArgv(first, now)
	if err != nil {
		return err
	}
	args := []any{s.ID, itoa(next), itoa(now), strconv.Itoa(len(fields) / 2)}
	args = append(args, fields...)
	args = append(args, jargs...)
	v, err := d.run(ctx, "scheduler_upsert", queue, args...)
	if err != nil {
		return err
	}
	if arr, ok := v.([]any); ok && len(arr) > 0 && toInt64(arr[0]) == -5 {
		return fmt.Errorf("jobqredis: scheduler %q job: %w", s.ID, jobqdriver.ErrParentMissing)
	}
	return nil
}

// ScheduleNext adds a scheduler's next job (see jobqdriver.Driver).
func (d *Driver) ScheduleNext(ctx context.Context, queue, schedulerID string, next *jobqdriver.Job, now int64) (bool, error) {
	if err := d.checkOpen(); err != nil {
		return false, err
	}
	if next.RepeatJobKey == "" {
		next.RepeatJobKey = schedulerID
	}
	s, err := d.GetScheduler(ctx, queue, schedulerID)
	if errors.Is(err, jobqdriver.ErrJobNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := withRepeatOpts(next, s, nextMillisOf(next, now), s.Iterations+1); err != nil {
		return false, err
	}
	jargs, err := d.jobArgv(next, now)
	if err != nil {
		return false, err
	}
	args := append([]any{schedulerID, itoa(nextMillisOf(next, now)), itoa(now)}, jargs...)
	v, err := d.run(ctx, "scheduler_next", queue, args...)
	if err != nil {
		return false, err
	}
	return toInt64(v) == 1, nil
}

// RemoveScheduler deletes a scheduler and its pending job.
func (d *Driver) RemoveScheduler(ctx context.Context, queue, id string) (bool, error) {
	n, err := d.codeOf(ctx, "scheduler_remove", queue, id)
	return n == 1, err
}

// GetScheduler returns one scheduler or ErrJobNotFound.
func (d *Driver) GetScheduler(ctx context.Context, queue, id string) (*jobqdriver.Scheduler, error) {
	if err := d.checkOpen(); err != nil {
		return nil, err
	}
	pipe := d.client.Pipeline()
	h := pipe.HGetAll(ctx, d.key(queue, "repeat:"+id))
	score := pipe.ZScore(ctx, d.key(queue, "repeat"), id)
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return nil, fmt.Errorf("jobqredis: get scheduler %s/%s: %w", queue, id, err)
	}
	if len(h.Val()) == 0 {
		return nil, fmt.Errorf("jobqredis: scheduler %s/%s: %w", queue, id, jobqdriver.ErrJobNotFound)
	}
	return decodeScheduler(id, h.Val(), int64(score.Val()))
}

// ListSchedulers lists schedulers ordered by next run.
func (d *Driver) ListSchedulers(ctx context.Context, queue string) ([]jobqdriver.Scheduler, error) {
	if err := d.checkOpen(); err != nil {
		return nil, err
	}
	zs, err := d.client.ZRangeWithScores(ctx, d.key(queue, "repeat"), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("jobqredis: list schedulers of %q: %w", queue, err)
	}
	pipe := d.client.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(zs))
	for i, z := range zs {
		cmds[i] = pipe.HGetAll(ctx, d.key(queue, "repeat:"+z.Member.(string)))
	}
	if len(zs) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("jobqredis: list schedulers of %q: %w", queue, err)
		}
	}
	out := make([]jobqdriver.Scheduler, 0, len(zs))
	for i, z := range zs {
		if len(cmds[i].Val()) == 0 {
			continue // legacy repeatable entry
		}
		s, err := decodeScheduler(z.Member.(string), cmds[i].Val(), int64(z.Score))
		if err != nil {
			return nil, err
		}
		out = append(out, *s)
	}
	return out, nil
}

func decodeScheduler(id string, h map[string]string, next int64) (*jobqdriver.Scheduler, error) {
	s := &jobqdriver.Scheduler{
		ID: id, Name: h["name"], Every: atoi64(h["every"]), Pattern: h["pattern"], TZ: h["tz"],
		Limit: int(atoi64(h["limit"])), StartDate: atoi64(h["startDate"]), EndDate: atoi64(h["endDate"]),
		Offset: atoi64(h["offset"]), Iterations: int(atoi64(h["ic"])), Next: next,
	}
	if v, ok := h["data"]; ok {
		s.Data = json.RawMessage(v)
	}
	if v := h["opts"]; v != "" {
		if err := json.Unmarshal([]byte(v), &s.Opts); err != nil {
			return nil, fmt.Errorf("jobqredis: scheduler %q opts: %w", id, err)
		}
	}
	return s, nil
}
