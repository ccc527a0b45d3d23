package app

import (
	"io"
	"log/slog"
	"net/netip"
	"time"

	"github.com/sevra/atlas/internal/dashboard"
	"github.com/sevra/atlas/internal/httpapi"
	"github.com/sevra/atlas/internal/media/imaging"
	"github.com/sevra/atlas/internal/media/storage"
	"github.com/sevra/atlas/internal/otp"
	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/seo"
	"github.com/sevra/atlas/internal/store"
)

// Config is a process's whole configuration, each setting already parsed
// into its typed value (internal/cli fills it from flags and ATLAS_*
// variables). Zero fields take the defaults stated on them.
type Config struct {
	// DataDir holds the SQLite database, the SQLite queue, local media
	// and sitemap files. Required.
	DataDir string
	// DatabaseURL selects PostgreSQL (postgres://…); empty uses SQLite in
	// DataDir.
	DatabaseURL string

	// HTTP serves the API and the dashboard (run, serve); Workers runs the
	// queue workers and schedulers (run, worker).
	HTTP, Workers bool
	// Addr is the HTTP listen address for Run; default ":8080".
	Addr string
	// AdminToken authenticates as admin (Bearer, dashboard login); empty
	// disables admin access.
	AdminToken string
	// ShutdownTimeout bounds Run's drain and Close; default 30s. It is
	// split into phase budgets (server.go): HTTP drain, workers, relay.
	ShutdownTimeout time.Duration
	// Alerts are the dashboard's alert thresholds per queue ("" for every
	// queue without its own); nil: no alerts.
	Alerts map[string]dashboard.Thresholds
	// Server holds the HTTP timeouts and connection cap.
	Server ServerConfig
	// Demo seeds demo data on first start (when there are no cities) and
	// builds the first sitemap before serving.
	Demo bool

	// Queue backend: Redis when Redis.URL is set, else SQLite
	// <DataDir>/queue.db.
	Redis RedisConfig
	// QueueOverrides change per-queue concurrency and limiters.
	QueueOverrides queues.Overrides
	// WorkerQueues limits the workers to these queues; empty: every queue
	// with handlers.
	WorkerQueues []string

	// Modes are the rollout modes per module (see Modules).
	Modes rollout.Modes
	// Outbox holds the backlog alert thresholds and retention.
	Outbox OutboxConfig
	// Storage is where media files go (a directory or an S3 bucket); the
	// zero value is <DataDir>/media.
	Storage storage.Spec
	// Media holds the upload limits, variant widths and S3 settings.
	Media MediaConfig
	// SEO holds the sitemap's base URL and nightly schedule.
	SEO SEOConfig
	// Views holds the post-view counter's settings.
	Views ViewsConfig
	// Geo holds the city statistics' repair schedule.
	Geo GeoConfig
	// CacheTTL is how long the public reads (salon and city details,
	// salon lists) stay in the read cache: zero takes httpapi's default
	// (1m); a negative value turns the cache off, every read going to the
	// database (internal/app's cache benchmark compares the two).
	CacheTTL time.Duration
	// OTP holds the login settings: SMS provider, secret, code lifetime,
	// allowed countries and rate limits.
	OTP OTPConfig

	// Logger receives every log line; nil discards them.
	Logger *slog.Logger
	// Stdout receives the start-up hints (the URLs to open); nil discards.
	Stdout io.Writer
	// Getenv reads the environment (os.Getenv in production; the AWS
	// variables of S3 storage); nil reads nothing.
	Getenv func(string) string
}

// RedisConfig selects and configures the Redis queue backend.
type RedisConfig struct {
	// URL is redis://, rediss://, redis-sentinel:// or redis-cluster://.
	URL string
	// Prefix is the key prefix; default "bull" (BullMQ's).
	Prefix string
	// AllowUnsafe keeps /readyz green when Redis lacks AOF or noeviction.
	AllowUnsafe bool
}

// OutboxConfig is the outbox's backlog alert and retention.
type OutboxConfig struct {
	// AlertRows and AlertAge: the backlog alert fires above this many
	// unpublished rows or this age of the oldest; defaults 10000 and 5m.
	AlertRows int
	AlertAge  time.Duration
	// Retention of published rows; default 24h.
	Retention time.Duration
}

// MediaConfig is the media module's configuration.
type MediaConfig struct {
	// MaxBytes and MaxPixels bound uploads; defaults 20 MiB and 50 MP.
	MaxBytes, MaxPixels int64
	// Widths are the variant widths; default 320,640,960,1280,1920.
	Widths []int
	// TempDir holds uploads being checked; default <DataDir>/tmp.
	TempDir string
	// S3 settings, used when Storage names a bucket.
	S3Region, S3Endpoint, S3PublicURL string
	S3PathStyle                       bool
}

// SEOConfig is the sitemap module's configuration.
type SEOConfig struct {
	// BaseURL is the public origin of absolute sitemap URLs; default
	// http://localhost:8080.
	BaseURL string
	// Schedule is the nightly rebuild's cron pattern ("" removes it);
	// ScheduleTZ its IANA time zone.
	Schedule, ScheduleTZ string
}

// ViewsConfig is the post-view counter's configuration.
type ViewsConfig struct {
	// FlushEvery is how often buffered views are applied to the database
	// (the flush-post-views scheduler); default 10s.
	FlushEvery time.Duration
}

// GeoConfig is the geo module's configuration.
type GeoConfig struct {
	// RepairEvery is how often every city's statistics are recomputed
	// from scratch, repairing drift (the city-stats-repair scheduler,
	// job refresh-all-city-stats on queue analytics); default 1h.
	RepairEvery time.Duration
}

// OTPConfig is the OTP login's configuration.
type OTPConfig struct {
	// Provider is ATLAS_SMS_PROVIDER: console (default), file:PATH,
	// kavenegar, smsir or twilio-verify (credentials through Getenv).
	Provider string
	// Secret keys code hashes and sealed codes (32+ bytes); empty uses
	// one generated on first start and stored in the database (shared by
	// every node on it).
	Secret []byte
	// TTL is a code's lifetime (2m to 10m); default 5m.
	TTL time.Duration
	// Countries are calling codes allowed besides Iran.
	Countries []string
	// Limits are the rate limits; zero means otp.DefaultLimits().
	Limits otp.Limits
	// SessionTTL is a user session's lifetime; default 30 days.
	SessionTTL time.Duration
	// TrustedProxies are the proxies whose X-Forwarded-For names the
	// client address the rate limits count (none: the TCP peer).
	TrustedProxies []netip.Prefix
}

// Hooks adjust the wiring for tests and benchmarks. They are not
// configuration: production passes nil to New.
type Hooks struct {
	// Store, when set, is used instead of opening DatabaseURL/DataDir;
	// the caller owns it (New migrates it; Close does not close it).
	Store *store.Store
	// Routes adjusts the collected outbox routes (e.g. shorter coalescing
	// windows).
	Routes func(outbox.Routes)
	// Outbox adjusts the outbox configuration; Relay is the relay's.
	Outbox func(*outbox.Config)
	Relay  outbox.RelayConfig
	// SEO adjusts the SEO service's configuration (e.g. its busy retry).
	SEO func(*seo.ServiceConfig)
	// Queue adjusts a queue's settings after the overrides.
	Queue func(queue string, s *queues.Settings)
	// Shadow wraps the shadow recorder the modules see (the dashboard
	// keeps reading the recorder itself), e.g. rollouttest.Faulty.
	Shadow func(rollout.Comparer) rollout.Comparer
	// ImageEngine replaces the default image engine; the App closes it.
	ImageEngine imaging.CloseableEngine
	// Components run after the App's own (started last, closed first);
	// Checks are added to /readyz.
	Components []Component
	Checks     []httpapi.Check
}
