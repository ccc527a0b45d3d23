package cli

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"
)

// Config is every setting of every command; each command binds the subset
// it uses (see the *Settings methods).
type Config struct {
	DataDir         string
	DatabaseURL     string
	Storage         string
	Addr            string
	AdminToken      string
	LogLevel        string
	ShutdownTimeout time.Duration
	Demo            bool

	RedisURL         string
	RedisPrefix      string
	AllowUnsafeRedis bool
	WorkerQueues     string

	SeedCities, SeedSalons, SeedReviews, SeedPosts int
	SeedValue                                      uint64
	SeedProgress                                   bool
}

func (c *Config) storeSettings() []setting {
	return []setting{
		stringSetting(&c.DataDir, "data-dir", "ATLAS_DATA_DIR", "./atlas-data",
			"directory for the SQLite database atlas.db and local files; created if missing"),
		stringSetting(&c.DatabaseURL, "database-url", "ATLAS_DATABASE_URL", "",
			"postgres://… selects PostgreSQL; empty uses SQLite in the data dir"),
		stringSetting(&c.LogLevel, "log-level", "ATLAS_LOG_LEVEL", "info", "debug, info, warn or error"),
	}
}

// queueSettings select the queue backend.
func (c *Config) queueSettings() []setting {
	return append(c.storeSettings(),
		stringSetting(&c.RedisURL, "redis-url", "ATLAS_REDIS_URL", "",
			"redis://… (or rediss://, redis-sentinel://, redis-cluster://) selects the Redis queue backend; empty uses SQLite <data-dir>/queue.db"),
		stringSetting(&c.RedisPrefix, "redis-prefix", "ATLAS_REDIS_PREFIX", "bull",
			"Redis key prefix (BullMQ's default; use a hash tag such as {bull} on Redis Cluster)"),
		boolSetting(&c.AllowUnsafeRedis, "redis-allow-unsafe", "ATLAS_REDIS_ALLOW_UNSAFE", false,
			"keep /readyz green when Redis lacks AOF or noeviction (the problem is still logged)"),
	)
}

func (c *Config) serverSettings() []setting {
	return append(c.queueSettings(),
		stringSetting(&c.Addr, "addr", "ATLAS_ADDR", ":8080", "HTTP listen address; port 0 picks a free port"),
		stringSetting(&c.Storage, "storage", "ATLAS_STORAGE", "",
			"directory for uploaded files; empty means <data-dir>/media"),
		stringSetting(&c.AdminToken, "admin-token", "ATLAS_ADMIN_TOKEN", "",
			"Bearer token that acts as admin; empty disables admin access"),
		durationSetting(&c.ShutdownTimeout, "shutdown-timeout", "ATLAS_SHUTDOWN_TIMEOUT", 30*time.Second,
			"how long to drain requests and stop components on SIGINT/SIGTERM"),
	)
}

func (c *Config) runSettings() []setting {
	return append(c.serverSettings(),
		boolSetting(&c.Demo, "demo", "ATLAS_DEMO", false,
			"seed a small demo data set on first start (when the database has no cities)"),
	)
}

func (c *Config) workerSettings() []setting {
	return append(c.queueSettings(),
		stringSetting(&c.WorkerQueues, "queues", "ATLAS_WORKER_QUEUES", "",
			"comma-separated queues to work (media, notifications, analytics, maintenance); empty = all"),
		durationSetting(&c.ShutdownTimeout, "shutdown-timeout", "ATLAS_SHUTDOWN_TIMEOUT", 30*time.Second,
			"how long to stop components on SIGINT/SIGTERM"),
	)
}

func (c *Config) seedSettings() []setting {
	return append(c.storeSettings(),
		intSetting(&c.SeedCities, "cities", "ATLAS_SEED_CITIES", 20, "cities to add (real Iranian cities, then districts)"),
		intSetting(&c.SeedSalons, "salons", "ATLAS_SEED_SALONS", 500, "salons to add"),
		intSetting(&c.SeedReviews, "reviews", "ATLAS_SEED_REVIEWS", 5000, "reviews to add, spread over the new salons by a power law"),
		intSetting(&c.SeedPosts, "posts", "ATLAS_SEED_POSTS", 30, "blog posts to add"),
		uintSetting(&c.SeedValue, "seed", "ATLAS_SEED", 1, "random seed; the same seed gives the same data on an empty database"),
		boolSetting(&c.SeedProgress, "progress", "ATLAS_SEED_PROGRESS", true, "draw progress bars on stderr"),
	)
}

// storageDir is where local files go.
func (c *Config) storageDir() string {
	if c.Storage != "" {
		return c.Storage
	}
	return filepath.Join(c.DataDir, "media")
}

// level parses LogLevel.
func (c *Config) level() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.TrimSpace(c.LogLevel))); err != nil {
		return 0, fmt.Errorf("%w: log level %q: want debug, info, warn or error", errUsage, c.LogLevel)
	}
	return l, nil
}
