package jobqredis

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
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
// connection. The BZPOPMIN runs in a goroutine the waiter owns and may
// outlive a Wait: Wait returns on a local timer when its timeout passes
// (Redis resolves blocking timeouts only at its hz, 10/s by default, which
// made delayed jobs start up to 100 ms late), and a marker popped after
// that is kept for the next Wait. Wait is not safe for concurrent use.
type waiter struct {
	client   redis.UniversalClient
	marker   string
	clock    *wakeClock      // shared by the driver's waiters of this queue
	ctx      context.Context // cancelled by Close
	cancel   context.CancelFunc
	inflight chan popResult // the BZPOPMIN in flight, nil when none
}

// popResult is the outcome of one BZPOPMIN.
type popResult struct {
	z   *redis.ZWithKey
	err error
}

// waitBlock is how long one BZPOPMIN blocks on the server. Wait does not
// depend on it (its own timer ends it); it only bounds how often an idle
// waiter re-issues the command.
const waitBlock = 10 * time.Second

// declinedWait is how much longer a waiter keeps waiting for the marker
// after its timer fired but another waiter of the queue in this process had
// already woken for that moment (see wakeClock).
const declinedWait = 5 * time.Second

// wakeClock makes one waiter per queue and process the waker for a given
// moment. Idle workers of a queue all learn the same next-delayed time and
// arm timers for it; without coordination each of them would run a fetch
// script when it fires, for one due job (a wake-up storm: 8 idle workers
// made about 12 script calls per delayed job against BullMQ's 4). The first
// waiter whose timer fires claims the moment and returns; a waiter whose
// deadline is not after the last claim keeps waiting on the marker, as the
// claimer's fetch, which starts after that deadline, promotes every job due
// by then. A claimer that takes a job leaves a "0" marker (fetch.lua), which
// wakes one other waiter; that one's fetch learns the next due time and
// arms its timer, so an idle waiter always covers the next delayed job.
//
// Times are compared in whole milliseconds, the resolution of due times
// and of the fetch script's clock: a deadline armed for a job due at ms t
// falls in [t, t+1 ms), and a fetch that starts in ms t promotes every job
// due by t, so waiters armed for the same due time share one wake-up.
type wakeClock struct {
	mu          sync.Mutex
	lastClaimMs int64 // the millisecond of the last claim
}

// claim reports whether the caller, whose deadline passed, is the waker for
// it: no waiter of the queue claimed in or after deadline's millisecond.
func (c *wakeClock) claim(deadline time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if deadline.UnixMilli() <= c.lastClaimMs {
		return false
	}
	c.lastClaimMs = time.Now().UnixMilli()
	return true
}

// wakeClock returns the driver's clock for the queue whose marker key is
// marker.
func (d *Driver) wakeClock(marker string) *wakeClock {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.clocks == nil {
		d.clocks = map[string]*wakeClock{}
	}
	c := d.clocks[marker]
	if c == nil {
		c = &wakeClock{}
		d.clocks[marker] = c
	}
	return c
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
	w.clock = d.wakeClock(w.marker)
	w.ctx, w.cancel = context.WithCancel(context.Background())
	if err := c.Ping(ctx).Err(); err != nil {
		d.log.Warn("jobqredis: waiter connection not ready", "queue", queue, "err", err)
	}
	return w, nil
}

// Wait blocks until the marker says a job may be ready or timeout passes.
// A delayed-job marker ("1", score = due ms) in the future keeps waiting
// until that time (or the timeout); new "0" markers still wake it. When the
// time is up but another waiter of the queue in this process already woke
// at or after it (wakeClock), Wait keeps waiting on the marker for up to
// declinedWait more: that waiter's fetch covers this one.
func (w *waiter) Wait(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	// expired says whether Wait should return at deadline; when another
	// waiter took this moment it moves deadline on instead.
	expired := func() bool {
		if w.clock.claim(deadline) {
			return true
		}
		deadline = time.Now().Add(declinedWait)
		timer.Reset(declinedWait)
		return false
	}
	for {
		if time.Until(deadline) <= 0 && expired() {
			return nil
		}
		if w.inflight == nil {
			w.pop()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			if expired() {
				return nil
			}
			continue
		case r := <-w.inflight:
			w.inflight = nil
			if errors.Is(r.err, redis.Nil) {
				continue
			}
			if r.err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("jobqredis: wait on %s: %w", w.marker, r.err)
			}
			if r.z.Member == "1" {
				due := time.UnixMilli(int64(r.z.Score))
				if due.After(time.Now()) {
					if due.Before(deadline) {
						deadline = due
						timer.Reset(time.Until(due))
					}
					continue
				}
			}
			return nil
		}
	}
}

// pop starts a BZPOPMIN in the background; its result goes to w.inflight.
func (w *waiter) pop() {
	ch := make(chan popResult, 1)
	w.inflight = ch
	go func() {
		z, err := w.client.BZPopMin(w.ctx, waitBlock, w.marker).Result()
		ch <- popResult{z: z, err: err}
	}()
}

// Close stops the BZPOPMIN in flight and closes the waiter's connection.
func (w *waiter) Close() error {
	w.cancel()
	if err := w.client.Close(); err != nil {
		return fmt.Errorf("jobqredis: close waiter: %w", err)
	}
	return nil
}
