package jobqsqlite

import (
	"context"
	"fmt"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

var _ jobqdriver.ReadyAger = (*Driver)(nil)

// OldestReady implements jobqdriver.ReadyAger: the first row of waiting
// and of prioritized in fetch order, each found through the jobs_order
// index (queue, state, score, ord) without a scan.
func (d *Driver) OldestReady(ctx context.Context, queue string) (int64, error) {
	if err := d.readable(); err != nil {
		return 0, err
	}
	var oldest int64
	for _, state := range []string{jobqdriver.StateWaiting, jobqdriver.StatePrioritized} {
		var at int64
		err := d.rdb.QueryRowContext(ctx, `SELECT coalesce((SELECT ts + delay FROM jobs WHERE queue = ? AND state = ?
			ORDER BY score, ord LIMIT 1), 0)`, queue, state).Scan(&at)
		if err != nil {
			return 0, fmt.Errorf("jobqsqlite: oldest ready of %q: %w", queue, err)
		}
		if at > 0 && (oldest == 0 || at < oldest) {
			oldest = at
		}
	}
	return oldest, nil
}
