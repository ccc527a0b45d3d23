package jobqsqlite

import (
	"context"
	"fmt"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

var (
	_ jobqdriver.WorkerLister      = (*Driver)(nil)
	_ jobqdriver.WorkerHeartbeater = (*Driver)(nil)
)

// workerTTL is how long a worker that stopped heartbeating is kept, ms.
const workerTTL = 3600_000

// Heartbeat records that worker w of queue is alive at now, keeping the
// started time of its first heartbeat, and forgets workers of any queue
// not seen for an hour.
func (d *Driver) Heartbeat(ctx context.Context, queue string, w jobqdriver.WorkerInfo, now int64) error {
	err := d.write(ctx, func(t *wtx) error {
		if _, err := t.exec(`INSERT INTO workers (queue, name, host, pid, concurrency, started, last_seen)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (queue, name) DO UPDATE SET host = excluded.host, pid = excluded.pid,
				concurrency = excluded.concurrency, last_seen = excluded.last_seen`,
			queue, w.Name, w.Host, w.Pid, w.Concurrency, now, now); err != nil {
			return err
		}
		_, err := t.exec(`DELETE FROM workers WHERE last_seen < ?`, now-workerTTL)
		return err
	})
	if err != nil {
		return fmt.Errorf("jobqsqlite: heartbeat: %w", err)
	}
	return nil
}

// RemoveWorker forgets a worker that stopped.
func (d *Driver) RemoveWorker(ctx context.Context, queue, name string) error {
	err := d.write(ctx, func(t *wtx) error {
		_, err := t.exec(`DELETE FROM workers WHERE queue = ? AND name = ?`, queue, name)
		return err
	})
	if err != nil {
		return fmt.Errorf("jobqsqlite: remove worker: %w", err)
	}
	return nil
}

// Workers lists the workers of queue whose last heartbeat is at or after
// since, by name.
func (d *Driver) Workers(ctx context.Context, queue string, since int64) ([]jobqdriver.WorkerInfo, error) {
	if err := d.readable(); err != nil {
		return nil, err
	}
	rows, err := d.rdb.QueryContext(ctx, `SELECT name, host, pid, concurrency, started, last_seen
		FROM workers WHERE queue = ? AND last_seen >= ? ORDER BY name`, queue, since)
	if err != nil {
		return nil, fmt.Errorf("jobqsqlite: workers: %w", err)
	}
	defer rows.Close()
	var out []jobqdriver.WorkerInfo
	for rows.Next() {
		var w jobqdriver.WorkerInfo
		if err := rows.Scan(&w.Name, &w.Host, &w.Pid, &w.Concurrency, &w.Started, &w.LastSeen); err != nil {
			return nil, fmt.Errorf("jobqsqlite: workers: %w", err)
		}
		out = append(out, w)
	}
	return out, rows.Err()
}
