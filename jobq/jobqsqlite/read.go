package jobqsqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// storedStates are the states a job row can be in.
var storedStates = map[string]bool{
	jobqdriver.StateWaiting: true, jobqdriver.StatePrioritized: true, jobqdriver.StateDelayed: true,
	jobqdriver.StateActive: true, jobqdriver.StateCompleted: true, jobqdriver.StateFailed: true,
	jobqdriver.StateWaitingChildren: true,
}

// normState maps BullMQ's list name "wait" to "waiting".
func normState(s string) string {
	if s == "wait" {
		return jobqdriver.StateWaiting
	}
	return s
}

func (d *Driver) readable() error {
	if d.closed.Load() {
		return jobqdriver.ErrClosed
	}
	return nil
}

var _ jobqdriver.Pinger = (*Driver)(nil)

// Ping runs a trivial query on the queues table through the read pool.
func (d *Driver) Ping(ctx context.Context) error {
	if err := d.readable(); err != nil {
		return err
	}
	var one int
	err := d.rdb.QueryRowContext(ctx, `SELECT 1 FROM queues LIMIT 1`).Scan(&one)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("jobqsqlite: ping: %w", err)
	}
	return nil
}

// GetJob returns a job, with State filled, or ErrJobNotFound.
func (d *Driver) GetJob(ctx context.Context, queue, id string) (*jobqdriver.Job, error) {
	if err := d.readable(); err != nil {
		return nil, err
	}
	j, err := scanJob(d.rdb.QueryRowContext(ctx, `SELECT `+jobCols+` FROM jobs WHERE queue = ? AND id = ?`, queue, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("jobqsqlite: job %s: %w", id, jobqdriver.ErrJobNotFound)
	}
	return j, err
}

// JobState returns the job's state, or StateUnknown when it is missing.
func (d *Driver) JobState(ctx context.Context, queue, id string) (string, error) {
	if err := d.readable(); err != nil {
		return "", err
	}
	var s string
	err := d.rdb.QueryRowContext(ctx, `SELECT state FROM jobs WHERE queue = ? AND id = ?`, queue, id).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return jobqdriver.StateUnknown, nil
	}
	if err != nil {
		return "", fmt.Errorf("jobqsqlite: job state: %w", err)
	}
	return s, nil
}

// GetJobs lists jobs of each state in turn, positions [start, end] (end
// -1 = all) of the state's natural order (next to run, or oldest finished,
// first when asc), newest first when !asc.
func (d *Driver) GetJobs(ctx context.Context, queue string, states []string, start, end int, asc bool) ([]*jobqdriver.Job, error) {
	if err := d.readable(); err != nil {
		return nil, err
	}
	if start < 0 {
		start = 0
	}
	limit := -1
	if end >= 0 {
		if end < start {
			return nil, nil
		}
		limit = end - start + 1
	}
	dir := "DESC"
	if asc {
		dir = "ASC"
	}
	tx, err := d.rdb.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("jobqsqlite: get jobs: %w", err)
	}
	defer tx.Rollback()
	var out []*jobqdriver.Job
	for _, s := range states {
		s = normState(s)
		if !storedStates[s] {
			continue
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+jobCols+` FROM jobs WHERE queue = ? AND state = ?
			ORDER BY score `+dir+`, ord `+dir+` LIMIT ? OFFSET ?`, queue, s, limit, start)
		if err != nil {
			return nil, fmt.Errorf("jobqsqlite: get jobs: %w", err)
		}
		for rows.Next() {
			j, err := scanJob(rows)
			if err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, j)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("jobqsqlite: get jobs: %w", err)
		}
	}
	return out, nil
}

// Counts returns the number of jobs in each requested state ("paused" is
// always 0: a paused queue keeps its jobs in waiting, as BullMQ 6).
func (d *Driver) Counts(ctx context.Context, queue string, states []string) (map[string]int64, error) {
	if err := d.readable(); err != nil {
		return nil, err
	}
	tx, err := d.rdb.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("jobqsqlite: counts: %w", err)
	}
	defer tx.Rollback()
	out := make(map[string]int64, len(states))
	for _, s := range states {
		ns := normState(s)
		if !storedStates[ns] {
			out[s] = 0
			continue
		}
		var n int64
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM jobs WHERE queue = ? AND state = ?`, queue, ns).Scan(&n); err != nil {
			return nil, fmt.Errorf("jobqsqlite: counts: %w", err)
		}
		out[s] = n
	}
	return out, nil
}

// ChildrenValues returns the return values of a parent's completed
// children, keyed by child key.
func (d *Driver) ChildrenValues(ctx context.Context, queue, id string) (map[string]json.RawMessage, error) {
	vals, err := d.depValues(ctx, queue, id, "processed")
	if err != nil {
		return nil, err
	}
	out := make(map[string]json.RawMessage, len(vals))
	for k, v := range vals {
		out[k] = json.RawMessage(v)
	}
	return out, nil
}

// ChildrenFailures returns the failure reasons of children that failed
// with the ignore or continue policy, keyed by child key.
func (d *Driver) ChildrenFailures(ctx context.Context, queue, id string) (map[string]string, error) {
	return d.depValues(ctx, queue, id, "failed")
}

func (d *Driver) depValues(ctx context.Context, queue, id, state string) (map[string]string, error) {
	if err := d.readable(); err != nil {
		return nil, err
	}
	rows, err := d.rdb.QueryContext(ctx, `SELECT child_key, coalesce(value, '') FROM deps
		WHERE parent_queue = ? AND parent_id = ? AND state = ?`, queue, id, state)
	if err != nil {
		return nil, fmt.Errorf("jobqsqlite: children: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, fmt.Errorf("jobqsqlite: children: %w", err)
		}
		out[k] = v
	}
	return out, rows.Err()
}

// IsPaused reports whether the queue is paused.
func (d *Driver) IsPaused(ctx context.Context, queue string) (bool, error) {
	if err := d.readable(); err != nil {
		return false, err
	}
	var p bool
	err := d.rdb.QueryRowContext(ctx, `SELECT paused FROM queues WHERE queue = ?`, queue).Scan(&p)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("jobqsqlite: is paused: %w", err)
	}
	return p, nil
}

// Logs returns log lines [start, end] (end -1 = all), oldest first when
// asc, newest first otherwise, and the total number of lines.
func (d *Driver) Logs(ctx context.Context, queue, id string, start, end int, asc bool) ([]string, int, error) {
	if err := d.readable(); err != nil {
		return nil, 0, err
	}
	tx, err := d.rdb.BeginTx(ctx, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("jobqsqlite: logs: %w", err)
	}
	defer tx.Rollback()
	var total int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM logs WHERE queue = ? AND job_id = ?`, queue, id).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("jobqsqlite: logs: %w", err)
	}
	lo, hi := window(total, start, end)
	if hi <= lo {
		return []string{}, total, nil
	}
	dir := "DESC"
	if asc {
		dir = "ASC"
	}
	rows, err := tx.QueryContext(ctx, `SELECT line FROM logs WHERE queue = ? AND job_id = ? ORDER BY lid `+dir+` LIMIT ? OFFSET ?`,
		queue, id, hi-lo, lo)
	if err != nil {
		return nil, 0, fmt.Errorf("jobqsqlite: logs: %w", err)
	}
	defer rows.Close()
	lines := make([]string, 0, hi-lo)
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			return nil, 0, fmt.Errorf("jobqsqlite: logs: %w", err)
		}
		lines = append(lines, l)
	}
	return lines, total, rows.Err()
}
