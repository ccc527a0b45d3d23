// Package cache is Atlas's read-through cache for rendered reads (salon
// detail, salon lists, city pages). [Redis] shares one cache between every
// API node; [Memory] keeps one per process, for development and single-node
// runs. Both implement [Cache].
//
// # Invalidation
//
// Writers invalidate synchronously: after the database write commits (in the
// request, or in the job handler before the job completes), they call
// [Cache.Delete] with the affected keys. When Delete returns nil, every
// GetOrLoad that begins afterwards, on any node sharing the Redis and prefix,
// returns a value loaded after the Delete began, so a read that follows a
// job's completion is fresh everywhere. Calls already waiting for a load when
// Delete runs may still return that load's result.
//
// The stale-set race (a load that read the database before the write stores
// its old value after the Delete) is closed by a version per key. GetOrLoad
// reads the value and the key's version together; on a miss it loads and
// stores the result only if the version is still the one it read, checked
// and set atomically. Delete gives the key a new version (a random token,
// never reused) and removes the value, atomically. Concurrent loads of a key
// are also shared per version, so a GetOrLoad that begins after a Delete
// never joins a load that began before it.
//
// With Redis the guarantee holds when Delete returned nil and reads go to
// the primary (not to replicas: the default for redis.Client and for
// redis.ClusterClient without ReadOnly). A failover that loses acknowledged
// writes can lose a Delete; values then live until their TTL.
//
// # Failures
//
// The cache fails open: when Redis errors or does not answer within
// [RedisConfig.Timeout], GetOrLoad calls load and returns its result without
// caching it (counted in atlas_cache_bypass_total). Delete returns the
// error; the value then lives at most until its TTL. Load errors are
// returned unchanged and never cached.
//
// # Round trips (Redis)
//
//   - hit: 1 (MGET of the value and its version; the MGETs of concurrent
//     reads in one process share a pipelined round trip, so under load a
//     read costs a fraction of one);
//   - miss: 2 (the MGET, then EVALSHA of the compare-and-set script), 3 on
//     the first miss after Redis lost its script cache (EVAL follows the
//     NOSCRIPT reply); callers that share a running load add only their MGET;
//   - Delete: 1 (MULTI/EXEC of one SET and one DEL per key), whatever the
//     number of keys on one server.
//
// # Memory and sizing
//
// Every Redis key has a TTL, so Redis may run with maxmemory-policy
// noeviction. For a caller key k, with prefix p (default "atlas:cache"):
//
//   - the value "p:{k}" lives for the TTL given to GetOrLoad and costs about
//     len(p) + len(k) + len(value) + 90 bytes;
//   - the version "p:{k}:v" is written only by Delete, lives [VersionTTL]
//     (24h) after the last Delete of k and costs about len(p) + len(k) + 26 +
//     90 bytes.
//
// Size Redis for (number of keys cached at once) × (average value + key +
// ~90 bytes) + (distinct keys deleted per 24h) × (key + ~120 bytes), then
// add headroom: e.g. 50,000 pages of 20 KiB ≈ 1 GiB, and 100,000 deleted
// keys a day ≈ 20 MiB. When Redis is full under noeviction, stores fail
// (counted in atlas_cache_errors_total{op="store"}) and reads keep working.
//
// [Memory] is bounded by [MemoryConfig.MaxEntries] and
// [MemoryConfig.MaxBytes], counting len(key) + len(value) + 160 bytes per
// entry, and evicts the least recently used entry.
//
// # Keys
//
// A key is any string of 1 to 512 bytes (see [ErrInvalidKey]); Redis key
// names wrap it in a hash tag, so a value and its version share one Redis
// Cluster slot.
//
// # Metrics
//
//   - atlas_cache_requests_total{result="hit|miss"}: GetOrLoad calls that
//     found the value, or did not (and loaded it or shared a load);
//   - atlas_cache_bypass_total{reason="timeout|error"}: GetOrLoad calls that
//     loaded without the cache because Redis failed or timed out;
//   - atlas_cache_errors_total{op="delete|store"}: failed Deletes, and loaded
//     values that could not be stored.
package cache

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Cache stores opaque byte values under string keys, each with a TTL. It is
// safe for concurrent use.
type Cache interface {
	// GetOrLoad returns the value cached under key or, on a miss, the
	// result of load, which it stores for ttl (a positive duration) unless
	// key was deleted meanwhile. Concurrent misses of one key in one process
	// share a single call of load (singleflight); load runs with the context
	// of the call that started it. The returned slice may be shared with
	// other callers and must not be modified.
	GetOrLoad(ctx context.Context, key string, ttl time.Duration, load func(ctx context.Context) ([]byte, error)) ([]byte, error)
	// Delete removes keys. When it returns nil, no GetOrLoad that begins
	// afterwards returns a value loaded before Delete began (with Redis: on
	// any node sharing the Redis and prefix).
	Delete(ctx context.Context, keys ...string) error
}

// MaxKeyLen is the length in bytes of the longest key accepted.
const MaxKeyLen = 512

// ErrInvalidKey reports a key that is empty or longer than [MaxKeyLen].
var ErrInvalidKey = errors.New("cache: invalid key")

// ErrInvalidTTL reports a TTL that is not positive.
var ErrInvalidTTL = errors.New("cache: invalid ttl")

// errLoadPanicked is returned to the callers sharing a load that panicked;
// the panic itself goes on in the goroutine that ran the load.
var errLoadPanicked = errors.New("cache: shared load panicked")

func validateKey(key string) error {
	if key == "" || len(key) > MaxKeyLen {
		return fmt.Errorf("%w: length %d, want 1 to %d bytes", ErrInvalidKey, len(key), MaxKeyLen)
	}
	return nil
}

func validateTTL(ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("%w: %v", ErrInvalidTTL, ttl)
	}
	return nil
}

// isContextErr reports whether err means that a context ended.
func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
