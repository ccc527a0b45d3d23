package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/sevra/atlas/internal/geo"
	"github.com/sevra/atlas/internal/httpapi"
	"github.com/sevra/atlas/internal/media"
	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/review"
	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/sitemap"
	"github.com/sevra/atlas/internal/store"
)

// Component is a long-running part of the process besides the HTTP server:
// queue workers, schedulers, the outbox relay. Start returns once the
// component is running (its work continues in goroutines it owns); Close
// stops it and waits for that work to end, within ctx's deadline (the
// shutdown timeout). run() starts components in order after the store is
// ready and closes them in reverse order on shutdown, after HTTP has
// drained.
type Component interface {
	Name() string
	Start(ctx context.Context) error
	Close(ctx context.Context) error
}

// Services is what a process runs besides the HTTP API: its components and
// the readiness checks they add to /readyz.
type Services struct {
	Components []Component
	Checks     []httpapi.Check
	// Jobs adds jobs with each queue's defaults (nil in tests that
	// replace buildServices).
	Jobs *queues.Producer
	// Queues is the queue backend, for the dashboard and admin routes.
	Queues *queues.Backend
	// Outbox writes and publishes domain events (nil in tests that replace
	// buildServices).
	Outbox *outbox.Outbox
	// Shadow holds the shadow-mode comparison counts for the dashboard.
	Shadow *rollout.Recorder
	// SEO serves the sitemap, robots.txt and the SEO admin routes (nil:
	// routes off; see seo.go).
	SEO *httpapi.SEODeps
	// Sitemaps builds sitemaps in the caller's goroutine (the first build
	// after a demo seed); nil when the SEO module is not wired.
	Sitemaps interface {
		RebuildNow(ctx context.Context) (sitemap.Stats, error)
	}
	// Reviews serves POST /api/v1/salons/{slug}/reviews (nil: route off).
	Reviews *review.Service
	// Media serves /api/v1/media (nil: routes off); MediaFiles serves
	// /media/ for local storage (see media.go).
	Media      *media.Service
	MediaFiles http.Handler
}

// Wiring is what buildServices gets to construct components from.
type Wiring struct {
	Config   *Config
	Store    *store.Store
	Logger   *slog.Logger
	Registry *prometheus.Registry
	// Workers is true for `run` and `worker`, false for `serve`.
	Workers bool
}

// buildServices is the hook where queue workers, schedulers and the outbox
// relay plug in. It always registers the database readiness check.
func buildServices(ctx context.Context, w Wiring) (Services, error) {
	s := Services{Checks: []httpapi.Check{{Name: "database", Run: w.Store.Ping}}}
	backend, err := openQueues(ctx, w.Config, w.Logger)
	if err != nil {
		return s, err
	}
	// First in, so closed last: after the workers stopped.
	s.Components = append(s.Components, backendCloser{backend})
	s.Checks = append(s.Checks, httpapi.Check{Name: "queue", Run: backend.Check})
	s.Queues = backend
	reg := queues.NewRegistry()
	ov, err := queues.ParseOverrides(w.Config.QueueConcurrency, w.Config.QueueLimiter)
	if err != nil {
		backend.Close()
		return s, err
	}
	ov.Apply(reg)
	s.Jobs = queues.NewProducer(reg, backend.Driver)
	if err := wireModules(&s, w, reg); err != nil {
		backend.Close()
		return s, err
	}
	if w.Workers {
		wk, err := queues.NewWorkers(reg, backend.Driver, queues.WorkersConfig{
			Queues: splitList(w.Config.WorkerQueues), Logger: w.Logger, Registry: w.Registry,
		})
		if err != nil {
			backend.Close()
			return s, err
		}
		if len(wk.Queues()) > 0 {
			s.Components = append(s.Components, wk)
		}
	}
	return s, nil
}

// wireModules builds the outbox, its relay and the domain modules, and
// registers the modules' job handlers in reg. Every process (run, serve,
// worker) runs a relay: several relays share the outbox safely.
func wireModules(s *Services, w Wiring, reg *queues.Registry) error {
	cfg := w.Config
	shadow, err := rollout.NewRecorder(w.Logger, w.Registry, 100)
	if err != nil {
		return err
	}
	ob, err := outbox.New(outbox.Config{Store: w.Store, Jobs: s.Jobs, Logger: w.Logger, Registry: w.Registry,
		BacklogAlertRows: cfg.OutboxAlertRows, BacklogAlertAge: cfg.OutboxAlertAge, Retention: cfg.OutboxRetention})
	if err != nil {
		return err
	}
	cities := geo.NewService(w.Store, shadow, w.Logger)
	reviews := review.NewService(review.Config{Store: w.Store, Outbox: ob, Cities: cities, Modes: cfg.Modes,
		Shadow: shadow, Logger: w.Logger})
	cities.Register(reg)
	reviews.Register(reg)
	if err := wireMedia(s, w, reg, ob, shadow); err != nil {
		return err
	}
	if err := wireSEO(s, w, reg, ob, shadow, cities); err != nil {
		return err
	}
	s.Outbox, s.Shadow, s.Reviews = ob, shadow, reviews
	s.Components = append(s.Components, ob.NewRelay(outbox.RelayConfig{}))
	s.Checks = append(s.Checks, httpapi.Check{Name: "outbox", Run: ob.Check})
	w.Logger.Info("rollout modes", "modes", cfg.Modes.String())
	return nil
}

func runAll(ctx context.Context, e *env, cfg *Config, _ []string) error {
	return runProcess(ctx, e, cfg, true, true)
}

func runServe(ctx context.Context, e *env, cfg *Config, _ []string) error {
	return runProcess(ctx, e, cfg, true, false)
}

func runWorker(ctx context.Context, e *env, cfg *Config, _ []string) error {
	return runProcess(ctx, e, cfg, false, true)
}

// runProcess is run(): it owns every goroutine of a long-running command
// through one errgroup and returns nil after a clean shutdown caused by
// ctx being cancelled.
func runProcess(ctx context.Context, e *env, cfg *Config, withHTTP, withWorkers bool) (err error) {
	st, err := openStore(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := st.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close database: %w", cerr)
		}
	}()
	seeded := false
	if cfg.Demo {
		if seeded, err = seedDemo(ctx, e, st); err != nil {
			return err
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	svc, err := e.services(ctx, Wiring{Config: cfg, Store: st, Logger: e.log, Registry: reg, Workers: withWorkers})
	if err != nil {
		return err
	}
	if seeded && svc.Sitemaps != nil && ctx.Err() == nil {
		// Fresh demo data: publish a first sitemap now (a few thousand
		// URLs, milliseconds) rather than at the nightly rebuild, so
		// /sitemap.xml answers from the start; before serving, so an admin
		// rebuild cannot race it.
		if st, err := svc.Sitemaps.RebuildNow(ctx); err != nil {
			e.log.Warn("first sitemap build after the demo seed failed", "err", err)
		} else {
			e.log.Info("first sitemap built after the demo seed", "generation", st.Generation, "salons", st.Salons)
		}
	}

	var srv *http.Server
	var ln net.Listener
	if withHTTP {
		if err := os.MkdirAll(cfg.storageDir(), 0o755); err != nil {
			return fmt.Errorf("create storage dir: %w", err)
		}
		deps := httpapi.Deps{Logger: e.log, Store: st, Registry: reg, Checks: svc.Checks, AdminToken: cfg.AdminToken, Users: st}
		if svc.Reviews != nil {
			deps.Reviews = svc.Reviews
		}
		deps.SEO = svc.SEO
		if deps.Dashboard, err = newDashboard(svc, cfg, e.log); err != nil {
			return err
		}
		if svc.Media != nil {
			deps.Media, deps.MediaFiles = svc.Media, svc.MediaFiles
		}
		h, err := httpapi.NewHandler(deps)
		if err != nil {
			return err
		}
		ln, err = net.Listen("tcp", cfg.Addr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
		}
		srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(e.log.Handler(), slog.LevelWarn)}
	}
	if withWorkers && len(svc.Components) == 0 {
		fmt.Fprintln(e.stdout, "no queue has job handlers yet; workers idle until SIGINT/SIGTERM")
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
	var started []Component
	for _, c := range svc.Components {
		if err := c.Start(gctx); err != nil {
			if ctx.Err() != nil {
				// SIGINT/SIGTERM arrived during start-up: a normal
				// shutdown of what has started, not a failure.
				break
			}
			err = fmt.Errorf("start %s: %w", c.Name(), err)
			g.Go(func() error { return err }) // cancels gctx, so shutdown below runs
			break
		}
		started = append(started, c)
	}
	if ln != nil && len(started) == len(svc.Components) {
		// Announced once every component has started, so what the URLs
		// lead to is fully up (workers, schedulers, relays).
		printURLs(e, ln.Addr())
	}
	g.Go(func() error {
		<-gctx.Done()
		e.log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
		defer cancel()
		var errs []error
		if srv != nil {
			if err := srv.Shutdown(sctx); err != nil {
				errs = append(errs, fmt.Errorf("drain http: %w", err))
				srv.Close()
			}
		}
		for i := len(started) - 1; i >= 0; i-- {
			if err := started[i].Close(sctx); err != nil {
				errs = append(errs, fmt.Errorf("close %s: %w", started[i].Name(), err))
			}
		}
		return errors.Join(errs...)
	})
	if err := g.Wait(); err != nil {
		return err
	}
	e.log.Info("stopped")
	return nil
}

// printURLs tells a newcomer where to look.
func printURLs(e *env, addr net.Addr) {
	fmt.Fprintf(e.stdout, "listening on %s\n", addr)
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	base := "http://" + net.JoinHostPort(host, port)
	fmt.Fprintf(e.stdout, "  API:       %s/api/v1/salons\n", base)
	fmt.Fprintf(e.stdout, "  Dashboard: %s/admin/jobs   (log in with the admin token, ATLAS_ADMIN_TOKEN)\n", base)
	fmt.Fprintf(e.stdout, "  Sitemap:   %s/sitemap.xml  (built nightly, at a first --demo start, or by POST /api/v1/admin/sitemap/rebuild)\n", base)
	fmt.Fprintf(e.stdout, "  Health:    %s/healthz  %s/readyz  %s/metrics\n", base, base, base)
}
