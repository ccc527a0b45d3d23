// Package dashboard is Atlas's server-rendered job dashboard under
// /admin/jobs: queue counts and throughput, schedulers, the queue backend's
// readiness, the outbox backlog, rollout modes and shadow results, job
// lists with actions (retry, promote, remove, pause, resume, clean) and job
// details.
//
// It reads and acts on the queues only through jobq's public API
// (jobq.Queue). Pages are html/template (everything escaped; job data is
// untrusted), the stylesheet is embedded, and there is no JavaScript.
//
// Access needs the admin token: as "Authorization: Bearer <token>", or as
// the session cookie that /admin/login sets after the token was typed into
// its form. internal/auth checks the token and issues and verifies the
// cookie and its CSRF token: the cookie holds an expiry, a session id and
// an HMAC keyed by a digest of the token, never the token; the session is
// kept server-side, so logout ends it; changing the token ends every
// session. Every POST must be same-origin (Origin / Referer /
// Sec-Fetch-Site) and, with the cookie, carry the session's CSRF token.
package dashboard

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"slices"
	"time"

	atlasauth "github.com/sevra/atlas/internal/auth"
	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/jobq"
)

// Backlog reads the outbox backlog; *outbox.Outbox implements it.
type Backlog interface {
	Backlog(ctx context.Context) (outbox.Backlog, error)
}

// Shadow reads shadow-mode results; *rollout.Recorder implements it.
type Shadow interface {
	Counts() []rollout.Counts
	RecentMismatches() []rollout.Comparison
}

// Config configures the dashboard.
type Config struct {
	// Backend is the queue backend (required).
	Backend *queues.Backend
	// Queues are the queues shown and accepted in URLs. Default:
	// queues.Queues.
	Queues []string
	// Outbox reports the outbox backlog; nil: the section says so.
	Outbox Backlog
	// Shadow reports shadow comparisons; nil: none shown.
	Shadow Shadow
	// Modules are the modules whose rollout modes are shown, in order.
	Modules []rollout.Module
	// Modes are the rollout modes per module.
	Modes rollout.Modes
	// AdminToken is ATLAS_ADMIN_TOKEN; empty: nobody can log in.
	AdminToken string
	// SessionTTL is how long a login lasts. Default: 12h.
	SessionTTL time.Duration
	// Sessions keeps the live login sessions server-side, so logout ends
	// them (auth.Sessions: in the database, shared by every process).
	// Default: this process's memory.
	Sessions atlasauth.CookieStore
	// PageSize is the number of jobs per page. Default: 25.
	PageSize int
	// Logger receives action logs and errors. Default: discarding.
	Logger *slog.Logger
	// Now is the clock. Default: time.Now.
	Now func() time.Time
	// LiveInterval is how often open pages poll for changes. What pages
	// show is computed at most once per LiveInterval/2 per page, however
	// many tabs are open. Default: 2s.
	LiveInterval time.Duration
	// Alerts are the alert thresholds per queue; the entry "" applies to
	// queues without their own. Default: none (no alerts).
	Alerts map[string]Thresholds
	// SearchLimit bounds how many jobs a search or filter scans per state.
	// Default: 1000.
	SearchLimit int
}

// Server serves the dashboard. Its methods return the handlers that
// internal/httpapi mounts (routes.go lists the paths).
type Server struct {
	cfg   Config
	log   *slog.Logger
	auth  *atlasauth.Authenticator
	pages map[string]*template.Template
	cache *liveCache
	// chartCache holds the charts per queue (chartsTTL).
	chartCache *liveCache
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets/dashboard.css
var stylesheet []byte

//go:embed assets/live.js
var liveScript []byte

// ErrNoBackend is returned by New without a queue backend.
var ErrNoBackend = errors.New("dashboard: no queue backend")

// New returns a dashboard server.
func New(cfg Config) (*Server, error) {
	if cfg.Backend == nil {
		return nil, ErrNoBackend
	}
	if len(cfg.Queues) == 0 {
		cfg.Queues = queues.Queues
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 25
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.LiveInterval <= 0 {
		cfg.LiveInterval = 2 * time.Second
	}
	if cfg.SearchLimit <= 0 {
		cfg.SearchLimit = 1000
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	a := atlasauth.New(atlasauth.Config{AdminToken: cfg.AdminToken, CookieTTL: cfg.SessionTTL, Now: cfg.Now,
		Cookies: cfg.Sessions})
	cfg.AdminToken = "" // a keeps its digest; the token itself is not kept
	return &Server{cfg: cfg, log: cfg.Logger, auth: a, pages: pages, cache: newLiveCache(cfg.LiveInterval/2, cfg.Now),
		chartCache: newLiveCache(chartsTTL, cfg.Now)}, nil
}

// queue returns a handle on a configured queue, or false.
func (s *Server) queue(name string) (*jobq.Queue, bool) {
	if !slices.Contains(s.cfg.Queues, name) {
		return nil, false
	}
	return jobq.NewQueue(name, s.cfg.Backend.Driver, &jobq.QueueConfig{Clock: s.cfg.Now, Logger: s.log}), true
}

// Assets serves the embedded stylesheet.
func (s *Server) Assets() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Write(stylesheet)
	})
}

// securityHeaders are set on every HTML answer: only the dashboard's own
// script, no inline script, no framing, no caching of admin pages.
func securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// render writes page with data and status.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, page string, data any) {
	t, ok := s.pages[page]
	if !ok {
		panic(fmt.Sprintf("dashboard: no page %q", page))
	}
	if pd, ok := data.(pageData); ok {
		pd.Queues, pd.Now, pd.LiveInterval = s.cfg.Queues, s.cfg.Now(), s.cfg.LiveInterval.Milliseconds()
		data = pd
	}
	securityHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := t.ExecuteTemplate(w, "layout", data); err != nil {
		s.log.ErrorContext(r.Context(), "render dashboard page", "page", page, "err", err)
	}
}

// errorPage shows an error message (escaped) with status.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, a auth, status int, msg string) {
	s.render(w, r, status, "error", pageData{Title: http.StatusText(status), Auth: a, Body: struct {
		Status  int
		Message string
	}{status, msg}})
}

// pageData is what every page template gets.
type pageData struct {
	Title string
	Auth  auth
	// Queues are the queue names for the navigation.
	Queues []string
	// Now is the time the page was rendered.
	Now time.Time
	// Body is the page's own data.
	Body any
	// ETag is the page data's ETag; pages with it poll for changes.
	ETag string
	// LiveInterval is the polling interval, ms.
	LiveInterval int64
	// Notice is an action's fixed confirmation message.
	Notice string
}
