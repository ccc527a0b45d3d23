// Package review writes salon reviews and keeps each salon's rating
// aggregates (sum, count, average, Bayesian score) up to date: the POST
// path, the ReviewCreated outbox event, and the
// recompute-review-aggregates job with its shadow comparison.
package review

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/sevra/atlas/internal/geo"
	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/seo"
	"github.com/sevra/atlas/internal/store"
)

// Review is a stored review.
type Review struct {
	ID        int64     `json:"id"`
	SalonID   int64     `json:"salon_id"`
	UserID    int64     `json:"user_id"`
	Rating    int       `json:"rating"`
	Body      string    `json:"body"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

// Aggregate is a salon's rating aggregate over its published reviews.
type Aggregate struct {
	SalonID  int64   `json:"salonId"`
	Sum      int64   `json:"sum"`
	Count    int64   `json:"count"`
	Avg      float64 `json:"avg"`
	Bayesian float64 `json:"bayesian"`
}

// Equal reports whether a and b agree (floats within 1e-9).
func (a Aggregate) Equal(b Aggregate) bool {
	return a.SalonID == b.SalonID && a.Sum == b.Sum && a.Count == b.Count &&
		math.Abs(a.Avg-b.Avg) < 1e-9 && math.Abs(a.Bayesian-b.Bayesian) < 1e-9
}

// aggregateOf derives avg and Bayesian score from sum and count.
func aggregateOf(salonID, sum, count int64) Aggregate {
	a := Aggregate{SalonID: salonID, Sum: sum, Count: count, Bayesian: store.BayesianScore(sum, count)}
	if count > 0 {
		a.Avg = float64(sum) / float64(count)
	}
	return a
}

// ErrAlreadyReviewed refuses a second review of one salon by one user.
var ErrAlreadyReviewed = errors.New("you have already reviewed this salon")

// Outbox is what the service needs from the outbox; *outbox.Outbox
// implements it.
type Outbox interface {
	Add(ctx context.Context, tx outbox.Execer, events ...outbox.Event) error
	Publish(ctx context.Context, events ...outbox.Event) ([]outbox.Published, error)
}

// CacheInvalidator deletes cached answers about one entity;
// *seo.CacheHub implements it.
type CacheInvalidator interface {
	Invalidate(ctx context.Context, entityType string, entityID int64) error
}

// CityRefresher recomputes a city's statistics in process (geo's sync
// and shadow modes); *geo.Service implements it.
type CityRefresher interface {
	Refresh(ctx context.Context, cityID int64) error
}

// Config configures a Service.
type Config struct {
	Store  *store.Store
	Outbox Outbox
	// Cities refreshes city statistics when the geo module runs inline.
	Cities CityRefresher
	// Modes are the rollout modes; the service reads reviews and geo.
	Modes rollout.Modes
	// Shadow records shadow comparisons (nil: not recorded).
	Shadow rollout.Comparer
	// Cache receives the invalidation of a salon after its aggregates
	// change (usually the seo.CacheHub); nil: none.
	Cache  CacheInvalidator
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Service writes reviews and recomputes aggregates.
type Service struct {
	cfg Config
	st  *store.Store
	log *slog.Logger
}

// NewService returns a service.
func NewService(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg, st: cfg.Store, log: cfg.Logger}
}

// Create stores a published review of the salon at slug (a current or an
// old slug) by userID, and its ReviewCreated event in the same
// transaction. After the commit the event is published (fast path); in the
// reviews module's sync and shadow modes the aggregates are also
// recomputed here, in the request.
func (s *Service) Create(ctx context.Context, slug string, userID int64, in Input) (Review, error) {
	salon, _, err := s.st.ResolveSalonSlug(ctx, slug)
	if err != nil {
		return Review{}, err
	}
	mode := s.cfg.Modes.Mode(Module)
	r := Review{SalonID: salon.ID, UserID: userID, Rating: in.Rating, Body: in.Body, Status: "published",
		CreatedAt: s.cfg.Now().UTC()}
	tx, err := s.st.DB().BeginTx(ctx, nil)
	if err != nil {
		return Review{}, fmt.Errorf("create review: %w", err)
	}
	defer tx.Rollback()
	if s.st.Dialect() == store.Postgres {
		// Serialise writes per salon, so the one-review check below sees
		// a concurrent review by the same user (SQLite serialises writers
		// already).
		if _, err := tx.ExecContext(ctx, "SELECT id FROM salons WHERE id = $1 FOR UPDATE", r.SalonID); err != nil {
			return Review{}, fmt.Errorf("create review: %w", err)
		}
	}
	err = tx.QueryRowContext(ctx, s.st.Rebind(`INSERT INTO reviews (salon_id, user_id, rating, body, status, created_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`), r.SalonID, r.UserID, r.Rating, r.Body, r.Status, r.CreatedAt).Scan(&r.ID)
	if err != nil {
		return Review{}, fmt.Errorf("create review: %w", err)
	}
	// One review per user per salon; the system user (admin token) is
	// exempt, as it writes on behalf of others.
	var mine int
	err = tx.QueryRowContext(ctx, s.st.Rebind(`SELECT count(*) FROM reviews r JOIN users u ON u.id = r.user_id
		WHERE r.salon_id = ? AND r.user_id = ? AND u.phone <> ?`), r.SalonID, r.UserID, store.SystemUserPhone).Scan(&mine)
	if err != nil {
		return Review{}, fmt.Errorf("create review: %w", err)
	}
	if mine > 1 {
		return Review{}, ErrAlreadyReviewed
	}
	ev, err := outbox.NewEvent(ctx, EventCreated, map[string]int64{"reviewId": r.ID, "salonId": r.SalonID}, mode)
	if err != nil {
		return Review{}, err
	}
	if err := s.cfg.Outbox.Add(ctx, tx, ev); err != nil {
		return Review{}, fmt.Errorf("create review: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return Review{}, fmt.Errorf("create review: %w", err)
	}
	_, _ = s.cfg.Outbox.Publish(ctx, ev) // on failure the relay publishes it; logged there
	if mode.Inline() {
		// The review is stored; a failed recompute is logged, not returned,
		// so the client does not retry and write the review twice.
		if _, err := s.Recompute(ctx, salon.ID, ""); err != nil {
			s.log.ErrorContext(ctx, "sync recompute of review aggregates", "salon", salon.ID, "review", r.ID, "err", err)
		}
	}
	return r, nil
}

// computeAggregate sums the salon's published reviews through q.
func (s *Service) computeAggregate(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, salonID int64) (Aggregate, error) {
	var sum, count int64
	err := q.QueryRowContext(ctx, s.st.Rebind(`SELECT coalesce(sum(rating), 0), count(*) FROM reviews
		WHERE salon_id = ? AND status = 'published'`), salonID).Scan(&sum, &count)
	if err != nil {
		return Aggregate{}, fmt.Errorf("aggregate salon %d: %w", salonID, err)
	}
	return aggregateOf(salonID, sum, count), nil
}

// Recompute recomputes salon salonID's aggregates from its published
// reviews and stores them with salons.updated_at in one short
// transaction, together with a SalonChanged event for the geo module (in
// its mode). eventID, when set, is that event's id, so a retried job does
// not add a second one. In geo's sync and shadow modes the city's
// statistics are refreshed here too.
func (s *Service) Recompute(ctx context.Context, salonID int64, eventID string) (Aggregate, error) {
	geoMode := s.cfg.Modes.Mode(geo.Module)
	tx, err := s.st.DB().BeginTx(ctx, nil)
	if err != nil {
		return Aggregate{}, fmt.Errorf("recompute salon %d: %w", salonID, err)
	}
	defer tx.Rollback()
	// Write first: it locks the salon row (PostgreSQL) or takes the write
	// lock (SQLite) before anything is read, so two recomputes of one
	// salon serialise and the later one sees every review the earlier saw.
	var cityID int64
	err = tx.QueryRowContext(ctx, s.st.Rebind("UPDATE salons SET updated_at = ? WHERE id = ? RETURNING city_id"),
		s.cfg.Now().UTC(), salonID).Scan(&cityID)
	if err != nil {
		if err == sql.ErrNoRows {
			return Aggregate{}, fmt.Errorf("recompute salon %d: %w", salonID, store.ErrNotFound)
		}
		return Aggregate{}, fmt.Errorf("recompute salon %d: %w", salonID, err)
	}
	a, err := s.computeAggregate(ctx, tx, salonID)
	if err != nil {
		return Aggregate{}, err
	}
	_, err = tx.ExecContext(ctx, s.st.Rebind(`UPDATE salons SET rating_sum = ?, rating_count = ?, rating_avg = ?,
		bayesian_score = ? WHERE id = ?`), a.Sum, a.Count, a.Avg, a.Bayesian, salonID)
	if err != nil {
		return Aggregate{}, fmt.Errorf("recompute salon %d: %w", salonID, err)
	}
	ev, err := outbox.NewEvent(ctx, geo.EventSalonChanged, map[string]int64{"salonId": salonID, "cityId": cityID}, geoMode)
	if err != nil {
		return Aggregate{}, err
	}
	if eventID != "" {
		ev.ID = eventID
	}
	if err := s.cfg.Outbox.Add(ctx, tx, ev); err != nil {
		return Aggregate{}, fmt.Errorf("recompute salon %d: %w", salonID, err)
	}
	if err := tx.Commit(); err != nil {
		return Aggregate{}, fmt.Errorf("recompute salon %d: %w", salonID, err)
	}
	// Delete after write: a read after this recompute is fresh on every
	// node (the cache is shared); a failed delete leaves the old answer
	// for at most its TTL.
	if s.cfg.Cache != nil {
		if err := s.cfg.Cache.Invalidate(ctx, seo.EntitySalon, salonID); err != nil {
			s.log.WarnContext(ctx, "cache invalidation after a recompute", "salon", salonID, "err", err)
		}
	}
	_, _ = s.cfg.Outbox.Publish(ctx, ev)
	if geoMode.Inline() && s.cfg.Cities != nil {
		if err := s.cfg.Cities.Refresh(ctx, cityID); err != nil {
			return a, err
		}
	}
	return a, nil
}

// Stored returns the aggregate stored on the salon row.
func (s *Service) Stored(ctx context.Context, salonID int64) (Aggregate, error) {
	var a Aggregate
	a.SalonID = salonID
	err := s.st.DB().QueryRowContext(ctx, s.st.Rebind(`SELECT rating_sum, rating_count, rating_avg, bayesian_score
		FROM salons WHERE id = ?`), salonID).Scan(&a.Sum, &a.Count, &a.Avg, &a.Bayesian)
	if err != nil {
		if err == sql.ErrNoRows {
			return a, fmt.Errorf("salon %d: %w", salonID, store.ErrNotFound)
		}
		return a, fmt.Errorf("salon %d: %w", salonID, err)
	}
	return a, nil
}
