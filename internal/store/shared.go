package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// SitemapLive returns the live sitemap generation and the one it
// replaced; both are "" before the first publish.
func (s *Store) SitemapLive(ctx context.Context) (live, previous string, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT generation, previous FROM sitemap_live WHERE id = 1`).Scan(&live, &previous)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("sitemap live pointer: %w", err)
	}
	return live, previous, nil
}

// SwapSitemapLive makes generation live and returns the generation it
// replaced ("" for the first). One statement, so every node sees the old
// pointer or the new one.
func (s *Store) SwapSitemapLive(ctx context.Context, generation string, now time.Time) (string, error) {
	var prev string
	err := s.db.QueryRowContext(ctx, s.Rebind(`INSERT INTO sitemap_live (id, generation, previous, published_at) VALUES (1, ?, '', ?)
		ON CONFLICT (id) DO UPDATE SET previous = sitemap_live.generation, generation = excluded.generation,
			published_at = excluded.published_at
		RETURNING previous`), generation, now.UnixMilli()).Scan(&prev)
	if err != nil {
		return "", fmt.Errorf("swap sitemap live pointer: %w", err)
	}
	return prev, nil
}

// ShadowCount is one module's shadow comparisons.
type ShadowCount struct {
	Module              string
	Matches, Mismatches int64
}

// ShadowMismatch is one recorded shadow mismatch. IDs, Live and Shadow
// are the recorder's renderings (IDs a JSON array).
type ShadowMismatch struct {
	Module, Subject, IDs, Live, Shadow string
	At                                 time.Time
}

// AddShadowResult counts one shadow comparison of module and, for a
// mismatch (m not nil), keeps m while deleting all but the newest keep
// mismatches, in one transaction.
func (s *Store) AddShadowResult(ctx context.Context, module string, m *ShadowMismatch, keep int) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("add shadow result: %w", err)
	}
	defer tx.Rollback()
	match, mismatch := 1, 0
	if m != nil {
		match, mismatch = 0, 1
	}
	if _, err := tx.ExecContext(ctx, s.Rebind(`INSERT INTO shadow_counts (module, matches, mismatches) VALUES (?, ?, ?)
		ON CONFLICT (module) DO UPDATE SET matches = shadow_counts.matches + excluded.matches,
			mismatches = shadow_counts.mismatches + excluded.mismatches`), module, match, mismatch); err != nil {
		return fmt.Errorf("add shadow result: %w", err)
	}
	if m != nil {
		if _, err := tx.ExecContext(ctx, s.Rebind(`INSERT INTO shadow_mismatches (module, subject, ids, live, shadow, at)
			VALUES (?, ?, ?, ?, ?, ?)`), m.Module, m.Subject, m.IDs, m.Live, m.Shadow, m.At.UnixMilli()); err != nil {
			return fmt.Errorf("add shadow mismatch: %w", err)
		}
		if _, err := tx.ExecContext(ctx, s.Rebind(`DELETE FROM shadow_mismatches WHERE id <= (SELECT max(id) FROM shadow_mismatches) - ?`),
			keep); err != nil {
			return fmt.Errorf("trim shadow mismatches: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("add shadow result: %w", err)
	}
	return nil
}

// ShadowCounts returns every module's shadow counts, by module.
func (s *Store) ShadowCounts(ctx context.Context) ([]ShadowCount, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT module, matches, mismatches FROM shadow_counts ORDER BY module`)
	if err != nil {
		return nil, fmt.Errorf("shadow counts: %w", err)
	}
	defer rows.Close()
	var out []ShadowCount
	for rows.Next() {
		var c ShadowCount
		if err := rows.Scan(&c.Module, &c.Matches, &c.Mismatches); err != nil {
			return nil, fmt.Errorf("shadow counts: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("shadow counts: %w", err)
	}
	return out, nil
}

// ShadowMismatches returns the newest limit mismatches, oldest first.
func (s *Store) ShadowMismatches(ctx context.Context, limit int) ([]ShadowMismatch, error) {
	rows, err := s.db.QueryContext(ctx, s.Rebind(`SELECT module, subject, ids, live, shadow, at FROM
		(SELECT * FROM shadow_mismatches ORDER BY id DESC LIMIT ?) newest ORDER BY id`), limit)
	if err != nil {
		return nil, fmt.Errorf("shadow mismatches: %w", err)
	}
	defer rows.Close()
	var out []ShadowMismatch
	for rows.Next() {
		var m ShadowMismatch
		var at int64
		if err := rows.Scan(&m.Module, &m.Subject, &m.IDs, &m.Live, &m.Shadow, &at); err != nil {
			return nil, fmt.Errorf("shadow mismatches: %w", err)
		}
		m.At = time.UnixMilli(at).UTC()
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("shadow mismatches: %w", err)
	}
	return out, nil
}
