package queues

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sevra/atlas/jobq"
	"github.com/sevra/atlas/jobq/jobqredis"
	"github.com/sevra/atlas/jobq/jobqsqlite"
)

// BackendConfig selects and configures the queue backend.
type BackendConfig struct {
	// RedisURL selects Redis (redis://, rediss://, redis-sentinel://,
	// redis-cluster://). Empty selects SQLite.
	RedisURL string
	// RedisPrefix is the key prefix; default "bull" (BullMQ's), so Node
	// BullMQ and bull-board see the same queues. Use a hash tag such as
	// "{bull}" on Redis Cluster.
	RedisPrefix string
	// AllowUnsafeRedis keeps /readyz green when Redis lacks AOF or
	// noeviction (the problems are still logged). Default false.
	AllowUnsafeRedis bool
	// DataDir holds the SQLite queue file queue.db.
	DataDir string
	Logger  *slog.Logger
}

// startPingTimeout bounds the PING at start that decides whether to
// report Redis as unreachable; the process starts either way.
const startPingTimeout = 3 * time.Second

// Backend is an open queue backend.
type Backend struct {
	// Driver is the jobq backend.
	Driver jobq.Backend
	// Kind is "sqlite" or "redis".
	Kind string
	// Location describes where the queues live (a file or a Redis address).
	Location string

	allowUnsafe bool
	shared      redis.UniversalClient
}

// OpenBackend opens the backend cfg selects.
func OpenBackend(ctx context.Context, cfg BackendConfig) (*Backend, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.RedisURL != "" {
		prefix := cfg.RedisPrefix
		if prefix == "" {
			prefix = "bull"
		}
		// Dial, not Open: a process starts during a Redis outage, reports
		// it (/readyz, atlas_dependency_up) and its clients reconnect
		// when Redis returns.
		d, err := jobqredis.Dial(cfg.RedisURL, &jobqredis.Config{Prefix: prefix, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("open redis queue backend: %w", err)
		}
		b := &Backend{Driver: d, Kind: "redis", Location: redactURL(cfg.RedisURL), allowUnsafe: cfg.AllowUnsafeRedis}
		if b.shared, err = sharedClient(cfg.RedisURL); err != nil {
			d.Close()
			return nil, err
		}
		pctx, cancel := context.WithTimeout(ctx, startPingTimeout)
		defer cancel()
		if err := jobq.Ping(pctx, d); err != nil {
			log.Warn("redis is unreachable; starting without it and reconnecting in the background",
				"redis", b.Location, "err", err)
			return b, nil
		}
		if h, ok, err := jobq.Health(ctx, d); ok && err == nil && !h.OK() {
			log.Warn("redis is not configured for durable queues", "warnings", strings.Join(h.Warnings, "; "))
		}
		return b, nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	path := filepath.Join(cfg.DataDir, "queue.db")
	d, err := jobqsqlite.Open(ctx, path, &jobqsqlite.Config{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("open sqlite queue backend: %w", err)
	}
	return &Backend{Driver: d, Kind: "sqlite", Location: path}, nil
}

// RedisClient is a connection pool to the Redis of a Redis backend, for
// Atlas's other shared state (the read cache, rate limits), separate from
// the queue's and with context deadlines honoured; nil on SQLite. Close
// closes it.
func (b *Backend) RedisClient() redis.UniversalClient {
	if b.shared == nil {
		return nil
	}
	return b.shared
}

// ErrUnsafeRedis reports Redis settings that can lose jobs.
var ErrUnsafeRedis = errors.New("redis is not safe for queues")

// Check is the readiness probe: the backend answers, and a backend that
// reports its health (Redis) reports no warning, such as missing AOF,
// eviction or a version below 6.2 (unless AllowUnsafeRedis).
func (b *Backend) Check(ctx context.Context) error {
	h, ok, err := jobq.Health(ctx, b.Driver)
	if !ok {
		return jobq.Ping(ctx, b.Driver)
	}
	if err != nil {
		return err
	}
	if !h.OK() && !b.allowUnsafe {
		return fmt.Errorf("%w: %s", ErrUnsafeRedis, strings.Join(h.Warnings, "; "))
	}
	return nil
}

// Close closes the backend.
func (b *Backend) Close() error {
	var err error
	if b.shared != nil {
		err = b.shared.Close()
	}
	return errors.Join(b.Driver.Close(), err)
}

// sharedClient opens a second connection pool to the queue's Redis for
// Atlas's own shared state, with context deadlines honoured on reads
// (ContextTimeoutEnabled), so a slow Redis costs a request at most the
// caller's deadline.
func sharedClient(url string) (redis.UniversalClient, error) {
	o, err := jobqredis.ParseURL(url)
	if err != nil {
		return nil, err
	}
	switch {
	case o.Failover != nil:
		o.Failover.ContextTimeoutEnabled = true
	case o.Cluster != nil:
		o.Cluster.ContextTimeoutEnabled = true
	default:
		o.Single.ContextTimeoutEnabled = true
	}
	return o.NewClient(), nil
}

// redactURL hides a password in a URL.
func redactURL(raw string) string {
	at := strings.LastIndex(raw, "@")
	scheme := strings.Index(raw, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return raw
	}
	return raw[:scheme+3] + "***" + raw[at:]
}
