// Package httpapi serves Atlas's HTTP interface: the JSON API under
// /api/v1, health and readiness probes, and Prometheus metrics. Every route
// is listed in routes.go; handlers are functions returning http.Handler.
package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sevra/atlas/internal/auth"
	"github.com/sevra/atlas/internal/cache"
	"github.com/sevra/atlas/internal/ratelimit"
	"github.com/sevra/atlas/internal/store"
)

// Store is what the API reads; *store.Store implements it.
type Store interface {
	ListCities(ctx context.Context) ([]store.City, error)
	CityBySlug(ctx context.Context, slug string) (store.City, error)
	ListSalons(ctx context.Context, f store.SalonFilter) ([]store.Salon, int64, error)
	ResolveSalonSlug(ctx context.Context, slug string) (store.Salon, bool, error)
	ListPosts(ctx context.Context, now time.Time, page, perPage int) ([]store.Post, int64, error)
	PostBySlug(ctx context.Context, now time.Time, slug string) (store.Post, error)
}

// Deps is everything the handlers need.
type Deps struct {
	Logger *slog.Logger
	Store  Store
	// Registry receives the HTTP metrics and is served on /metrics.
	Registry *prometheus.Registry
	// Checks are run by /readyz and exported as atlas_dependency_up.
	Checks []Check
	// AdminToken (ATLAS_ADMIN_TOKEN), when set, authenticates as admin on
	// every route (Bearer). internal/auth keeps only its digest.
	AdminToken string
	// Sessions looks up user sessions (OTP login) by Bearer token; nil:
	// only AdminToken authenticates. See internal/auth.
	Sessions auth.SessionLookup
	// OTP serves POST /api/v1/auth/otp/{request,verify} and Logout POST
	// /api/v1/auth/logout (nil: routes off).
	OTP    OTPService
	Logout SessionRevoker
	// LongTimeout is the read and write deadline of uploads and the
	// sitemap rebuild, past the server's ReadTimeout/WriteTimeout (zero:
	// the server's own deadlines stay).
	LongTimeout time.Duration
	// AuthFailures limits failed authentications per client address
	// (zero: DefaultAuthFailures), counted in AuthLimiter (nil: in this
	// process); see authguard.go.
	AuthFailures ratelimit.Rule
	AuthLimiter  ratelimit.Limiter
	// TrustedProxies are the load balancers and proxies whose
	// X-Forwarded-For names the client for rate limits (none: the TCP
	// peer is the client).
	TrustedProxies []netip.Prefix
	// Cache holds the answers of GET /api/v1/salons/{slug},
	// /api/v1/salons, /api/v1/cities/{slug} and /api/v1/posts/{slug} (see
	// posts.go) for CacheTTL (default 1m;
	// 0 disables caching). Nil: NewHandler makes an in-process cache and
	// attaches its invalidator to SEO.Caches; production passes the
	// shared cache and attaches the invalidator itself, in every process.
	Cache    ReadCache
	CacheTTL *time.Duration
	// Views counts post views (GET /api/v1/posts/{slug}); nil: not counted.
	Views ViewRecorder
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Reviews stores reviews; nil leaves POST …/reviews out.
	Reviews ReviewCreator
	// Users names the system user that admin-token requests act as
	// (reviews, uploads, approvals); nil: the admin token can reach admin
	// routes but acts as no user (401). User sessions act as their own user.
	Users Users
	// Media accepts uploads and describes media; nil leaves /api/v1/media
	// out. MediaFiles serves stored files at /media/ (local storage only).
	Media      MediaService
	MediaFiles http.Handler
	// SEO serves the sitemap, robots.txt and the SEO admin routes (nil:
	// routes off); see seo.go.
	SEO *SEODeps
	// Dashboard serves /admin/login and /admin/jobs (nil: routes off); see
	// dashboard.go.
	Dashboard Dashboard
	// Site serves the public HTML pages and the HTML 404 (nil: pages off);
	// SiteWriter the JSON routes that feed them (media attachment,
	// verification requests, salon removal). See site.go.
	Site       Site
	SiteWriter SiteWriter
}

// NewHandler returns the whole HTTP interface with logging, metrics, panic
// recovery and authentication (the caller's auth.Identity in the request
// context) around every route.
func NewHandler(d Deps) (http.Handler, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	if d.Cache == nil {
		mc, err := cache.NewMemory(cache.MemoryConfig{Now: d.Now})
		if err != nil {
			return nil, err
		}
		d.Cache = mc
		if slugs, ok := d.Store.(SlugSource); ok && d.SEO != nil && d.SEO.Caches != nil {
			d.SEO.Caches.Attach(CacheInvalidator{Cache: mc, Slugs: slugs})
		}
	}
	m, err := newMetrics(d.Registry)
	if err != nil {
		return nil, err
	}
	if err := d.Registry.Register(newDependencyCollector(d.Checks)); err != nil {
		return nil, fmt.Errorf("register dependency metric: %w", err)
	}
	authn := auth.New(auth.Config{AdminToken: d.AdminToken, Sessions: d.Sessions})
	d.AdminToken = "" // authn keeps its digest; no handler needs the token
	guard := newAuthGuard(d)
	mux := http.NewServeMux()
	addRoutes(mux, d, guard)
	// authenticate sits outside instrument and logRequests: its
	// r.WithContext copy must be the request the mux records r.Pattern on.
	h := m.instrument(logRequests(d.Logger, checkRequestText(d.Logger, mux)))
	return traceRequests(recoverPanics(d.Logger, authenticate(d.Logger, authn, guard, h))), nil
}

// addRoutes lists every route Atlas serves.
func addRoutes(mux *http.ServeMux, d Deps, guard *authGuard) {
	ttl := time.Minute
	if d.CacheTTL != nil {
		ttl = *d.CacheTTL
	}
	mux.Handle("GET /api/v1/cities", listCities(d.Logger, d.Store))
	mux.Handle("GET /api/v1/cities/{slug}", getCity(d.Logger, d.Store, d.Cache, ttl))
	mux.Handle("GET /api/v1/salons", listSalons(d.Logger, d.Store, d.Cache, ttl))
	mux.Handle("GET /api/v1/salons/{slug}", getSalon(d.Logger, d.Store, d.Cache, ttl))
	if d.Reviews != nil {
		mux.Handle("POST /api/v1/salons/{slug}/reviews", createReview(d.Logger, d))
	}
	if d.OTP != nil {
		mux.Handle("POST /api/v1/auth/otp/request", requestOTP(d.Logger, d.OTP, d.TrustedProxies))
		mux.Handle("POST /api/v1/auth/otp/verify", verifyOTP(d.Logger, d.OTP, d.TrustedProxies))
	}
	if d.Logout != nil {
		mux.Handle("POST /api/v1/auth/logout", logout(d.Logger, d.Logout))
	}
	mux.Handle("GET /api/v1/posts", listPosts(d.Logger, d.Store, d.Now))
	mux.Handle("GET /api/v1/posts/{slug}", getPost(d.Logger, d.Store, d.Cache, ttl, d.Now, d.postSlugs(), d.Views))
	addMediaRoutes(mux, d) // POST /api/v1/media, GET /api/v1/media/{id}, GET /media/ (media.go)
	addSEORoutes(mux, d)
	// GET/POST /admin/login, POST /admin/logout, GET /admin/assets/dashboard.css, GET /admin/assets/live.js,
	// GET /admin/jobs, GET /admin/jobs/{queue}, GET /admin/jobs/{queue}/{id},
	// POST /admin/jobs/{queue}/{action}, POST /admin/jobs/{queue}/{id}/{action}
	addDashboardRoutes(mux, d, guard) // (dashboard.go)
	// GET /, /cities/{slug}, /salons/{slug}, /posts, /posts/{slug}, /favicon.svg, the HTML 404 (/);
	// POST /api/v1/salons/{slug}/media, /api/v1/posts/{slug}/media,
	// /api/v1/salons/{slug}/verification-requests; DELETE /api/v1/salons/{slug}
	addSiteRoutes(mux, d) // (site.go)
	mux.Handle("/api/", notFoundJSON(d.Logger))

	mux.Handle("GET /healthz", healthz())
	mux.Handle("GET /readyz", readyz(d.Logger, d.Checks))
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.Registry, promhttp.HandlerOpts{Registry: d.Registry}))
}

// notFoundJSON answers unknown API paths with the JSON error shape.
func notFoundJSON(log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, log, store.ErrNotFound)
	})
}
