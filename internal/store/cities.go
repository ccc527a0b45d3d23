package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// City is a city with its denormalised statistics.
type City struct {
	ID             int64      `json:"id"`
	Slug           string     `json:"slug"`
	Name           string     `json:"name"`
	NameFa         string     `json:"name_fa"`
	Province       string     `json:"province"`
	SalonCount     int64      `json:"salon_count"`
	ReviewCount    int64      `json:"review_count"`
	AvgRating      float64    `json:"avg_rating"`
	StatsUpdatedAt *time.Time `json:"stats_updated_at"`
}

const cityColumns = "id, slug, name, name_fa, province, salon_count, review_count, avg_rating, stats_updated_at"

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface{ Scan(dest ...any) error }

func scanCity(sc scanner) (City, error) {
	var c City
	var upd sql.NullTime
	err := sc.Scan(&c.ID, &c.Slug, &c.Name, &c.NameFa, &c.Province, &c.SalonCount, &c.ReviewCount, &c.AvgRating, &upd)
	if upd.Valid {
		t := upd.Time.UTC()
		c.StatsUpdatedAt = &t
	}
	return c, err
}

// ListCities returns every city ordered by name.
func (s *Store) ListCities(ctx context.Context) ([]City, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+cityColumns+" FROM cities ORDER BY name, id")
	if err != nil {
		return nil, fmt.Errorf("list cities: %w", err)
	}
	defer rows.Close()
	out := []City{}
	for rows.Next() {
		c, err := scanCity(rows)
		if err != nil {
			return nil, fmt.Errorf("scan city: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list cities: %w", err)
	}
	return out, nil
}

// CityBySlug returns the city with the given slug, or ErrNotFound.
func (s *Store) CityBySlug(ctx context.Context, slug string) (City, error) {
	c, err := scanCity(s.db.QueryRowContext(ctx, s.Rebind("SELECT "+cityColumns+" FROM cities WHERE slug = ?"), slug))
	if err != nil {
		return City{}, notFound(err, "city "+slug)
	}
	return c, nil
}

// CountCities returns the number of cities.
func (s *Store) CountCities(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM cities").Scan(&n); err != nil {
		return 0, fmt.Errorf("count cities: %w", err)
	}
	return n, nil
}

// RefreshCityStats recomputes salon_count, review_count and avg_rating of
// the given cities from their salons (all cities when ids is empty). On
// PostgreSQL the city rows are locked before the statement that reads the
// salons, so concurrent refreshes of one city serialise and the last one
// to commit has seen every salon change committed before it started.
func (s *Store) RefreshCityStats(ctx context.Context, now time.Time, ids ...int64) error {
	q := `UPDATE cities SET
		salon_count  = (SELECT count(*) FROM salons WHERE salons.city_id = cities.id),
		review_count = (SELECT coalesce(sum(rating_count), 0) FROM salons WHERE salons.city_id = cities.id),
		avg_rating   = coalesce((SELECT CAST(sum(rating_sum) AS DOUBLE PRECISION) / nullif(sum(rating_count), 0)
		                         FROM salons WHERE salons.city_id = cities.id), 0),
		stats_updated_at = ?`
	args := []any{now.UTC()}
	where, idArgs := "", []any{}
	if len(ids) > 0 {
		where = " WHERE id IN (?" + repeat(",?", len(ids)-1) + ")"
		for _, id := range ids {
			idArgs = append(idArgs, id)
		}
	}
	if s.dialect == SQLite {
		if _, err := s.db.ExecContext(ctx, replaceDouble(q)+where, append(args, idArgs...)...); err != nil {
			return fmt.Errorf("refresh city stats: %w", err)
		}
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("refresh city stats: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, s.Rebind("SELECT id FROM cities"+where+" ORDER BY id FOR UPDATE"), idArgs...); err != nil {
		return fmt.Errorf("refresh city stats: lock: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.Rebind(q+where), append(args, idArgs...)...); err != nil {
		return fmt.Errorf("refresh city stats: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("refresh city stats: %w", err)
	}
	return nil
}

// CityStats are a city's denormalised statistics.
type CityStats struct {
	SalonCount  int64
	ReviewCount int64
	AvgRating   float64
}

// CityStatsFor returns the statistics stored on city id (Stored) and the
// ones its salons give now (Computed), read in one transaction, without
// writing: the shadow run of refresh-city-stats compares the two.
func (s *Store) CityStatsFor(ctx context.Context, id int64) (stored, computed CityStats, err error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: s.dialect == Postgres})
	if err != nil {
		return stored, computed, fmt.Errorf("city stats %d: %w", id, err)
	}
	defer tx.Rollback()
	err = tx.QueryRowContext(ctx, s.Rebind("SELECT salon_count, review_count, avg_rating FROM cities WHERE id = ?"), id).
		Scan(&stored.SalonCount, &stored.ReviewCount, &stored.AvgRating)
	if err != nil {
		return stored, computed, notFound(err, fmt.Sprintf("city %d", id))
	}
	q := `SELECT count(*), coalesce(sum(rating_count), 0),
		coalesce(CAST(sum(rating_sum) AS DOUBLE PRECISION) / nullif(sum(rating_count), 0), 0)
		FROM salons WHERE city_id = ?`
	if s.dialect == SQLite {
		q = replaceDouble(q)
	}
	if err := tx.QueryRowContext(ctx, s.Rebind(q), id).Scan(&computed.SalonCount, &computed.ReviewCount, &computed.AvgRating); err != nil {
		return stored, computed, fmt.Errorf("city stats %d: %w", id, err)
	}
	return stored, computed, tx.Commit()
}
