package seo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sevra/atlas/internal/slug"
	"github.com/sevra/atlas/internal/store"
)

// ErrBadSlug is returned for a slug that cannot be a URL segment.
var ErrBadSlug = errors.New("invalid slug")

// Redirects keeps post slug history. Salons are covered by internal/salon
// (the writer) and store.ResolveSalonSlug with the same model: a
// slug_history row maps an old slug to the entity id, never to another
// slug, so an old URL resolves in one lookup straight to the current slug.
// There are no chains to follow and so no loops: renaming a→b→c leaves
// rows a→id and b→id, and renaming back to a deletes the row for a.
//
// A rename invalidates the post's cached pages (SetCache) after it
// commits, under every slug that leads to the post, so that no node serves
// the old answer for the renamed slugs.
type Redirects struct {
	db    DB
	cache CacheInvalidator
}

// DB is the database Redirects reads and writes; *store.Store implements
// it. Redirects runs its own SQL, written with '?' placeholders and
// rebound for the dialect.
type DB interface {
	DB() *sql.DB
	Dialect() store.Dialect
}

// NewRedirects returns post slug history over db.
func NewRedirects(db DB) *Redirects { return &Redirects{db: db} }

// SetCache makes RenamePost invalidate c (Invalidate(EntityPost, id))
// after each rename commits. Call it before the first rename.
func (r *Redirects) SetCache(c CacheInvalidator) { r.cache = c }

func (r *Redirects) q(s string) string { return store.Rebind(r.db.Dialect(), s) }

// RenamePost gives post id a new slug and records the old one in
// slug_history in the same transaction, so the old URL answers 301.
// It returns an error wrapping store.ErrNotFound for an unknown post.
func (r *Redirects) RenamePost(ctx context.Context, id int64, newSlug string, now time.Time) error {
	if err := checkSlug(newSlug); err != nil {
		return err
	}
	tx, err := r.db.DB().BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("rename post: %w", err)
	}
	defer tx.Rollback()
	var old string
	err = tx.QueryRowContext(ctx, r.q("SELECT slug FROM posts WHERE id = ?"), id).Scan(&old)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("rename post %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("rename post %d: %w", id, err)
	}
	if old == newSlug {
		return nil
	}
	// The new slug is current again (for this post, or now for another
	// one), so it must no longer redirect.
	if _, err := tx.ExecContext(ctx, r.q("DELETE FROM slug_history WHERE entity = 'post' AND old_slug = ?"), newSlug); err != nil {
		return fmt.Errorf("rename post %d: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, r.q("UPDATE posts SET slug = ?, updated_at = ? WHERE id = ?"), newSlug, now.UTC(), id); err != nil {
		return fmt.Errorf("rename post %d: %w", id, err)
	}
	upsert := `INSERT INTO slug_history (entity, old_slug, entity_id, created_at) VALUES ('post', ?, ?, ?)
		ON CONFLICT (entity, old_slug) DO UPDATE SET entity_id = excluded.entity_id, created_at = excluded.created_at`
	if _, err := tx.ExecContext(ctx, r.q(upsert), old, id, now.UTC()); err != nil {
		return fmt.Errorf("rename post %d: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("rename post %d: %w", id, err)
	}
	if r.cache != nil {
		if err := r.cache.Invalidate(ctx, EntityPost, id); err != nil {
			return fmt.Errorf("rename post %d: renamed, cache not invalidated (entries expire with their TTL): %w", id, err)
		}
	}
	return nil
}

// ResolvePostSlug finds where a post slug points now: the slug itself and
// moved=false when it is current; the current slug and moved=true when it
// is an old one (answer 301 to it); an error wrapping store.ErrNotFound
// otherwise. It does not check publication; the caller's read does.
func (r *Redirects) ResolvePostSlug(ctx context.Context, slug string) (string, bool, error) {
	var cur string
	err := r.db.DB().QueryRowContext(ctx, r.q("SELECT slug FROM posts WHERE slug = ?"), slug).Scan(&cur)
	if err == nil {
		return cur, false, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", false, fmt.Errorf("resolve post %q: %w", slug, err)
	}
	err = r.db.DB().QueryRowContext(ctx, r.q(`SELECT p.slug FROM slug_history h JOIN posts p ON p.id = h.entity_id
		WHERE h.entity = 'post' AND h.old_slug = ?`), slug).Scan(&cur)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", false, fmt.Errorf("post %q: %w", slug, store.ErrNotFound)
	case err != nil:
		return "", false, fmt.Errorf("resolve post %q: %w", slug, err)
	case cur == slug: // unreachable by construction; never redirect to itself
		return cur, false, nil
	}
	return cur, true, nil
}

// checkSlug accepts the slug alphabet of internal/slug.
func checkSlug(s string) error {
	if err := slug.Check(s); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSlug, err)
	}
	return nil
}
