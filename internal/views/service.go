package views

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/store"
)

// DefaultRetention is how long the flush log keeps an applied batch id.
const DefaultRetention = 7 * 24 * time.Hour

// Config configures a Service.
type Config struct {
	// Store holds posts and the flush log (view_flushes). Required.
	Store *store.Store
	// Buffer holds views between flushes (async and shadow modes).
	// Default: a new MemoryBuffer.
	Buffer Buffer
	// Mode is the module's rollout mode; default rollout.DefaultMode
	// (async).
	Mode rollout.Mode
	// Shadow records the shadow windows' comparisons; nil records none
	// (a mismatch is still logged).
	Shadow rollout.Comparer
	// Retention is how long an applied batch id stays in view_flushes;
	// default DefaultRetention (7 days). A sealed batch left undeleted for
	// longer would be applied again, so keep it far above the flush
	// interval.
	Retention time.Duration
	// Cache, when set, is told which posts each applied batch changed, so
	// that cached post pages show the new view_count (a failure is logged
	// and counted; the pages then refresh with their TTL).
	// httpapi.CacheInvalidator implements it.
	Cache PostCache
	// Registry receives the metrics; nil registers none.
	Registry prometheus.Registerer
	// Logger defaults to discarding.
	Logger *slog.Logger
}

// PostCache deletes the cached pages of posts.
type PostCache interface {
	InvalidatePosts(ctx context.Context, ids ...int64) error
}

// Service counts post views and flushes them to the database. It is safe
// for concurrent use.
type Service struct {
	st        *store.Store
	buf       Buffer
	mode      rollout.Mode
	shadow    rollout.Comparer
	cache     PostCache
	retention time.Duration
	log       *slog.Logger
	m         *metrics
	now       func() time.Time

	// upd is the prepared sync UPDATE (see updateStmt); it lives as long
	// as the database handle, which closes it.
	upd   atomic.Pointer[sql.Stmt]
	updMu sync.Mutex

	// fault, when set by a test, is called at each flush step; an error
	// stops the flush there, as a crash would.
	fault func(step string) error
}

// The flush steps a test can stop at.
const (
	stepSealed    = "sealed"     // after the RENAME
	stepPreCommit = "pre-commit" // updates done, transaction not committed
	stepCommitted = "committed"  // committed, batch not deleted
)

// New returns a service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("views: no store")
	}
	if cfg.Buffer == nil {
		cfg.Buffer = NewMemoryBuffer()
	}
	if cfg.Mode == "" {
		cfg.Mode = rollout.DefaultMode
	}
	if _, err := rollout.ParseMode(string(cfg.Mode)); err != nil {
		return nil, fmt.Errorf("views: %w", err)
	}
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	if bs, ok := cfg.Buffer.(batchStatser); ok {
		if err := registerBatchStats(cfg.Registry, bs); err != nil {
			return nil, err
		}
	}
	return &Service{st: cfg.Store, buf: cfg.Buffer, mode: cfg.Mode, shadow: cfg.Shadow, cache: cfg.Cache, retention: cfg.Retention,
		log: cfg.Logger, m: m, now: time.Now}, nil
}

// Mode returns the service's rollout mode.
func (s *Service) Mode() rollout.Mode { return s.mode }

// Record counts one view of post postID by a request with method and
// userAgent (r.Method, r.UserAgent()). HEAD and other non-GET requests,
// and bots (IsBot), are not counted. Call it after the post was found.
//
// In async mode the view goes to the buffer; when the buffer fails (Redis
// down or slower than its timeout) it is dropped and counted in
// atlas_views_dropped_total{reason="buffer"}, and Record returns nil: a
// view is not worth failing a page. In sync and shadow modes the UPDATE's
// error is returned (and counted, reason "database"); the caller logs it
// and still answers the page. The buffer write is not cancelled with ctx
// (a client that leaves after the page still viewed it).
func (s *Service) Record(ctx context.Context, postID int64, method, userAgent string) error {
	if !Countable(method, userAgent) {
		return nil
	}
	id := strconv.FormatInt(postID, 10)
	switch s.mode {
	case rollout.Sync:
		if _, err := s.updateOne(ctx, postID); err != nil {
			s.m.dropped.WithLabelValues("database").Inc()
			return err
		}
		s.m.recorded.WithLabelValues(string(rollout.Sync)).Inc()
		return nil
	case rollout.Shadow:
		changed, err := s.updateOne(ctx, postID)
		if err != nil {
			s.m.dropped.WithLabelValues("database").Inc()
		} else {
			s.m.recorded.WithLabelValues(string(rollout.Shadow)).Inc()
		}
		fields := []string{id}
		if changed {
			fields = append(fields, syncField(id))
		}
		if berr := s.buf.Incr(context.WithoutCancel(ctx), ShadowHash, fields...); berr != nil {
			s.m.dropped.WithLabelValues("shadow_buffer").Inc()
			s.log.DebugContext(ctx, "shadow view dropped", "post", postID, "err", berr)
		}
		return err
	default:
		if err := s.buf.Incr(context.WithoutCancel(ctx), LiveHash, id); err != nil {
			s.m.dropped.WithLabelValues("buffer").Inc()
			s.log.DebugContext(ctx, "view dropped", "post", postID, "err", err)
			return nil
		}
		s.m.recorded.WithLabelValues(string(rollout.Async)).Inc()
		return nil
	}
}

// updateOne is the sync path: one UPDATE; it reports whether a row
// changed (false: the post does not exist).
func (s *Service) updateOne(ctx context.Context, postID int64) (bool, error) {
	stmt, err := s.updateStmt(ctx)
	if err != nil {
		return false, fmt.Errorf("count view of post %d: %w", postID, err)
	}
	res, err := stmt.ExecContext(ctx, postID)
	if err != nil {
		return false, fmt.Errorf("count view of post %d: %w", postID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("count view of post %d: %w", postID, err)
	}
	return n > 0, nil
}

// updateStmt returns the sync path's UPDATE, prepared once: database/sql
// then prepares it once per connection instead of SQLite parsing it on
// every view. A failed prepare is retried on the next view.
func (s *Service) updateStmt(ctx context.Context) (*sql.Stmt, error) {
	if st := s.upd.Load(); st != nil {
		return st, nil
	}
	s.updMu.Lock()
	defer s.updMu.Unlock()
	if st := s.upd.Load(); st != nil {
		return st, nil
	}
	st, err := s.st.DB().PrepareContext(context.WithoutCancel(ctx), s.st.Rebind("UPDATE posts SET view_count = view_count + 1 WHERE id = ?"))
	if err != nil {
		return nil, err
	}
	s.upd.Store(st)
	return st, nil
}

// step calls the test fault hook, if any.
func (s *Service) step(name string) error {
	if s.fault == nil {
		return nil
	}
	return s.fault(name)
}
