package salon

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sevra/atlas/internal/store"
)

// ErrSlugTaken is returned when a new slug belongs to another salon.
var ErrSlugTaken = errors.New("slug already taken")

// rename gives salon id the slug newSlug inside tx, sets its updated_at
// (the sitemap lastmod) to now and records the old slug in slug_history,
// so the old URL answers 301. It returns the old slug; renaming a salon to
// its current slug changes nothing. It is the only writer of salon slug
// history (store.ResolveSalonSlug reads it).
//
// History maps an old slug to the salon id, never to another slug, so
// redirects never chain or loop: renaming a→b→c leaves rows a→id and
// b→id, and a slug that becomes current again (renaming back to a) stops
// redirecting.
//
// It returns an error wrapping store.ErrNotFound for an unknown salon and
// ErrSlugTaken when another salon has newSlug.
func rename(ctx context.Context, tx *sql.Tx, d store.Dialect, id int64, newSlug string, now time.Time) (string, error) {
	q := func(s string) string { return store.Rebind(d, s) }
	now = now.UTC()
	var old string
	err := tx.QueryRowContext(ctx, q(`SELECT slug FROM salons WHERE id = ?`), id).Scan(&old)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("salon %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("rename salon %d: %w", id, err)
	}
	if old == newSlug {
		return old, nil
	}
	var taken int
	if err := tx.QueryRowContext(ctx, q(`SELECT count(*) FROM salons WHERE slug = ? AND id <> ?`), newSlug, id).Scan(&taken); err != nil {
		return "", fmt.Errorf("rename salon %d: %w", id, err)
	}
	if taken > 0 {
		return "", fmt.Errorf("salon slug %q: %w", newSlug, ErrSlugTaken)
	}
	if _, err := tx.ExecContext(ctx, q(`DELETE FROM slug_history WHERE entity = 'salon' AND old_slug = ?`), newSlug); err != nil {
		return "", fmt.Errorf("rename salon %d: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, q(`UPDATE salons SET slug = ?, updated_at = ? WHERE id = ?`), newSlug, now, id); err != nil {
		return "", fmt.Errorf("rename salon %d: %w", id, err)
	}
	upsert := `INSERT INTO slug_history (entity, old_slug, entity_id, created_at) VALUES ('salon', ?, ?, ?)
		ON CONFLICT (entity, old_slug) DO UPDATE SET entity_id = excluded.entity_id, created_at = excluded.created_at`
	if _, err := tx.ExecContext(ctx, q(upsert), old, id, now); err != nil {
		return "", fmt.Errorf("rename salon %d: %w", id, err)
	}
	return old, nil
}
