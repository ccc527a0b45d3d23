package jobqredis

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// SetPaused pauses or resumes the queue.
func (d *Driver) SetPaused(ctx context.Context, queue string, paused bool) error {
	arg := "0"
	if paused {
		arg = "1"
	}
	_, err := d.codeOf(ctx, "pause", queue, arg)
	return err
}

// Promote moves a delayed job to waiting now.
func (d *Driver) Promote(ctx context.Context, queue, id string, now int64) error {
	code, err := d.codeOf(ctx, "promote", queue, id, itoa(now))
	if err != nil {
		return err
	}
	return finishErr(code, queue, id)
}

// Reprocess moves a failed or completed job back to waiting.
func (d *Driver) Reprocess(ctx context.Context, queue, id, state string, now int64) error {
	if state != jobqdriver.StateFailed && state != jobqdriver.StateCompleted {
		return fmt.Errorf("jobqredis: reprocess from %q: %w", state, jobqdriver.ErrNotInState)
	}
	code, err := d.codeOf(ctx, "reprocess", queue, id, state, "0", itoa(now))
	if err != nil {
		return err
	}
	if code > 0 {
		return nil
	}
	return finishErr(code, queue, id)
}

// ReprocessAll moves up to count (0 = all) jobs of state back to waiting.
func (d *Driver) ReprocessAll(ctx context.Context, queue, state string, count int, now int64) (int, error) {
	if state != jobqdriver.StateFailed && state != jobqdriver.StateCompleted {
		return 0, fmt.Errorf("jobqredis: reprocess from %q: %w", state, jobqdriver.ErrNotInState)
	}
	n, err := d.codeOf(ctx, "reprocess", queue, "", state, strconv.Itoa(count), itoa(now))
	return int(n), err
}

// Remove deletes a job, its logs and dependency records, and with
// removeChildren its children.
func (d *Driver) Remove(ctx context.Context, queue, id string, removeChildren bool) error {
	arg := "0"
	if removeChildren {
		arg = "1"
	}
	code, err := d.codeOf(ctx, "remove", queue, id, arg)
	if err != nil {
		return err
	}
	if code == -8 {
		return fmt.Errorf("jobqredis: remove %s/%s: %w", queue, id, jobqdriver.ErrJobActive)
	}
	return finishErr(code, queue, id)
}

// Clean deletes old jobs of one state and returns their ids.
func (d *Driver) Clean(ctx context.Context, queue string, grace int64, limit int, state string, now int64) ([]string, error) {
	if err := d.checkOpen(); err != nil {
		return nil, err
	}
	v, err := d.run(ctx, "clean", queue, itoa(grace), strconv.Itoa(limit), state, itoa(now))
	if err != nil {
		return nil, err
	}
	return toStrings(v), nil
}

// Drain removes waiting and prioritized jobs, and delayed ones too when
// delayed is true.
func (d *Driver) Drain(ctx context.Context, queue string, delayed bool) error {
	arg := "0"
	if delayed {
		arg = "1"
	}
	_, err := d.codeOf(ctx, "drain", queue, arg)
	return err
}

// Obliterate deletes the whole queue: its jobs in batches of scripts, then
// any key left under its prefix (dedup keys, logs) with SCAN.
func (d *Driver) Obliterate(ctx context.Context, queue string, force bool) error {
	arg := "0"
	if force {
		arg = "1"
	}
	for {
		code, err := d.codeOf(ctx, "obliterate", queue, arg, "1000")
		if err != nil {
			return err
		}
		if code == -2 {
			return fmt.Errorf("jobqredis: obliterate %q: %w", queue, jobqdriver.ErrQueueNotEmpty)
		}
		if code == 0 {
			break
		}
	}
	d.forgetMeta(queue)
	match := globEscape(d.prefixOf(queue)) + "*"
	scanDel := func(ctx context.Context, c redis.UniversalClient) error {
		iter := c.Scan(ctx, 0, match, 1000).Iterator()
		var batch []string
		for iter.Next(ctx) {
			batch = append(batch, iter.Val())
			if len(batch) == 500 {
				if err := delKeys(ctx, c, batch); err != nil {
					return err
				}
				batch = batch[:0]
			}
		}
		if err := iter.Err(); err != nil {
			return err
		}
		return delKeys(ctx, c, batch)
	}
	var err error
	if cc, ok := d.client.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return scanDel(ctx, c) })
	} else {
		err = scanDel(ctx, d.client)
	}
	if err != nil {
		return fmt.Errorf("jobqredis: obliterate %q: %w", queue, err)
	}
	return nil
}

// delKeys deletes keys one by one (pipelined), which is safe on Cluster.
func delKeys(ctx context.Context, c redis.UniversalClient, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	pipe := c.Pipeline()
	for _, k := range keys {
		pipe.Unlink(ctx, k)
	}
	_, err := pipe.Exec(ctx)
	return err
}

// globEscape escapes the glob metacharacters of a SCAN MATCH pattern.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
