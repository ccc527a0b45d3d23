package views

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sevra/atlas/internal/redisbatch"
)

// DefaultRedisPrefix is the key prefix NewRedisBuffer uses when given "".
const DefaultRedisPrefix = "atlas"

// DefaultRedisTimeout bounds one Incr (one view) by default.
const DefaultRedisTimeout = 50 * time.Millisecond

// RedisConfig configures a RedisBuffer.
type RedisConfig struct {
	// Prefix starts every key; default DefaultRedisPrefix ("atlas"). On
	// Redis Cluster it must contain a hash tag, such as "{atlas}".
	Prefix string
	// Timeout bounds each Incr, so that a Redis that does not answer costs
	// a page view at most this long; default DefaultRedisTimeout (50 ms).
	// Flush operations use the caller's context and the client's own
	// timeouts.
	Timeout time.Duration
	// BatchQueue is how many views may wait for a round trip; default
	// redisbatch.DefaultQueue (4096). A view that finds the queue full
	// waits for room within its Timeout.
	BatchQueue int
	// MaxBatch is the most views one round trip carries; default
	// redisbatch.DefaultMaxBatch (1024).
	MaxBatch int
}

// RedisBuffer is a Buffer in Redis, shared by every process that uses the
// same Redis and prefix. Its keys:
//
//	<prefix>:views:buffer               hash: post id -> views (async)
//	<prefix>:views:batch:<id>           a sealed batch of it
//	<prefix>:views:batches              set: ids of sealed, undeleted batches
//	<prefix>:views:shadow:buffer        hash: shadow mode's tallies
//	<prefix>:views:shadow:batch:<id>    and so on for the shadow hash
//	<prefix>:views:shadow:batches
//
// Incr of one field (a view, the hot path) is batched (internal/redisbatch):
// the HINCRBYs of concurrent requests share one pipelined round trip, and
// each Incr returns when its view is in Redis, or fails at its Timeout (a
// view whose deadline passed while queued is not sent; one in a round trip
// its caller stopped waiting for may still land, so a drop count is an
// upper bound). Incr of several
// fields (shadow mode) is one MULTI pipeline of its own. Close stops the
// batcher; later Incr calls send their own HINCRBY. Seal is one script that RENAMEs the hash to the batch key and adds
// the id to the index set atomically; Delete removes both in one MULTI.
// Recovery reads the index set rather than SCANning for batch keys, which
// would walk every key of the Redis (the queues' jobs too) on each flush.
// The keys have no TTL: under noeviction they are never lost, and the
// buffer holds at most one field per viewed post between flushes.
type RedisBuffer struct {
	client  redis.UniversalClient
	hot     redis.Cmdable // Incr's client: the same pool with Timeout as read/write timeout
	prefix  string
	timeout time.Duration
	batch   *redisbatch.Batcher
}

// NewRedisBuffer returns a buffer on client (which the caller owns and
// closes). go-redis ignores a context's deadline on the socket unless the
// client sets ContextTimeoutEnabled, so for a *redis.Client Incr runs on a
// clone (WithTimeout, the same connection pool) whose read and write
// timeouts are cfg.Timeout; give other client types
// ContextTimeoutEnabled, or a hung Redis costs a view the client's
// ReadTimeout.
func NewRedisBuffer(client redis.UniversalClient, cfg RedisConfig) *RedisBuffer {
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultRedisPrefix
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultRedisTimeout
	}
	b := &RedisBuffer{client: client, hot: client, prefix: cfg.Prefix + ":views:", timeout: cfg.Timeout}
	if c, ok := client.(*redis.Client); ok {
		b.hot = c.WithTimeout(cfg.Timeout)
	}
	b.batch = redisbatch.New(b.hot, redisbatch.Config{Queue: cfg.BatchQueue, MaxBatch: cfg.MaxBatch, Timeout: cfg.Timeout})
	return b
}

// Close stops the batcher's goroutine after sending the views queued
// (or when ctx ends). It does not close the client. Incr still works
// afterwards, one round trip per call.
func (b *RedisBuffer) Close(ctx context.Context) error { return b.batch.Close(ctx) }

// BatchStats returns how many views the batcher put in Redis and in how
// many round trips.
func (b *RedisBuffer) BatchStats() (views, roundTrips int64) { return b.batch.Stats() }

// scope is the key stem of hash: "<prefix>:views:" for LiveHash,
// "<prefix>:views:shadow:" for ShadowHash.
func (b *RedisBuffer) scope(hash Hash) string {
	if hash == LiveHash {
		return b.prefix
	}
	return b.prefix + string(hash) + ":"
}

// Key returns the Redis key of hash's live counts.
func (b *RedisBuffer) Key(hash Hash) string { return b.scope(hash) + "buffer" }

// BatchKey returns the Redis key of a sealed batch of hash.
func (b *RedisBuffer) BatchKey(hash Hash, batch string) string {
	return b.scope(hash) + "batch:" + batch
}

// IndexKey returns the Redis key of the set of hash's sealed batches.
func (b *RedisBuffer) IndexKey(hash Hash) string { return b.scope(hash) + "batches" }

// Incr implements Buffer within the buffer's timeout.
func (b *RedisBuffer) Incr(ctx context.Context, hash Hash, fields ...string) error {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	key := b.Key(hash)
	var err error
	switch len(fields) {
	case 0:
		return nil
	case 1:
		err = b.batch.Do(ctx, redis.NewIntCmd(ctx, "hincrby", key, fields[0], 1))
		if errors.Is(err, redisbatch.ErrClosed) {
			err = b.hot.HIncrBy(ctx, key, fields[0], 1).Err()
		}
	default:
		_, err = b.hot.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for _, f := range fields {
				p.HIncrBy(ctx, key, f, 1)
			}
			return nil
		})
	}
	if err != nil {
		return fmt.Errorf("views buffer incr: %w", err)
	}
	return nil
}

// sealScript renames KEYS[1] to KEYS[2] and adds ARGV[1] to the set
// KEYS[3], or does nothing when KEYS[1] does not exist; it returns 1 when
// it sealed.
var sealScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('SADD', KEYS[3], ARGV[1])
return 1`)

// Seal implements Buffer.
func (b *RedisBuffer) Seal(ctx context.Context, hash Hash, batch string) (bool, error) {
	n, err := sealScript.Run(ctx, b.client, []string{b.Key(hash), b.BatchKey(hash, batch), b.IndexKey(hash)}, batch).Int()
	if err != nil {
		return false, fmt.Errorf("views buffer seal: %w", err)
	}
	return n == 1, nil
}

// Batches implements Buffer.
func (b *RedisBuffer) Batches(ctx context.Context, hash Hash) ([]string, error) {
	ids, err := b.client.SMembers(ctx, b.IndexKey(hash)).Result()
	if err != nil {
		return nil, fmt.Errorf("views buffer batches: %w", err)
	}
	return ids, nil
}

// Read implements Buffer.
func (b *RedisBuffer) Read(ctx context.Context, hash Hash, batch string) (map[string]int64, error) {
	m, err := b.client.HGetAll(ctx, b.BatchKey(hash, batch)).Result()
	if err != nil {
		return nil, fmt.Errorf("views buffer read %s: %w", batch, err)
	}
	out := make(map[string]int64, len(m))
	for f, v := range m {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("views buffer read %s: field %q: %w", batch, f, err)
		}
		out[f] = n
	}
	return out, nil
}

// Delete implements Buffer.
func (b *RedisBuffer) Delete(ctx context.Context, hash Hash, batch string) error {
	_, err := b.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, b.BatchKey(hash, batch))
		p.SRem(ctx, b.IndexKey(hash), batch)
		return nil
	})
	if err != nil {
		return fmt.Errorf("views buffer delete %s: %w", batch, err)
	}
	return nil
}
