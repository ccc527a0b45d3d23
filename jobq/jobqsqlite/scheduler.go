package jobqsqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

const schedulerCols = `id, name, every, pattern, tz, lim, start_date, end_date, offs, ic, next, data, opts`

func scanScheduler(s scanner) (*jobqdriver.Scheduler, error) {
	var sc jobqdriver.Scheduler
	var data, opts []byte
	if err := s.Scan(&sc.ID, &sc.Name, &sc.Every, &sc.Pattern, &sc.TZ, &sc.Limit, &sc.StartDate, &sc.EndDate,
		&sc.Offset, &sc.Iterations, &sc.Next, &data, &opts); err != nil {
		return nil, err
	}
	sc.Data = raw(data)
	if len(opts) > 0 {
		if err := json.Unmarshal(opts, &sc.Opts); err != nil {
			return nil, fmt.Errorf("jobqsqlite: scheduler %s opts: %w", sc.ID, err)
		}
	}
	return &sc, nil
}

// runAt is the time a scheduler job is due: the millis in its id
// "repeat:<id>:<millis>", else its timestamp plus delay.
func runAt(j *jobqdriver.Job, now int64) int64 {
	if i := strings.LastIndexByte(j.ID, ':'); i >= 0 {
		if ms, err := strconv.ParseInt(j.ID[i+1:], 10, 64); err == nil {
			return ms
		}
	}
	ts := j.Timestamp
	if ts == 0 {
		ts = now
	}
	return ts + j.Delay
}

// UpsertScheduler stores a scheduler (iteration count 1 when first is
// given) and replaces its pending delayed job with first, atomically.
func (d *Driver) UpsertScheduler(ctx context.Context, queue string, s jobqdriver.Scheduler, first *jobqdriver.Job, now int64) error {
	opts, err := jobqdriver.MarshalJSON(s.Opts)
	if err != nil {
		return fmt.Errorf("jobqsqlite: encode scheduler opts: %w", err)
	}
	orig := saveJobs([]*jobqdriver.Job{first})
	return d.write(ctx, func(t *wtx) error {
		restoreJobs(orig)
		first := first // reset on every run
		pending, err := t.strings(`SELECT id FROM jobs WHERE queue = ? AND rjk = ? AND state = 'delayed'`, queue, s.ID)
		if err != nil {
			return err
		}
		for _, id := range pending {
			if _, err := t.removeJob(queue, id, now, false); err != nil {
				return err
			}
		}
		next, ic := s.Next, s.Iterations
		// When the scheduler's current run was already promoted or taken
		// (not delayed any more), its worker schedules the run after it:
		// adding first as well would give two jobs for one tick (e.g.
		// several producers upserting the same "every" scheduler at once).
		var storedNext int64
		var storedIC int
		found, err := t.row(`SELECT next, ic FROM schedulers WHERE queue = ? AND id = ?`, []any{queue, s.ID}, &storedNext, &storedIC)
		if err != nil {
			return err
		}
		if found && first != nil {
			var state string
			running, err := t.row(`SELECT state FROM jobs WHERE queue = ? AND id = ?`,
				[]any{queue, "repeat:" + s.ID + ":" + itoa(storedNext)}, &state)
			if err != nil {
				return err
			}
			if running && state != jobqdriver.StateDelayed {
				first, next, ic = nil, storedNext, storedIC
			}
		}
		if first != nil {
			if first.RepeatJobKey == "" {
				first.RepeatJobKey = s.ID
			}
			if _, err := t.addJob(queue, first, now, false); err != nil {
				return err
			}
			if next == 0 {
				next = runAt(first, now)
			}
			ic = 1
		}
		_, err = t.exec(`INSERT INTO schedulers (queue, id, name, every, pattern, tz, lim, start_date, end_date, offs, ic, next, data, opts)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (queue, id) DO UPDATE SET name = excluded.name, every = excluded.every, pattern = excluded.pattern,
			tz = excluded.tz, lim = excluded.lim, start_date = excluded.start_date, end_date = excluded.end_date,
			offs = excluded.offs, ic = excluded.ic, next = excluded.next, data = excluded.data, opts = excluded.opts`,
			queue, s.ID, s.Name, s.Every, s.Pattern, s.TZ, s.Limit, s.StartDate, s.EndDate, s.Offset, ic, next,
			nullJSON(s.Data), string(opts))
		return err
	})
}

// ScheduleNext adds the scheduler's next job when the scheduler exists,
// the job's run time is later than the stored next run and no job with
// the same id exists; it then stores the new next run and bumps the
// iteration count. It reports whether the job was added.
func (d *Driver) ScheduleNext(ctx context.Context, queue, schedulerID string, next *jobqdriver.Job, now int64) (bool, error) {
	var added bool
	orig := saveJobs([]*jobqdriver.Job{next})
	err := d.write(ctx, func(t *wtx) error {
		restoreJobs(orig)
		added = false
		var stored int64
		found, err := t.row(`SELECT next FROM schedulers WHERE queue = ? AND id = ?`, []any{queue, schedulerID}, &stored)
		if err != nil || !found {
			return err
		}
		at := runAt(next, now)
		if at <= stored {
			return nil
		}
		if next.RepeatJobKey == "" {
			next.RepeatJobKey = schedulerID
		}
		r, err := t.addJob(queue, next, now, false)
		if err != nil {
			return err
		}
		if r.Duplicate || r.DeduplicatedBy != "" {
			return nil
		}
		if _, err := t.exec(`UPDATE schedulers SET next = ?, ic = ic + 1 WHERE queue = ? AND id = ?`,
			at, queue, schedulerID); err != nil {
			return err
		}
		added = true
		return nil
	})
	return added, err
}

// RemoveScheduler deletes a scheduler and its pending delayed job; it
// reports whether the scheduler existed.
func (d *Driver) RemoveScheduler(ctx context.Context, queue, id string) (bool, error) {
	var existed bool
	err := d.write(ctx, func(t *wtx) error {
		n, err := t.execN(`DELETE FROM schedulers WHERE queue = ? AND id = ?`, queue, id)
		if err != nil {
			return err
		}
		existed = n > 0
		pending, err := t.strings(`SELECT id FROM jobs WHERE queue = ? AND rjk = ? AND state = 'delayed'`, queue, id)
		if err != nil {
			return err
		}
		for _, jid := range pending {
			if _, err := t.removeJob(queue, jid, 0, false); err != nil {
				return err
			}
		}
		return nil
	})
	return existed, err
}

// GetScheduler returns one scheduler or ErrJobNotFound.
func (d *Driver) GetScheduler(ctx context.Context, queue, id string) (*jobqdriver.Scheduler, error) {
	if err := d.readable(); err != nil {
		return nil, err
	}
	s, err := scanScheduler(d.rdb.QueryRowContext(ctx, `SELECT `+schedulerCols+` FROM schedulers WHERE queue = ? AND id = ?`, queue, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("jobqsqlite: scheduler %s: %w", id, jobqdriver.ErrJobNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("jobqsqlite: scheduler %s: %w", id, err)
	}
	return s, nil
}

// ListSchedulers lists the queue's schedulers ordered by next run.
func (d *Driver) ListSchedulers(ctx context.Context, queue string) ([]jobqdriver.Scheduler, error) {
	if err := d.readable(); err != nil {
		return nil, err
	}
	rows, err := d.rdb.QueryContext(ctx, `SELECT `+schedulerCols+` FROM schedulers WHERE queue = ? ORDER BY next, id`, queue)
	if err != nil {
		return nil, fmt.Errorf("jobqsqlite: list schedulers: %w", err)
	}
	defer rows.Close()
	out := []jobqdriver.Scheduler{}
	for rows.Next() {
		s, err := scanScheduler(rows)
		if err != nil {
			return nil, fmt.Errorf("jobqsqlite: list schedulers: %w", err)
		}
		out = append(out, *s)
	}
	return out, rows.Err()
}
