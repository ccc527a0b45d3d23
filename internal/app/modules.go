package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	_ "time/tzdata" // the nightly schedule's time zone (Asia/Tehran) on hosts without zoneinfo

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sevra/atlas/internal/auth"
	"github.com/sevra/atlas/internal/cache"
	"github.com/sevra/atlas/internal/dashboard"
	"github.com/sevra/atlas/internal/geo"
	"github.com/sevra/atlas/internal/httpapi"
	"github.com/sevra/atlas/internal/media"
	"github.com/sevra/atlas/internal/media/imaging"
	"github.com/sevra/atlas/internal/media/storage"
	"github.com/sevra/atlas/internal/otp"
	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/review"
	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/seo"
	"github.com/sevra/atlas/internal/views"
)

// Modules lists every module's rollout name, in the order settings and
// the dashboard show them. A new module adds its name here and its wiring
// to wireModules.
func Modules() []rollout.Module {
	return []rollout.Module{media.Module, seo.Module, review.Module, geo.Module, views.Module, otp.Module}
}

// Routes collects every module's outbox routes into one table.
func Routes() (outbox.Routes, error) {
	var rs []outbox.Route
	for _, m := range [][]outbox.Route{media.Routes(), seo.Routes(), review.Routes(), geo.Routes(), otp.Routes()} {
		rs = append(rs, m...)
	}
	return outbox.NewRoutes(rs...)
}

// modules are the wired domain modules.
type modules struct {
	cities     *geo.Service
	reviews    *review.Service
	media      *media.Service
	mediaFiles http.Handler
	// storage is the media storage, shared by every node (a directory or
	// S3); sitemap generations are published there too.
	storage  storage.Storage
	seo      *seo.Service
	seoHTTP  *httpapi.SEODeps
	otp      *otp.Service
	sessions *auth.Sessions
	// cache is the read-through cache of public reads; hub fans every
	// invalidation out to it, in every process (writers and jobs alike).
	cache httpapi.ReadCache
	hub   *seo.CacheHub
	views *views.Service
}

// openCache builds the read-through cache (Redis when the queue backend is
// Redis, shared by every node; in process otherwise) and the invalidation
// hub every writer and job uses.
func (a *App) openCache() error {
	var c httpapi.ReadCache
	if rc := a.backend.RedisClient(); rc != nil {
		r, err := cache.NewRedis(rc, cache.RedisConfig{Prefix: a.cfg.Redis.Prefix + ":atlas:cache",
			Registerer: a.metrics, Logger: a.log})
		if err != nil {
			return err
		}
		// Closed before the Redis client (components close in reverse).
		a.components = append(a.components, closer{name: "read cache batcher", close: r.Close})
		c = r
	} else {
		m, err := cache.NewMemory(cache.MemoryConfig{Registerer: a.metrics})
		if err != nil {
			return err
		}
		c = m
	}
	a.mods.cache = c
	a.mods.hub = &seo.CacheHub{}
	a.mods.hub.Attach(httpapi.CacheInvalidator{Cache: c, Slugs: a.st})
	return nil
}

// wireModules builds the outbox and its relay, then each module, and
// registers the modules' job handlers. Every process (run, serve, worker)
// runs a relay: several relays share the outbox safely.
func (a *App) wireModules(ctx context.Context) error {
	if a.hooks.Queue != nil {
		for _, q := range queues.Queues {
			s := a.registry.Settings(q)
			a.hooks.Queue(q, &s)
			a.registry.SetSettings(q, s)
		}
	}
	a.producer = queues.NewProducer(a.registry, a.backend.Driver)
	rec, err := rollout.NewRecorder(a.log, a.metrics, 100)
	if err != nil {
		return err
	}
	rec.SetResults(shadowResults{st: a.st})
	a.shadow = rec
	var shadow rollout.Comparer = rec
	if a.hooks.Shadow != nil {
		shadow = a.hooks.Shadow(rec)
	}
	routes, err := Routes()
	if err != nil {
		return err
	}
	if a.hooks.Routes != nil {
		a.hooks.Routes(routes)
	}
	oc := outbox.Config{Store: a.st, Jobs: a.producer, Routes: routes, Logger: a.log, Registry: a.metrics,
		BacklogAlertRows: a.cfg.Outbox.AlertRows, BacklogAlertAge: a.cfg.Outbox.AlertAge, Retention: a.cfg.Outbox.Retention}
	if a.hooks.Outbox != nil {
		a.hooks.Outbox(&oc)
	}
	if a.outbox, err = outbox.New(oc); err != nil {
		return err
	}
	cfg := a.cfg
	m := &a.mods
	if err := a.openCache(); err != nil {
		return err
	}
	m.cities = geo.NewService(a.st, shadow, a.log)
	m.cities.SetCache(m.hub)
	m.reviews = review.NewService(review.Config{Store: a.st, Outbox: a.outbox, Cities: m.cities, Modes: cfg.Modes,
		Shadow: shadow, Cache: m.hub, Logger: a.log})
	m.cities.Register(a.registry)
	m.reviews.Register(a.registry)
	a.scheduleCityRepair()
	if err := a.wireMedia(ctx, shadow); err != nil {
		return err
	}
	if err := a.wireSEO(shadow); err != nil {
		return err
	}
	if err := a.wireOTP(shadow); err != nil {
		return err
	}
	if err := a.wireViews(shadow); err != nil {
		return err
	}
	// Every route must reach a handler in some process: a route whose job
	// no module registered is a wiring bug, found here rather than as
	// jobs failing with "no handler".
	for _, r := range routes {
		if !slices.Contains(a.registry.JobNames(r.Queue), r.Job) {
			return fmt.Errorf("route %s: no handler for %s on queue %s", r.Event, r.Job, r.Queue)
		}
	}
	a.components = append(a.components, a.outbox.NewRelay(a.hooks.Relay))
	// A backlog alert is reported, not a reason to take the node out of a
	// load balancer: writes still land in the outbox (see OPERATIONS).
	a.checks = append(a.checks, httpapi.Check{Name: "outbox", Run: a.outbox.Check, Degradable: true})
	a.log.Info("rollout modes", "modes", cfg.Modes.Format(Modules()))
	return nil
}

// wireMedia builds the media service (storage, engine, repo, outbox) and
// registers generate-variants. Its engine goes in before the workers, so
// it is closed after them.
func (a *App) wireMedia(ctx context.Context, shadow rollout.Comparer) error {
	cfg := a.cfg
	st, files, err := a.openStorage(ctx)
	if err != nil {
		return err
	}
	engine := a.hooks.ImageEngine
	if engine == nil {
		if engine, err = imaging.OpenDefault(imaging.Config{Logger: a.log}); err != nil {
			return fmt.Errorf("image engine: %w", err)
		}
	}
	a.components = append(a.components, closer{name: "image engine (" + engine.Name() + ")",
		close: func(context.Context) error { return engine.Close() }})
	tmp := cfg.Media.TempDir
	if tmp == "" {
		tmp = filepath.Join(cfg.DataDir, "tmp")
	}
	svc, err := media.New(media.Config{
		Storage: st, Engine: engine, Repo: media.NewSQLRepo(a.st.DB(), a.st.Dialect()), Logger: a.log, TempDir: tmp,
		Limits: media.Limits{MaxBytes: cfg.Media.MaxBytes, MaxPixels: cfg.Media.MaxPixels},
		Spec:   imaging.Spec{Widths: cfg.Media.Widths},
		Mode:   cfg.Modes.Mode(media.Module), Outbox: a.outbox, Shadow: shadow,
	})
	if err != nil {
		return err
	}
	// Closed before the engine: removes this process's temp directory.
	a.components = append(a.components, closer{name: "media temp dir", close: func(context.Context) error { return svc.Close() }})
	svc.Register(a.registry)
	a.mods.media, a.mods.mediaFiles, a.mods.storage = svc, files, st
	a.log.Info("media", "engine", engine.Name(), "storage", a.storageLabel(), "mode", svc.Mode())
	return nil
}

// storageDir is where local files go: the Storage directory, else
// <DataDir>/media (also with S3 storage, where it stays empty).
func (a *App) storageDir() string {
	if a.cfg.Storage.Dir != "" {
		return a.cfg.Storage.Dir
	}
	return filepath.Join(a.cfg.DataDir, "media")
}

func (a *App) storageLabel() string {
	if a.cfg.Storage.S3() {
		return a.cfg.Storage.String()
	}
	return a.storageDir()
}

// openStorage opens the media storage; files serves /media/ for local
// storage (nil for S3, whose URLs point at the bucket or S3PublicURL).
func (a *App) openStorage(ctx context.Context) (storage.Storage, http.Handler, error) {
	spec := a.cfg.Storage
	if spec.S3() {
		m := a.cfg.Media
		if m.S3Endpoint == "" {
			// The SDK reads AWS_ENDPOINT_URL_S3 itself; public URLs need it too.
			m.S3Endpoint = a.cfg.Getenv("AWS_ENDPOINT_URL_S3")
		}
		st, err := storage.NewS3(ctx, storage.S3Config{Bucket: spec.Bucket, Prefix: spec.Prefix, Region: m.S3Region,
			Endpoint: m.S3Endpoint, PathStyle: m.S3PathStyle, PublicURL: m.S3PublicURL})
		if err != nil {
			return nil, nil, err
		}
		return st, nil, nil
	}
	if err := os.MkdirAll(a.storageDir(), 0o755); err != nil {
		return nil, nil, fmt.Errorf("create storage dir: %w", err)
	}
	local, err := storage.NewLocal(a.storageDir(), "")
	if err != nil {
		return nil, nil, err
	}
	return local, local.Handler("media/"), nil
}

// newHandler builds the HTTP interface over the wired modules.
func (a *App) newHandler() (http.Handler, error) {
	m := a.mods
	deps := httpapi.Deps{Logger: a.log, Store: a.st, Registry: a.metrics, Checks: a.checks, AdminToken: a.cfg.AdminToken,
		Users: a.st, Reviews: m.reviews, SEO: m.seoHTTP, Media: m.media, MediaFiles: m.mediaFiles,
		Sessions: m.sessions, OTP: m.otp, Logout: m.sessions, TrustedProxies: a.cfg.OTP.TrustedProxies, Cache: m.cache,
		Views: m.views, LongTimeout: a.cfg.Server.withDefaults().LongTimeout,
		// failed authentications are counted across nodes: a per-process
		// count would give a guesser one budget per API node
		AuthLimiter: a.sharedLimiter("", a.limiterFallbacks("atlas_auth_limiter_fallbacks_total",
			"Failed-authentication counts made in this process because the shared (Redis) limiter did not answer.",
			"auth: redis failed-authentication limiter unavailable; counting in this process only"))}
	if a.cfg.CacheTTL != 0 {
		ttl := max(a.cfg.CacheTTL, 0) // 0: httpapi reads without the cache
		deps.CacheTTL = &ttl
	}
	if a.cfg.AdminToken == "" {
		// No admin token, no dashboard: /admin/* is not mounted at all,
		// so no cookie (forged or not) can reach it.
		return httpapi.NewHandler(deps)
	}
	var cookies auth.CookieStore // nil: the dashboard keeps sessions in memory
	if m.sessions != nil {
		cookies = m.sessions // in the database: logout ends a session in every process
	}
	dash, err := dashboard.New(dashboard.Config{Backend: a.backend, Modules: Modules(), Modes: a.cfg.Modes,
		AdminToken: a.cfg.AdminToken, Logger: a.log, Outbox: a.outbox, Shadow: a.shadow, Alerts: a.cfg.Alerts, Sessions: cookies})
	if err != nil {
		return nil, err
	}
	// The alert gauges (atlas_jobs_*) read the dashboard's cached overview.
	if err := a.metrics.Register(dash.Collector()); err != nil && !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
		return nil, fmt.Errorf("register dashboard alert metrics: %w", err)
	}
	deps.Dashboard = dash
	if err := a.wireSite(&deps); err != nil {
		return nil, err
	}
	return httpapi.NewHandler(deps)
}
