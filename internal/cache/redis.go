package cache

import (
	"context"
	"crypto/rand"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/sevra/atlas/internal/redisbatch"
)

//go:embed store.lua
var storeLua string

var storeScript = redis.NewScript(storeLua)

// Defaults of [RedisConfig].
const (
	DefaultPrefix  = "atlas:cache"
	DefaultTimeout = 100 * time.Millisecond
)

// VersionTTL is how long a key's version lives after its last Delete. A
// version matters only to loads running across that Delete, so a load that
// outlasts VersionTTL/2 is not stored.
const VersionTTL = 24 * time.Hour

// warnEvery is the least time between two warnings logged by a Redis cache.
const warnEvery = 10 * time.Second

// ErrContextTimeoutDisabled reports a go-redis client without
// ContextTimeoutEnabled, which ignores context deadlines when reading
// replies, so that [RedisConfig.Timeout] could not bound a read.
var ErrContextTimeoutDisabled = errors.New("cache: redis client needs ContextTimeoutEnabled")

// RedisConfig configures [NewRedis].
type RedisConfig struct {
	// Prefix starts every Redis key name: "<Prefix>:{<key>}" holds a
	// value, "<Prefix>:{<key>}:v" its version. Caches that share a Redis
	// and a Prefix share their entries. Default (when ""): DefaultPrefix
	// ("atlas:cache").
	Prefix string
	// Timeout bounds each Redis operation (a read, a store, a Delete).
	// Default (when ≤ 0): DefaultTimeout (100ms).
	Timeout time.Duration
	// Registerer registers the metrics. Default (nil): not registered.
	Registerer prometheus.Registerer
	// Logger receives warnings when a read or a store fails, at most one
	// every 10 seconds (the metrics count them all). Default (nil):
	// discard.
	Logger *slog.Logger
}

// Redis is a [Cache] shared through Redis (tested with Redis 7)
// by every process using the same prefix.
type Redis struct {
	client   redis.UniversalClient
	prefix   string
	timeout  time.Duration
	log      *slog.Logger
	metrics  *metrics
	reads    *redisbatch.Batcher // the MGETs of concurrent reads share round trips
	flights  flightGroup         // flight key: "<version>:<key>"
	lastWarn atomic.Int64        // Unix nanoseconds of the last warning
}

// NewRedis returns a cache storing its entries through client, which the
// caller owns and closes. A *redis.Client, *redis.ClusterClient or
// *redis.Ring must have ContextTimeoutEnabled set (otherwise NewRedis
// returns ErrContextTimeoutDisabled); NewRedis also fails when registering
// the metrics fails.
func NewRedis(client redis.UniversalClient, cfg RedisConfig) (*Redis, error) {
	if client == nil {
		return nil, errors.New("cache: nil redis client")
	}
	enabled := true
	switch c := client.(type) {
	case *redis.Client:
		enabled = c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		enabled = c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		enabled = c.Options().ContextTimeoutEnabled
	}
	if !enabled {
		return nil, ErrContextTimeoutDisabled
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Redis{client: client, prefix: cfg.Prefix, timeout: cfg.Timeout, log: cfg.Logger, metrics: m,
		reads: redisbatch.New(client, redisbatch.Config{Timeout: cfg.Timeout})}, nil
}

// Close stops the goroutine that pipelines reads (it starts with the first
// read), after sending the reads queued, or when ctx ends. It does not
// close the client; later reads send their own MGET.
func (r *Redis) Close(ctx context.Context) error { return r.reads.Close(ctx) }

// GetOrLoad implements [Cache]. It reads the value and the version of key
// in one MGET; on a miss it loads (shared by callers that read the same
// version) and stores the value with a script that compares the version
// and sets the value with PX ttl (rounded up to whole milliseconds).
//
// When the read fails or times out, GetOrLoad returns load's result
// without caching it, unless ctx itself ended: it then returns ctx's
// error. A failed store is counted and the loaded value returned.
func (r *Redis) GetOrLoad(ctx context.Context, key string, ttl time.Duration, load func(ctx context.Context) ([]byte, error)) ([]byte, error) {
	if err := validateKey(key); err != nil {
		return nil, err
	}
	if err := validateTTL(ttl); err != nil {
		return nil, err
	}
	valKey, verKey := r.names(key)
	for {
		readAt := time.Now()
		val, version, found, err := r.read(ctx, valKey, verKey)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("cache: redis get: %w", ctx.Err())
			}
			reason := "error"
			if isTimeout(err) {
				reason = "timeout"
			}
			r.metrics.bypass.WithLabelValues(reason).Inc()
			r.warn("cache: redis get failed, loading without the cache", "err", err)
			return load(ctx)
		}
		if found {
			r.metrics.requests.WithLabelValues("hit").Inc()
			return val, nil
		}
		val, shared, err := r.flights.do(ctx, version+":"+key, func(*flight) ([]byte, error) {
			val, err := load(ctx)
			if err != nil {
				return nil, err
			}
			if time.Since(readAt) < VersionTTL/2 {
				r.store(ctx, valKey, verKey, version, val, ttl)
			}
			return val, nil
		})
		if shared && isContextErr(err) && ctx.Err() == nil {
			continue // the load's own caller gave up; load for ourselves
		}
		r.metrics.requests.WithLabelValues("miss").Inc()
		return val, err
	}
}

// Delete implements [Cache]. In one MULTI/EXEC it gives every key a new
// version, for VersionTTL, and deletes its value. When that fails it
// still tries to delete the values (so that they are not served until
// their TTL, should the version be what failed, e.g. under noeviction)
// and returns the first error.
func (r *Redis) Delete(ctx context.Context, keys ...string) error {
	for _, k := range keys {
		if err := validateKey(k); err != nil {
			return err
		}
	}
	if len(keys) == 0 {
		return nil
	}
	version := rand.Text()
	tctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	_, err := r.client.TxPipelined(tctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			valKey, verKey := r.names(k)
			p.Set(tctx, verKey, version, VersionTTL)
			p.Del(tctx, valKey)
		}
		return nil
	})
	if err == nil {
		return nil
	}
	r.metrics.errors.WithLabelValues("delete").Inc()
	if ctx.Err() == nil {
		dctx, cancel := context.WithTimeout(ctx, r.timeout)
		defer cancel()
		_, _ = r.client.Pipelined(dctx, func(p redis.Pipeliner) error {
			for _, k := range keys {
				valKey, _ := r.names(k)
				p.Del(dctx, valKey)
			}
			return nil
		})
	}
	return fmt.Errorf("cache: redis delete: %w", err)
}

// names returns the Redis key names of key's value and version. Both
// start with "<prefix>:{<key>}", which holds the hash tag (the first "{"
// and the first "}" after it), so they share a Redis Cluster slot. A value
// name ends with "}" and a version name with ":v": they never collide.
func (r *Redis) names(key string) (val, version string) {
	val = r.prefix + ":{" + key + "}"
	return val, val + ":v"
}

// read returns the value of valKey (found is false when there is none) and
// the version in verKey ("" when there is none): one MGET, which shares a
// pipelined round trip with the reads of other requests running at the
// same time (internal/redisbatch).
func (r *Redis) read(ctx context.Context, valKey, verKey string) (val []byte, version string, found bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	cmd := redis.NewSliceCmd(ctx, "mget", valKey, verKey)
	err = r.reads.Do(ctx, cmd)
	if errors.Is(err, redisbatch.ErrClosed) {
		err = r.client.Process(ctx, cmd)
	}
	if err != nil {
		return nil, "", false, err
	}
	res := cmd.Val()
	if len(res) != 2 {
		return nil, "", false, fmt.Errorf("cache: unexpected MGET reply of %d items", len(res))
	}
	version, _ = res[1].(string)
	s, found := res[0].(string)
	return []byte(s), version, found, nil
}

// store sets valKey to val for ttl if verKey still holds version. It runs
// even when ctx was cancelled after the load, within r.timeout.
func (r *Redis) store(ctx context.Context, valKey, verKey, version string, val []byte, ttl time.Duration) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.timeout)
	defer cancel()
	ms := int64((ttl + time.Millisecond - 1) / time.Millisecond)
	if err := storeScript.Run(ctx, r.client, []string{valKey, verKey}, version, val, ms).Err(); err != nil {
		r.metrics.errors.WithLabelValues("store").Inc()
		r.warn("cache: redis store failed, value not cached", "err", err)
	}
}

// warn logs msg unless another warning was logged within warnEvery.
func (r *Redis) warn(msg string, args ...any) {
	now := time.Now().UnixNano()
	last := r.lastWarn.Load()
	if now-last < int64(warnEvery) || !r.lastWarn.CompareAndSwap(last, now) {
		return
	}
	r.log.Warn(msg, args...)
}

// isTimeout reports whether err is a timeout (of the context or the
// connection).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
