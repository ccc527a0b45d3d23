package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// BayesianPriorMean and BayesianPriorWeight define the Bayesian average
// used to rank salons: a salon with few reviews is pulled towards the prior
// mean as if it had BayesianPriorWeight extra reviews of that rating. Fixed
// constants keep a per-salon recompute independent of every other salon.
const (
	BayesianPriorMean   = 3.5
	BayesianPriorWeight = 10
)

// BayesianScore returns the ranking score for a salon with the given sum and
// count of ratings.
func BayesianScore(sum, count int64) float64 {
	return (BayesianPriorMean*BayesianPriorWeight + float64(sum)) / (BayesianPriorWeight + float64(count))
}

// Salon is a salon listing with its rating aggregates.
type Salon struct {
	ID            int64     `json:"id"`
	Slug          string    `json:"slug"`
	Name          string    `json:"name"`
	CityID        int64     `json:"city_id"`
	CitySlug      string    `json:"city_slug"`
	Verified      bool      `json:"verified"`
	RatingSum     int64     `json:"rating_sum"`
	RatingCount   int64     `json:"rating_count"`
	RatingAvg     float64   `json:"rating_avg"`
	BayesianScore float64   `json:"bayesian_score"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// SalonSort orders a salon list.
type SalonSort string

// The supported orders.
const (
	SortRating SalonSort = "rating" // best Bayesian score first
	SortName   SalonSort = "name"   // alphabetical
	SortNewest SalonSort = "newest" // most recently created first
)

// SalonFilter selects and pages a salon list. Page starts at 1.
type SalonFilter struct {
	CitySlug string
	Sort     SalonSort
	Page     int
	PerPage  int
}

const salonColumns = `s.id, s.slug, s.name, s.city_id, c.slug, s.verified, s.rating_sum, s.rating_count,
	s.rating_avg, s.bayesian_score, s.created_at, s.updated_at`

func scanSalon(sc scanner) (Salon, error) {
	var x Salon
	err := sc.Scan(&x.ID, &x.Slug, &x.Name, &x.CityID, &x.CitySlug, &x.Verified, &x.RatingSum, &x.RatingCount,
		&x.RatingAvg, &x.BayesianScore, &x.CreatedAt, &x.UpdatedAt)
	x.CreatedAt, x.UpdatedAt = x.CreatedAt.UTC(), x.UpdatedAt.UTC()
	return x, err
}

// ListSalons returns one page of salons and the total number matching f.
// An unknown city yields ErrNotFound.
func (s *Store) ListSalons(ctx context.Context, f SalonFilter) ([]Salon, int64, error) {
	order := map[SalonSort]string{
		SortRating: "s.bayesian_score DESC, s.id",
		SortName:   "s.name, s.id",
		SortNewest: "s.created_at DESC, s.id DESC",
	}[f.Sort]
	if order == "" {
		return nil, 0, fmt.Errorf("sort %q: unsupported", f.Sort)
	}
	if f.Page < 1 || f.PerPage < 1 {
		return nil, 0, fmt.Errorf("page %d, per page %d: must be positive", f.Page, f.PerPage)
	}
	where, args := "", []any{}
	if f.CitySlug != "" {
		c, err := s.CityBySlug(ctx, f.CitySlug)
		if err != nil {
			return nil, 0, err
		}
		where, args = " WHERE s.city_id = ?", append(args, c.ID)
	}
	var total int64
	if err := s.db.QueryRowContext(ctx, s.Rebind("SELECT count(*) FROM salons s"+where), args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count salons: %w", err)
	}
	q := "SELECT " + salonColumns + " FROM salons s JOIN cities c ON c.id = s.city_id" + where +
		" ORDER BY " + order + " LIMIT ? OFFSET ?"
	rows, err := s.db.QueryContext(ctx, s.Rebind(q), append(args, f.PerPage, (f.Page-1)*f.PerPage)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list salons: %w", err)
	}
	defer rows.Close()
	out := []Salon{}
	for rows.Next() {
		x, err := scanSalon(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("scan salon: %w", err)
		}
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list salons: %w", err)
	}
	return out, total, nil
}

// SalonBySlug returns the salon whose current slug is slug, or ErrNotFound.
func (s *Store) SalonBySlug(ctx context.Context, slug string) (Salon, error) {
	q := "SELECT " + salonColumns + " FROM salons s JOIN cities c ON c.id = s.city_id WHERE s.slug = ?"
	x, err := scanSalon(s.db.QueryRowContext(ctx, s.Rebind(q), slug))
	if err != nil {
		return Salon{}, notFound(err, "salon "+slug)
	}
	return x, nil
}

// ResolveSalonSlug finds where slug points now. It returns the salon and
// moved=false when slug is current; the salon under its current slug and
// moved=true when slug is an old one recorded in slug_history; ErrNotFound
// otherwise. History maps an old slug to the salon id, never to another
// slug, so there are no chains to follow and no loops are possible.
func (s *Store) ResolveSalonSlug(ctx context.Context, slug string) (Salon, bool, error) {
	x, err := s.SalonBySlug(ctx, slug)
	if err == nil {
		return x, false, nil
	}
	if !isNotFound(err) {
		return Salon{}, false, err
	}
	q := "SELECT " + salonColumns + ` FROM slug_history h JOIN salons s ON s.id = h.entity_id
		JOIN cities c ON c.id = s.city_id WHERE h.entity = 'salon' AND h.old_slug = ?`
	x, err = scanSalon(s.db.QueryRowContext(ctx, s.Rebind(q), slug))
	if err != nil {
		return Salon{}, false, notFound(err, "salon "+slug)
	}
	return x, true, nil
}

func repeat(s string, n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat(s, n)
}

// replaceDouble adapts PostgreSQL's DOUBLE PRECISION cast to SQLite's REAL.
func replaceDouble(q string) string { return strings.ReplaceAll(q, "DOUBLE PRECISION", "REAL") }

// SalonSlugs returns every slug that leads to salon id: its current slug
// and its old ones (slug history), for cache invalidation.
func (s *Store) SalonSlugs(ctx context.Context, id int64) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.Rebind(`SELECT slug FROM salons WHERE id = ?
		UNION SELECT old_slug FROM slug_history WHERE entity = 'salon' AND entity_id = ?`), id, id)
	if err != nil {
		return nil, fmt.Errorf("salon %d slugs: %w", id, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var slug string
		if err := rows.Scan(&slug); err != nil {
			return nil, fmt.Errorf("salon %d slugs: %w", id, err)
		}
		out = append(out, slug)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("salon %d slugs: %w", id, err)
	}
	return out, nil
}

// CitySlug returns the slug of city id.
func (s *Store) CitySlug(ctx context.Context, id int64) (string, error) {
	var slug string
	if err := s.db.QueryRowContext(ctx, s.Rebind("SELECT slug FROM cities WHERE id = ?"), id).Scan(&slug); err != nil {
		return "", notFound(err, fmt.Sprintf("city %d", id))
	}
	return slug, nil
}
