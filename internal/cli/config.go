package cli

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/sevra/atlas/internal/app"
	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/rollout"
)

// Config is every setting of every command; each command binds the subset
// it uses (see the *Settings methods). The process settings are parsed
// straight into app.Config's typed fields.
type Config struct {
	app.Config
	LogLevel string
	// MemoryLimit is the Go runtime's soft memory limit for run, serve
	// and worker (debug.SetMemoryLimit); 0 leaves the runtime's default
	// (or GOMEMLIMIT, which wins when set).
	MemoryLimit int64

	SeedCities, SeedSalons, SeedReviews, SeedPosts int
	SeedValue                                      uint64
	SeedProgress                                   bool

	// QueueJSON is `atlas queue --json` given before the subcommand.
	QueueJSON bool

	// alertRate and alertOldest are the parsed alert lists (see alerts.go).
	alertRate   map[string]float64
	alertOldest map[string]time.Duration
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
		stringSetting(&c.Redis.URL, "redis-url", "ATLAS_REDIS_URL", "",
			"redis://… (or rediss://, redis-sentinel://, redis-cluster://) selects the Redis queue backend; empty uses SQLite <data-dir>/queue.db"),
		stringSetting(&c.Redis.Prefix, "redis-prefix", "ATLAS_REDIS_PREFIX", "bull",
			"Redis key prefix (BullMQ's default; use a hash tag such as {bull} on Redis Cluster)"),
		boolSetting(&c.Redis.AllowUnsafe, "redis-allow-unsafe", "ATLAS_REDIS_ALLOW_UNSAFE", false,
			"keep /readyz green when Redis lacks AOF or noeviction (the problem is still logged)"),
	)
}

// moduleSettings are the rollout modes, queue overrides and outbox
// thresholds of the processes that produce or run jobs.
func (c *Config) moduleSettings() []setting {
	var out []setting
	for _, m := range app.Modules() {
		out = append(out, modeSetting(c, m))
	}
	out = append(out, c.sitemapSettings()...)
	return append(out,
		setting{flag: "queue-concurrency", env: "ATLAS_QUEUE_CONCURRENCY", def: "",
			usage: "per-queue worker concurrency, e.g. media=4,analytics=20 (defaults: media=CPUs, analytics=10, maintenance=1)",
			set: func(v string) error {
				o, err := queues.ParseOverrides(v, "")
				c.QueueOverrides.Concurrency = o.Concurrency
				return err
			}},
		setting{flag: "queue-limiter", env: "ATLAS_QUEUE_LIMITER", def: "",
			usage: "per-queue rate limit across workers as MAX/DURATION or off, e.g. media=10/1s (default: media=10/1s)",
			set: func(v string) error {
				o, err := queues.ParseOverrides("", v)
				c.QueueOverrides.Limiter = o.Limiter
				return err
			}},
		durationSetting(&c.Views.FlushEvery, "views-flush-every", "ATLAS_VIEWS_FLUSH_EVERY", 10*time.Second,
			"how often buffered post views are applied to the database (scheduler flush-post-views on queue analytics)"),
		durationSetting(&c.Geo.RepairEvery, "city-stats-repair-every", "ATLAS_CITY_STATS_REPAIR_EVERY", time.Hour,
			"how often every city's statistics are recomputed to repair drift (scheduler city-stats-repair, job refresh-all-city-stats on queue analytics)"),
		intSetting(&c.Outbox.AlertRows, "outbox-alert-rows", "ATLAS_OUTBOX_ALERT_ROWS", 10_000,
			"unpublished outbox rows above which /readyz reports the outbox degraded (?strict=1 fails) and atlas_outbox_backlog_alert is 1"),
		durationSetting(&c.Outbox.AlertAge, "outbox-alert-age", "ATLAS_OUTBOX_ALERT_AGE", 5*time.Minute,
			"age of the oldest unpublished outbox row above which the backlog alert fires"),
		durationSetting(&c.Outbox.Retention, "outbox-retention", "ATLAS_OUTBOX_RETENTION", 24*time.Hour,
			"how long published outbox rows are kept before the relay prunes them"),
	)
}

// checked validates a setting's value with check before storing it.
func checked(s setting, check func(string) error) setting {
	set := s.set
	s.set = func(v string) error {
		if err := check(v); err != nil {
			return err
		}
		return set(v)
	}
	return s
}

// modeSetting is ATLAS_MODE_<MODULE> / --mode-<module>.
func modeSetting(c *Config, m rollout.Module) setting {
	return setting{flag: "mode-" + string(m), env: "ATLAS_MODE_" + strings.ToUpper(string(m)), def: string(rollout.DefaultMode),
		usage: "rollout mode of the " + string(m) + " module: sync (in the request), shadow (in the request and in a worker, compared) or async (worker only)",
		set: func(v string) error {
			mode, err := rollout.ParseMode(v)
			if err != nil {
				return err
			}
			if c.Modes == nil {
				c.Modes = rollout.Modes{}
			}
			c.Modes[m] = mode
			return nil
		}}
}

// memorySetting is ATLAS_MEMORY_LIMIT.
func (c *Config) memorySetting() setting {
	return setting{flag: "memory-limit", env: "ATLAS_MEMORY_LIMIT", def: "200MiB",
		usage: "Go soft memory limit (bytes, or with KiB/MiB/GiB): the garbage collector works harder near it, so decoded images are freed before new ones grow the heap; 0 = none; GOMEMLIMIT wins when set",
		set: func(v string) (err error) {
			if strings.TrimSpace(v) == "0" {
				c.MemoryLimit = 0
				return nil
			}
			c.MemoryLimit, err = parseByteSize(v)
			return err
		}}
}

func (c *Config) serverSettings() []setting {
	return append(append(append(append(append(append(c.queueSettings(), c.moduleSettings()...), c.mediaSettings()...), c.otpSettings()...), c.memorySetting()),
		stringSetting(&c.Addr, "addr", "ATLAS_ADDR", ":8080", "HTTP listen address; port 0 picks a free port"),
		stringSetting(&c.AdminToken, "admin-token", "ATLAS_ADMIN_TOKEN", "",
			"Bearer token that acts as admin; empty disables admin access"),
		durationSetting(&c.ShutdownTimeout, "shutdown-timeout", "ATLAS_SHUTDOWN_TIMEOUT", 30*time.Second,
			"how long to drain requests and stop components on SIGINT/SIGTERM (50% HTTP drain, then workers to 85%, then the outbox relay)"),
		durationSetting(&c.Server.ReadTimeout, "http-read-timeout", "ATLAS_HTTP_READ_TIMEOUT", 30*time.Second,
			"longest time to read a request, body included"),
		durationSetting(&c.Server.WriteTimeout, "http-write-timeout", "ATLAS_HTTP_WRITE_TIMEOUT", 60*time.Second,
			"longest time from a request's headers to the end of its answer"),
		durationSetting(&c.Server.LongTimeout, "http-long-timeout", "ATLAS_HTTP_LONG_TIMEOUT", 5*time.Minute,
			"read and write deadline of uploads and the sitemap rebuild (authenticated)"),
		durationSetting(&c.Server.IdleTimeout, "http-idle-timeout", "ATLAS_HTTP_IDLE_TIMEOUT", 60*time.Second,
			"close keep-alive connections idle this long"),
		intSetting(&c.Server.MaxConns, "http-max-conns", "ATLAS_HTTP_MAX_CONNS", 1024,
			"most open HTTP connections; more wait to be accepted"),
	), c.alertSettings()...)
}

func (c *Config) runSettings() []setting {
	return append(c.serverSettings(),
		boolSetting(&c.Demo, "demo", "ATLAS_DEMO", false,
			"seed a small demo data set on first start (when the database has no cities) and build its sitemap"),
	)
}

func (c *Config) workerSettings() []setting {
	return append(append(append(append(append(c.queueSettings(), c.moduleSettings()...), c.mediaSettings()...), c.otpSettings()...), c.memorySetting()),
		setting{flag: "queues", env: "ATLAS_WORKER_QUEUES", def: "",
			usage: "comma-separated queues to work (" + strings.Join(queues.Queues, ", ") + "); empty = all",
			set:   func(v string) error { c.WorkerQueues = splitList(v); return nil }},
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

// level parses LogLevel.
func (c *Config) level() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.TrimSpace(c.LogLevel))); err != nil {
		return 0, fmt.Errorf("%w: log level %q: want debug, info, warn or error", errUsage, c.LogLevel)
	}
	return l, nil
}
