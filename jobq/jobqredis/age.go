package jobqredis

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// OldestReady implements jobqdriver.ReadyAger: the job next in line in
// wait (the right end of the list, where workers take from) and the first
// member of prioritized, then their timestamp and delay fields: two
// pipelined round trips, O(1) each, no scan.
func (d *Driver) OldestReady(ctx context.Context, queue string) (int64, error) {
	if err := d.checkOpen(); err != nil {
		return 0, err
	}
	pipe := d.client.Pipeline()
	head := pipe.LIndex(ctx, d.key(queue, "wait"), -1)
	first := pipe.ZRange(ctx, d.key(queue, "prioritized"), 0, 0)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("jobqredis: oldest ready of %q: %w", queue, err)
	}
	var ids []string
	if id, err := head.Result(); err == nil {
		ids = append(ids, id)
	}
	ids = append(ids, first.Val()...)
	if len(ids) == 0 {
		return 0, nil
	}
	pipe = d.client.Pipeline()
	cmds := make([]*redis.SliceCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HMGet(ctx, d.key(queue, id), "timestamp", "delay")
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, fmt.Errorf("jobqredis: oldest ready of %q: %w", queue, err)
	}
	var oldest int64
	for _, c := range cmds {
		v := c.Val()
		ts, ok := v[0].(string)
		if !ok {
			continue // removed in between
		}
		at := atoi64(ts)
		if s, ok := v[1].(string); ok {
			at += atoi64(s)
		}
		if at > 0 && (oldest == 0 || at < oldest) {
			oldest = at
		}
	}
	return oldest, nil
}

var _ jobqdriver.ReadyAger = (*Driver)(nil)
