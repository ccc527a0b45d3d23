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
