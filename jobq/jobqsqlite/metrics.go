package jobqsqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

type metricsKey struct{ queue, kind string }

// metricsRow is one queue's metrics of one kind, kept in memory during a
// Finish batch and saved once.
type metricsRow struct {
	exists    bool
	count     int64
	prevTS    int64
	prevCount int64
	data      []int64 // newest first
}

// recordMetric counts one finished job, BullMQ style: the total count,
// and, when a new minute starts, the count delta of the minutes since the
// last point (missing minutes as zeros), newest first, at most maxPoints.
func (t *wtx) recordMetric(mets map[metricsKey]*metricsRow, queue, kind string, maxPoints int, now int64) error {
	k := metricsKey{queue, kind}
	r, ok := mets[k]
	if !ok {
		r = &metricsRow{}
		var data string
		found, err := t.row(`SELECT count, prev_ts, prev_count, data FROM metrics WHERE queue = ? AND kind = ?`,
			[]any{queue, kind}, &r.count, &r.prevTS, &r.prevCount, &data)
		if err != nil {
			return err
		}
		r.exists = found
		if found {
			if err := json.Unmarshal([]byte(data), &r.data); err != nil {
				return fmt.Errorf("jobqsqlite: metrics %s/%s: %w", queue, kind, err)
			}
		}
		mets[k] = r
	}
	before := r.count
	r.count++
	if r.prevTS == 0 {
		r.prevTS, r.prevCount = now, 0
		return nil
	}
	n := min(now/60000-r.prevTS/60000, int64(maxPoints))
	if n <= 0 {
		return nil
	}
	points := make([]int64, 0, n+int64(len(r.data)))
	for i := int64(1); i < n; i++ {
		points = append(points, 0)
	}
	points = append(points, before-r.prevCount)
	points = append(points, r.data...)
	if len(points) > maxPoints {
		points = points[:maxPoints]
	}
	r.data = points
	r.prevTS, r.prevCount = now, before
	return nil
}

func (t *wtx) saveMetrics(mets map[metricsKey]*metricsRow) error {
	for k, r := range mets {
		data, err := json.Marshal(r.data)
		if err != nil {
			return fmt.Errorf("jobqsqlite: encode metrics: %w", err)
		}
		if r.data == nil {
			data = []byte("[]")
		}
		if _, err := t.exec(`INSERT INTO metrics (queue, kind, count, prev_ts, prev_count, data) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (queue, kind) DO UPDATE SET count = excluded.count, prev_ts = excluded.prev_ts,
			prev_count = excluded.prev_count, data = excluded.data`,
			k.queue, k.kind, r.count, r.prevTS, r.prevCount, string(data)); err != nil {
			return err
		}
	}
	return nil
}

// Metrics returns the per-minute metrics of kind ("completed" or
// "failed"), data points [start, end] newest first (end -1 = all).
func (d *Driver) Metrics(ctx context.Context, queue, kind string, start, end int) (jobqdriver.Metrics, error) {
	var m jobqdriver.Metrics
	if d.closed.Load() {
		return m, jobqdriver.ErrClosed
	}
	var data string
	err := d.rdb.QueryRowContext(ctx, `SELECT count, prev_ts, prev_count, data FROM metrics WHERE queue = ? AND kind = ?`,
		queue, kind).Scan(&m.Count, &m.PrevTS, &m.PrevCount, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return m, nil
	}
	if err != nil {
		return m, fmt.Errorf("jobqsqlite: metrics: %w", err)
	}
	var all []int64
	if err := json.Unmarshal([]byte(data), &all); err != nil {
		return m, fmt.Errorf("jobqsqlite: metrics %s/%s: %w", queue, kind, err)
	}
	lo, hi := window(len(all), start, end)
	m.Data = append([]int64{}, all[lo:hi]...)
	return m, nil
}

// window turns an inclusive [start, end] range (end < 0 = to the end)
// into slice bounds for a list of length n.
func window(n, start, end int) (lo, hi int) {
	if start < 0 {
		start = 0
	}
	if end < 0 || end >= n {
		end = n - 1
	}
	if start > end {
		return 0, 0
	}
	return start, end + 1
}
