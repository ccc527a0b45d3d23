package sitemap

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sevra/atlas/internal/store"
)

// DB is the database the builder reads; *store.Store implements it. The
// builder runs its own SQL, written with '?' placeholders and rebound for
// the dialect.
type DB interface {
	DB() *sql.DB
	Dialect() store.Dialect
}

// salonRow, cityRow and postRow are what one keyset page yields.
type salonRow struct {
	id             int64
	slug, citySlug string
	updatedAt      time.Time
	imageKeys      []string
}

type cityRow struct {
	id   int64
	slug string
}

type postRow struct {
	id      int64
	slug    string
	lastMod time.Time
}

// reader runs the builder's queries. Every method is one statement (one
// short implicit read transaction); no transaction spans pages, and rows
// are read into memory and closed before the caller writes anything.
type reader struct {
	db *sql.DB
	d  store.Dialect
}

func (r reader) q(s string) string { return store.Rebind(r.d, s) }

func (r reader) count(ctx context.Context, q string, args ...any) (int64, error) {
	var n int64
	if err := r.db.QueryRowContext(ctx, r.q(q), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count: %w", err)
	}
	return n, nil
}

// salons returns up to limit salons with id > after, in id order, reusing
// buf's array (the previous page, already written) when it is large enough.
func (r reader) salons(ctx context.Context, after int64, limit int, buf []salonRow) ([]salonRow, error) {
	rows, err := r.db.QueryContext(ctx, r.q(`SELECT s.id, s.slug, c.slug, s.updated_at
		FROM salons s JOIN cities c ON c.id = s.city_id
		WHERE s.id > ? ORDER BY s.id LIMIT ?`), after, limit)
	if err != nil {
		return nil, fmt.Errorf("salons page: %w", err)
	}
	defer rows.Close()
	out := buf[:0]
	if cap(out) < limit {
		out = make([]salonRow, 0, limit)
	}
	for rows.Next() {
		var x salonRow
		if err := rows.Scan(&x.id, &x.slug, &x.citySlug, &x.updatedAt); err != nil {
			return nil, fmt.Errorf("salons page: %w", err)
		}
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("salons page: %w", err)
	}
	return out, nil
}

// salonImages attaches the storage key of the largest variant of every
// ready media item owned by the salons in page (sorted by id). One range
// query on media_owner_idx (owner_type, owner_id) covers the page.
func (r reader) salonImages(ctx context.Context, page []salonRow) error {
	if len(page) == 0 {
		return nil
	}
	rows, err := r.db.QueryContext(ctx, r.q(`SELECT owner_id, variants FROM media
		WHERE owner_type = 'salon' AND status = 'ready' AND owner_id >= ? AND owner_id <= ?
		ORDER BY owner_id, id`), page[0].id, page[len(page)-1].id)
	if err != nil {
		return fmt.Errorf("salon media: %w", err)
	}
	defer rows.Close()
	i := 0
	for rows.Next() {
		var owner int64
		var variants []byte
		if err := rows.Scan(&owner, &variants); err != nil {
			return fmt.Errorf("salon media: %w", err)
		}
		for i < len(page) && page[i].id < owner {
			i++
		}
		if i == len(page) || page[i].id != owner || len(page[i].imageKeys) >= MaxImagesPerURL {
			continue
		}
		if key := largestVariant(variants); key != "" {
			page[i].imageKeys = append(page[i].imageKeys, key)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("salon media: %w", err)
	}
	return nil
}

// cities returns up to limit cities with id > after, in id order.
func (r reader) cities(ctx context.Context, after int64, limit int) ([]cityRow, error) {
	rows, err := r.db.QueryContext(ctx, r.q(`SELECT id, slug FROM cities WHERE id > ? ORDER BY id LIMIT ?`), after, limit)
	if err != nil {
		return nil, fmt.Errorf("cities page: %w", err)
	}
	defer rows.Close()
	out := make([]cityRow, 0, limit)
	for rows.Next() {
		var x cityRow
		if err := rows.Scan(&x.id, &x.slug); err != nil {
			return nil, fmt.Errorf("cities page: %w", err)
		}
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cities page: %w", err)
	}
	return out, nil
}

const postsPublished = "published_at IS NOT NULL AND published_at <= ?"

// posts returns up to limit posts published at or before now with
// id > after, in id order. lastMod is the later of updated_at and
// published_at: a scheduled post changes when it goes live.
func (r reader) posts(ctx context.Context, now time.Time, after int64, limit int) ([]postRow, error) {
	rows, err := r.db.QueryContext(ctx, r.q(`SELECT id, slug, published_at, updated_at FROM posts
		WHERE id > ? AND `+postsPublished+` ORDER BY id LIMIT ?`), after, now.UTC(), limit)
	if err != nil {
		return nil, fmt.Errorf("posts page: %w", err)
	}
	defer rows.Close()
	out := make([]postRow, 0, limit)
	for rows.Next() {
		var x postRow
		var pub, upd time.Time
		if err := rows.Scan(&x.id, &x.slug, &pub, &upd); err != nil {
			return nil, fmt.Errorf("posts page: %w", err)
		}
		x.lastMod = upd
		if pub.After(upd) {
			x.lastMod = pub
		}
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("posts page: %w", err)
	}
	return out, nil
}

// largestVariant picks the storage key of the largest variant in a media
// row's variants JSON object. Values are either a storage key (variant
// name -> key) or, as internal/media writes them, an object with key,
// width and format. Size is the object's width, else read from the name:
// the first number in it (w1600, 800w, 1200x800) wins over a size word
// (xxl, xl, large, medium, small, thumb). Among equal sizes a JPEG wins
// (every image consumer reads it), then the lexically smallest name.
// It returns "" when there is no usable variant.
func largestVariant(variants []byte) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(variants, &m); err != nil || len(m) == 0 {
		return ""
	}
	type entry struct {
		name, key string
		size      int
		jpeg      bool
	}
	var es []entry
	for n, raw := range m {
		e := entry{name: n, size: variantSize(n), jpeg: true}
		var key string
		var obj struct {
			Key    string `json:"key"`
			Width  int    `json:"width"`
			Format string `json:"format"`
		}
		switch {
		case json.Unmarshal(raw, &key) == nil:
			e.key = key
		case json.Unmarshal(raw, &obj) == nil:
			e.key, e.jpeg = obj.Key, obj.Format == "jpeg"
			if obj.Width > 0 {
				e.size = 1000 + obj.Width
			}
		}
		if strings.TrimSpace(e.key) != "" {
			es = append(es, e)
		}
	}
	if len(es) == 0 {
		return ""
	}
	sort.Slice(es, func(i, j int) bool {
		if es[i].size != es[j].size {
			return es[i].size > es[j].size
		}
		if es[i].jpeg != es[j].jpeg {
			return es[i].jpeg
		}
		return es[i].name < es[j].name
	})
	return es[0].key
}

var firstNumber = regexp.MustCompile(`[0-9]+`)

var sizeWords = map[string]int{
	"thumb": 1, "thumbnail": 1, "xs": 1, "sm": 2, "small": 2, "md": 3, "medium": 3,
	"lg": 4, "large": 4, "xl": 5, "xxl": 6, "full": 7, "max": 7,
}

// variantSize ranks a variant name: pixel widths rank above size words.
func variantSize(name string) int {
	if s := firstNumber.FindString(name); s != "" {
		if n, err := strconv.Atoi(s); err == nil {
			return 1000 + n
		}
	}
	return sizeWords[strings.ToLower(name)]
}
