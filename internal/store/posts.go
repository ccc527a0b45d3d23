package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// isNotFound reports whether err wraps ErrNotFound.
func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// Post is a blog post.
type Post struct {
	ID          int64      `json:"id"`
	Slug        string     `json:"slug"`
	Title       string     `json:"title"`
	Body        string     `json:"body,omitempty"`
	PublishedAt *time.Time `json:"published_at"`
	ViewCount   int64      `json:"view_count"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

func scanPost(sc scanner, withBody bool) (Post, error) {
	var p Post
	var pub sql.NullTime
	dest := []any{&p.ID, &p.Slug, &p.Title, &pub, &p.ViewCount, &p.UpdatedAt}
	if withBody {
		dest = append(dest, &p.Body)
	}
	err := sc.Scan(dest...)
	if pub.Valid {
		t := pub.Time.UTC()
		p.PublishedAt = &t
	}
	p.UpdatedAt = p.UpdatedAt.UTC()
	return p, err
}

// ListPosts returns one page (from 1) of posts published at or before now,
// newest first, without bodies, and the total number of such posts.
func (s *Store) ListPosts(ctx context.Context, now time.Time, page, perPage int) ([]Post, int64, error) {
	if page < 1 || perPage < 1 {
		return nil, 0, fmt.Errorf("page %d, per page %d: must be positive", page, perPage)
	}
	var total int64
	err := s.db.QueryRowContext(ctx, s.Rebind("SELECT count(*) FROM posts WHERE published_at <= ?"), now.UTC()).Scan(&total)
	if err != nil {
		return nil, 0, fmt.Errorf("count posts: %w", err)
	}
	q := `SELECT id, slug, title, published_at, view_count, updated_at FROM posts
		WHERE published_at <= ? ORDER BY published_at DESC, id DESC LIMIT ? OFFSET ?`
	rows, err := s.db.QueryContext(ctx, s.Rebind(q), now.UTC(), perPage, (page-1)*perPage)
	if err != nil {
		return nil, 0, fmt.Errorf("list posts: %w", err)
	}
	defer rows.Close()
	out := []Post{}
	for rows.Next() {
		p, err := scanPost(rows, false)
		if err != nil {
			return nil, 0, fmt.Errorf("scan post: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list posts: %w", err)
	}
	return out, total, nil
}

// PostBySlug returns the post published at or before now with the given
// slug, or ErrNotFound (also for drafts and scheduled posts).
func (s *Store) PostBySlug(ctx context.Context, now time.Time, slug string) (Post, error) {
	q := `SELECT id, slug, title, published_at, view_count, updated_at, body FROM posts
		WHERE slug = ? AND published_at <= ?`
	p, err := scanPost(s.db.QueryRowContext(ctx, s.Rebind(q), slug, now.UTC()), true)
	if err != nil {
		return Post{}, notFound(err, "post "+slug)
	}
	return p, nil
}

// postSlugsChunk bounds the ids one PostSlugs query binds (twice each).
const postSlugsChunk = 400

// PostSlugs returns every slug that leads to one of the posts ids: their
// current slugs and their old slugs in slug_history (the URLs that answer
// or redirect for them, which a cache of post pages keys by). Unknown ids
// contribute nothing.
func (s *Store) PostSlugs(ctx context.Context, ids ...int64) ([]string, error) {
	var out []string
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), postSlugsChunk)]
		ids = ids[len(chunk):]
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(chunk)), ", ")
		args := make([]any, 0, 2*len(chunk))
		for _, id := range chunk {
			args = append(args, id)
		}
		args = append(args, args...)
		q := "SELECT slug FROM posts WHERE id IN (" + marks + ") " +
			"UNION SELECT old_slug FROM slug_history WHERE entity = 'post' AND entity_id IN (" + marks + ")"
		rows, err := s.db.QueryContext(ctx, s.Rebind(q), args...)
		if err != nil {
			return nil, fmt.Errorf("post slugs: %w", err)
		}
		for rows.Next() {
			var slug string
			if err := rows.Scan(&slug); err != nil {
				rows.Close()
				return nil, fmt.Errorf("post slugs: %w", err)
			}
			out = append(out, slug)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("post slugs: %w", err)
		}
	}
	return out, nil
}
