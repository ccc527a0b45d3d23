// Package app is Atlas's one composition root. It turns a typed Config
// into a running process: database, queue backend, outbox and relay, the
// domain modules with their routes, handlers and rollout modes, queue
// workers and schedulers, and the HTTP handler. internal/cli builds a
// Config from flags and calls New and Run; tests and benchmarks build the
// same App, adjusting it only through Hooks.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/sevra/atlas/internal/httpapi"
	"github.com/sevra/atlas/internal/media"
	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/review"
	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/seed"
	"github.com/sevra/atlas/internal/seo"
	"github.com/sevra/atlas/internal/store"
	"github.com/sevra/atlas/jobq"
)

// Component is a long-running part of the process besides the HTTP
// server: queue workers, schedulers, the outbox relay. Start returns once
// the component runs (its work continues in goroutines it owns); Close
// stops it and waits for that work, within ctx's deadline.
type Component interface {
	Name() string
	Start(ctx context.Context) error
	Close(ctx context.Context) error
}

// App is one Atlas process: what New wired, ready to Start or Run.
type App struct {
	cfg      Config
	hooks    Hooks
	log      *slog.Logger
	st       *store.Store
	ownStore bool
	metrics  *prometheus.Registry

	backend  *queues.Backend
	registry *queues.Registry
	producer *queues.Producer
	outbox   *outbox.Outbox
	shadow   *rollout.Recorder
	mods     modules

	components []Component
	started    []Component
	checks     []httpapi.Check
	handler    http.Handler
	closed     bool
	// demoToken is the development admin token --demo generated (none
	// when ATLAS_ADMIN_TOKEN is set or outside --demo); printed at start.
	demoToken string
}

// New wires a process from cfg: it opens and migrates the database, seeds
// demo data when cfg.Demo asks, opens the queue backend, builds the outbox
// and every module, the workers (cfg.Workers) and the HTTP handler
// (cfg.HTTP). Nothing runs until Start or Run. hooks may be nil.
func New(ctx context.Context, cfg Config, hooks *Hooks) (_ *App, err error) {
	cfg = cfg.withDefaults()
	// a is not the named result: the error returns below set that to nil,
	// and the deferred close needs what was opened so far.
	a := &App{cfg: cfg, log: cfg.Logger, metrics: prometheus.NewRegistry()}
	if hooks != nil {
		a.hooks = *hooks
	}
	defer func() {
		if err != nil {
			a.closeAll(context.Background())
		}
	}()
	a.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := a.openStore(ctx); err != nil {
		return nil, err
	}
	if err := a.demoAdminToken(); err != nil {
		return nil, err
	}
	seeded := false
	if cfg.Demo {
		if seeded, err = a.seedDemo(ctx); err != nil {
			return nil, err
		}
	}
	a.checks = append(a.checks, httpapi.Check{Name: "database", Run: a.st.Ping})
	if err := a.openQueues(ctx); err != nil {
		return nil, err
	}
	if err := a.wireModules(ctx); err != nil {
		return nil, err
	}
	if seeded {
		if err := a.seedDemoExtras(ctx); err != nil {
			return nil, fmt.Errorf("demo data: %w", err)
		}
	}
	if cfg.Workers {
		wk, err := queues.NewWorkers(a.registry, a.backend.Driver, queues.WorkersConfig{
			Queues: cfg.WorkerQueues, Logger: a.log, Registry: a.metrics,
		})
		if err != nil {
			return nil, err
		}
		if len(wk.Queues()) > 0 {
			a.components = append(a.components, wk)
		}
	}
	a.components = append(a.components, a.hooks.Components...)
	a.awaitRedis()
	a.checks = append(a.checks, a.hooks.Checks...)
	if seeded && ctx.Err() == nil {
		a.firstSitemap(ctx)
	}
	if cfg.HTTP {
		if a.handler, err = a.newHandler(); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Stdout == nil {
		c.Stdout = io.Discard
	}
	if c.Getenv == nil {
		c.Getenv = func(string) string { return "" }
	}
	if c.Addr == "" {
		c.Addr = ":8080"
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 30 * time.Second
	}
	if c.Redis.Prefix == "" {
		c.Redis.Prefix = "bull"
	}
	if c.SEO.BaseURL == "" {
		c.SEO.BaseURL = "http://localhost:8080"
	}
	return c
}

// openStore opens the configured database (or takes Hooks.Store) and
// applies the migrations.
func (a *App) openStore(ctx context.Context) error {
	st := a.hooks.Store
	if st == nil {
		var err error
		if st, err = store.Open(ctx, a.cfg.DatabaseURL, a.cfg.DataDir); err != nil {
			return err
		}
		a.ownStore = true
	}
	a.st = st
	applied, err := st.Migrate(ctx)
	if err != nil {
		return err
	}
	a.log.Info("database ready", "dialect", st.Dialect(), "migrations_applied", applied)
	return nil
}

// seedDemo seeds seed.Demo when the database has no cities yet and
// reports whether it did.
func (a *App) seedDemo(ctx context.Context) (bool, error) {
	n, err := a.st.CountCities(ctx)
	if err != nil {
		return false, err
	}
	if n > 0 {
		a.log.Info("demo data skipped: the database already has cities", "cities", n)
		return false, nil
	}
	res, err := seed.Run(ctx, a.st, seed.Demo)
	if err != nil {
		return false, fmt.Errorf("demo data: %w", err)
	}
	a.log.Info("demo data seeded", "cities", res.Cities, "salons", res.Salons, "reviews", res.Reviews, "posts", res.Posts)
	return true, nil
}

// openQueues opens the queue backend, the registry with each queue's
// settings, and the producer.
func (a *App) openQueues(ctx context.Context) error {
	b, err := queues.OpenBackend(ctx, queues.BackendConfig{
		RedisURL: a.cfg.Redis.URL, RedisPrefix: a.cfg.Redis.Prefix, AllowUnsafeRedis: a.cfg.Redis.AllowUnsafe,
		DataDir: a.cfg.DataDir, Logger: a.log,
	})
	if err != nil {
		return err
	}
	a.log.Info("queue backend ready", "kind", b.Kind, "location", b.Location)
	a.backend = b
	// First in, so closed last: after the workers stopped.
	a.components = append(a.components, closer{name: "queue backend", close: func(context.Context) error { return b.Close() }})
	// On Redis, an API node serves reads and takes writes through the
	// outbox while Redis is down: the check degrades /readyz rather than
	// failing it (see docs/OPERATIONS.md).
	name := "queue"
	if b.Kind == "redis" {
		name = "redis"
	}
	a.checks = append(a.checks, httpapi.Check{Name: name, Run: b.Check, Degradable: b.Kind == "redis"})
	a.registry = queues.NewRegistry()
	a.cfg.QueueOverrides.Apply(a.registry)
	// Queue depth for autoscaling, read at scrape time (docs/OPERATIONS.md).
	a.metrics.MustRegister(queues.NewDepthCollector(b.Driver, queues.Queues, 0, a.log))
	return nil
}

// awaitRedis lets the process start while Redis is down: on the Redis
// backend, every component that may need Redis to start (workers,
// scheduler upserts, relays) retries its start in the background
// instead of failing the process (see awaitDependency).
func (a *App) awaitRedis() {
	if a.backend.Kind != "redis" {
		return
	}
	for i, c := range a.components {
		if _, onlyCloses := c.(closer); onlyCloses {
			continue
		}
		a.components[i] = &awaitDependency{inner: c, dep: "redis", log: a.log,
			probe: func(ctx context.Context) error { return jobq.Ping(ctx, a.backend.Driver) }}
	}
}

// Handler is the process's HTTP interface (nil unless Config.HTTP).
func (a *App) Handler() http.Handler { return a.handler }

// Store is the process's database.
func (a *App) Store() *store.Store { return a.st }

// Queues adds jobs with each queue's defaults, and opens queue handles.
func (a *App) Queues() *queues.Producer { return a.producer }

// Backend is the open queue backend.
func (a *App) Backend() *queues.Backend { return a.backend }

// Outbox writes and publishes domain events.
func (a *App) Outbox() *outbox.Outbox { return a.outbox }

// Reviews is the reviews module's service.
func (a *App) Reviews() *review.Service { return a.mods.reviews }

// SEO is the sitemap module's service.
func (a *App) SEO() *seo.Service { return a.mods.seo }

// Media is the media module's service.
func (a *App) Media() *media.Service { return a.mods.media }

// Shadow is the shadow-mode recorder (what the dashboard reads).
func (a *App) Shadow() *rollout.Recorder { return a.shadow }

// Metrics is the Prometheus registry /metrics serves.
func (a *App) Metrics() *prometheus.Registry { return a.metrics }

// Start starts every component in order (workers, schedulers, relay).
// On an error the components already started keep running until Close.
func (a *App) Start(ctx context.Context) error {
	for _, c := range a.components[len(a.started):] {
		if err := c.Start(ctx); err != nil {
			return fmt.Errorf("start %s: %w", c.Name(), err)
		}
		a.started = append(a.started, c)
	}
	return nil
}

// Close stops the started components in reverse order, closes the rest
// (queue backend, image engine) and the database, within ctx's deadline.
// It is safe to call more than once.
func (a *App) Close(ctx context.Context) error {
	if a.closed {
		return nil
	}
	return a.closeAll(ctx)
}

func (a *App) closeAll(ctx context.Context) error {
	return errors.Join(a.closePhased(ctx, ctx)...)
}

// closePhased is closeAll with two budgets: work (queue workers,
// schedulers, hooks) stops within workCtx; the outbox relay and the
// closers (image engine, temp dir, queue backend), which come after it,
// get finalCtx, so slow workers cannot take the relay's time.
func (a *App) closePhased(workCtx, finalCtx context.Context) []error {
	if a.closed {
		return nil
	}
	a.closed = true
	var errs []error
	for i := len(a.components) - 1; i >= 0; i-- {
		c := a.components[i]
		_, onlyCloses := c.(closer)
		if !onlyCloses && !slices.Contains(a.started, c) {
			continue // never started: nothing to stop
		}
		ctx := workCtx
		if _, relay := c.(*outbox.Relay); relay || onlyCloses {
			ctx = finalCtx
		}
		if err := c.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", c.Name(), err))
		}
	}
	if a.st != nil && a.ownStore {
		if err := a.st.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close database: %w", err))
		}
	}
	return errs
}

// Run serves HTTP on Config.Addr (when Config.HTTP) and runs every
// component until ctx is cancelled, then drains requests and stops the
// components within ShutdownTimeout, in phases with their own budgets
// (server.go), and closes the App. It owns every
// goroutine of the process through one errgroup and returns nil after a
// clean shutdown.
func (a *App) Run(ctx context.Context) error {
	var srv *http.Server
	var ln net.Listener
	cut := context.CancelCauseFunc(func(error) {})
	if a.handler != nil {
		var err error
		if ln, srv, cut, err = a.listen(); err != nil {
			a.Close(context.Background())
			return fmt.Errorf("listen on %s: %w", a.cfg.Addr, err)
		}
		defer cut(nil)
	}
	if a.cfg.Workers && len(a.components) == 0 {
		fmt.Fprintln(a.cfg.Stdout, "no queue has job handlers yet; workers idle until SIGINT/SIGTERM")
	}
	g, gctx := errgroup.WithContext(ctx)
	if srv != nil {
		g.Go(func() error {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("http server: %w", err)
			}
			return nil
		})
	}
	if err := a.Start(gctx); err != nil && ctx.Err() == nil {
		// SIGINT/SIGTERM during start-up is a normal shutdown of what
		// has started, not a failure.
		g.Go(func() error { return err }) // cancels gctx, so shutdown below runs
	} else if ln != nil && len(a.started) == len(a.components) {
		// Announced once every component has started, so what the URLs
		// lead to is fully up (workers, schedulers, relays).
		printURLs(a.cfg.Stdout, ln.Addr(), a.demoToken)
	}
	g.Go(func() error {
		<-gctx.Done()
		a.log.Info("shutting down", "timeout", a.cfg.ShutdownTimeout)
		return a.shutdown(context.WithoutCancel(ctx), srv, cut)
	})
	if err := g.Wait(); err != nil {
		return err
	}
	a.log.Info("stopped")
	return nil
}

// printURLs tells a newcomer where to look.
func printURLs(w io.Writer, addr net.Addr, demoToken string) {
	fmt.Fprintf(w, "listening on %s\n", addr)
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	base := "http://" + net.JoinHostPort(host, port)
	fmt.Fprintf(w, "  Site:      %s/\n", base)
	fmt.Fprintf(w, "  API:       %s/api/v1/salons\n", base)
	fmt.Fprintf(w, "  Dashboard: %s/admin/jobs   (log in with the admin token, ATLAS_ADMIN_TOKEN)\n", base)
	if demoToken != "" {
		fmt.Fprintf(w, "  Admin token (development only, generated by --demo): %s\n", demoToken)
		fmt.Fprintf(w, "             export ATLAS_ADMIN_TOKEN=%s\n", demoToken)
	}
	fmt.Fprintf(w, "  Sitemap:   %s/sitemap.xml  (built nightly, at a first --demo start, or by POST /api/v1/admin/sitemap/rebuild)\n", base)
	fmt.Fprintf(w, "  Health:    %s/healthz  %s/readyz  %s/metrics\n", base, base, base)
}

// closer is a component that only closes something (the queue backend,
// the image engine) after the components before it stopped.
type closer struct {
	name  string
	close func(context.Context) error
}

func (c closer) Name() string                    { return c.name }
func (c closer) Start(context.Context) error     { return nil }
func (c closer) Close(ctx context.Context) error { return c.close(ctx) }
