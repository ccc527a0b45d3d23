package jobqredis

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// WorkerClientName returns the connection name BullMQ 6.7.0 gives a
// worker's blocking connection: "<prefix>:<base64(queue)>", plus
// ":w:<workerName>" when the worker has a name. Queue.getWorkers() lists
// connections named so.
func WorkerClientName(prefix, queue, workerName string) string {
	n := prefix + ":" + base64.StdEncoding.EncodeToString([]byte(queue))
	if workerName != "" {
		n += ":w:" + workerName
	}
	return n
}

// waiter blocks with BZPOPMIN on the queue's marker over its own named
// connection.
type waiter struct {
	client redis.UniversalClient
	marker string
}

// NewWaiter opens a dedicated connection (pool size 1) named as a BullMQ
// worker, so Node's Queue.getWorkers() and bull-board list Go workers.
// go-redis re-dials and re-applies the name after a Redis restart. On a
// Driver that Open built for Sentinel the connection is its own failover
// client, which follows the master; a failover client passed to New is
// copied and shares that client's Sentinel discovery.
func (d *Driver) NewWaiter(ctx context.Context, queue, workerName string) (jobqdriver.Waiter, error) {
	if err := d.checkOpen(); err != nil {
		return nil, err
	}
	name := WorkerClientName(d.prefix, queue, workerName)
	var c redis.UniversalClient
	switch cl := d.client.(type) {
	case *redis.Client:
		if d.failover != nil {
			o := *d.failover
			o.PoolSize, o.MinIdleConns, o.MaxIdleConns = 1, 1, 1
			o.ClientName = name
			o.ContextTimeoutEnabled = true
			c = redis.NewFailoverClient(&o)
			break
		}
		o := *cl.Options()
		o.PoolSize, o.MinIdleConns, o.MaxIdleConns = 1, 1, 1
		o.ClientName = name
		o.ContextTimeoutEnabled = true
		c = redis.NewClient(&o)
	case *redis.ClusterClient:
		o := *cl.Options()
		o.PoolSize, o.MinIdleConns, o.MaxIdleConns = 1, 0, 1
		o.ClientName = name
		o.ContextTimeoutEnabled = true
		c = redis.NewClusterClient(&o)
	default:
		return nil, fmt.Errorf("jobqredis: waiter needs *redis.Client or *redis.ClusterClient, got %T", d.client)
	}
	w := &waiter{client: c, marker: d.key(queue, "marker")}
	if err := c.Ping(ctx).Err(); err != nil {
		d.log.Warn("jobqredis: waiter connection not ready", "queue", queue, "err", err)
	}
	return w, nil
}

// Wait blocks until the marker says a job may be ready or timeout passes.
// A delayed-job marker ("1", score = due ms) in the future keeps waiting
// until that time (or the timeout); new "0" markers still wake it.
func (w *waiter) Wait(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left < time.Millisecond {
			return nil
		}
		if left > 10*time.Second {
			left = 10 * time.Second
		}
		secs := strconv.FormatFloat(left.Seconds(), 'f', 3, 64)
		res, err := w.client.Do(ctx, "BZPOPMIN", w.marker, secs).Slice()
		if errors.Is(err, redis.Nil) {
			if time.Now().Before(deadline) {
				continue
			}
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("jobqredis: wait on %s: %w", w.marker, err)
		}
		if len(res) == 3 {
			member, _ := res[1].(string)
			score, _ := strconv.ParseFloat(fmt.Sprint(res[2]), 64)
			if member == "1" {
				due := time.UnixMilli(int64(score))
				if due.After(time.Now()) {
					if due.Before(deadline) {
						deadline = due
					}
					continue
				}
			}
		}
		return nil
	}
}

// Close closes the waiter's connection.
func (w *waiter) Close() error {
	if err := w.client.Close(); err != nil {
		return fmt.Errorf("jobqredis: close waiter: %w", err)
	}
	return nil
}
