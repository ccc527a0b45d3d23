package jobqsqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// eventIDWidth zero-pads event ids so that they sort as strings.
const eventIDWidth = 20

func eventID(seq int64) string { return fmt.Sprintf("%0*d", eventIDWidth, seq) }

// parseEventID reads an id written by eventID; "0" and "" mean the start.
// A Redis-style "<n>-<m>" is read as n.
func parseEventID(id string) (int64, error) {
	if id == "" {
		return 0, nil
	}
	head, _, _ := strings.Cut(id, "-")
	n, err := strconv.ParseInt(head, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("jobqsqlite: event id %q: %w", id, err)
	}
	return n, nil
}

// defaultEventCount is the batch size when count <= 0.
const defaultEventCount = 1000

// ReadEvents returns up to count events of queue after afterID ("$" =
// only events added from now on, "0" = from the start), blocking up to
// block for the first one.
func (d *Driver) ReadEvents(ctx context.Context, queue, afterID string, count int, block time.Duration) ([]jobqdriver.Event, error) {
	if d.closed.Load() {
		return nil, jobqdriver.ErrClosed
	}
	if count <= 0 {
		count = defaultEventCount
	}
	gen, _ := d.evtsN.watch(queue)
	var after int64
	if afterID == "$" {
		err := d.rdb.QueryRowContext(ctx, `SELECT evt_seq FROM queues WHERE queue = ?`, queue).Scan(&after)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("jobqsqlite: read events: %w", err)
		}
	} else {
		var err error
		if after, err = parseEventID(afterID); err != nil {
			return nil, err
		}
	}
	deadline := time.Now().Add(block)
	for {
		evs, err := d.readEvents(ctx, queue, after, count)
		if err != nil || len(evs) > 0 {
			return evs, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, nil
		}
		// Wait for an in-process bump or the poller; re-check at least
		// every PollInterval in case the poller is between ticks.
		if err := d.block(ctx, d.evtsN, queue, gen, min(left, 10*d.cfg.PollInterval)); err != nil {
			return nil, err
		}
		gen, _ = d.evtsN.watch(queue)
	}
}

func (d *Driver) readEvents(ctx context.Context, queue string, after int64, count int) ([]jobqdriver.Event, error) {
	rows, err := d.rdb.QueryContext(ctx, `SELECT seq, name, fields FROM events WHERE queue = ? AND seq > ? ORDER BY seq LIMIT ?`,
		queue, after, count)
	if err != nil {
		return nil, fmt.Errorf("jobqsqlite: read events: %w", err)
	}
	defer rows.Close()
	var out []jobqdriver.Event
	for rows.Next() {
		var seq int64
		var name, fields string
		if err := rows.Scan(&seq, &name, &fields); err != nil {
			return nil, fmt.Errorf("jobqsqlite: read events: %w", err)
		}
		e := jobqdriver.Event{ID: eventID(seq), Name: name}
		if err := json.Unmarshal([]byte(fields), &e.Fields); err != nil {
			return nil, fmt.Errorf("jobqsqlite: event %d fields: %w", seq, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("jobqsqlite: read events: %w", err)
	}
	return out, nil
}

// LastEventID returns the id of the queue's newest event, "0" when the
// log is empty.
func (d *Driver) LastEventID(ctx context.Context, queue string) (string, error) {
	if d.closed.Load() {
		return "", jobqdriver.ErrClosed
	}
	var seq int64
	err := d.rdb.QueryRowContext(ctx, `SELECT evt_seq FROM queues WHERE queue = ?`, queue).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && seq == 0) {
		return "0", nil
	}
	if err != nil {
		return "", fmt.Errorf("jobqsqlite: last event id: %w", err)
	}
	return eventID(seq), nil
}
