package site

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sevra/atlas/internal/store"
)

// Store is what the pages read; *store.Store implements it. The few
// page-only reads (address, reviews, photos, removals) are SQL of this
// package over DB, written with '?' and rebound for the dialect.
type Store interface {
	DB() *sql.DB
	Dialect() store.Dialect
	ListCities(ctx context.Context) ([]store.City, error)
	CityBySlug(ctx context.Context, slug string) (store.City, error)
	ListSalons(ctx context.Context, f store.SalonFilter) ([]store.Salon, int64, error)
	ResolveSalonSlug(ctx context.Context, slug string) (store.Salon, bool, error)
	ListPosts(ctx context.Context, now time.Time, page, perPage int) ([]store.Post, int64, error)
	PostBySlug(ctx context.Context, now time.Time, slug string) (store.Post, error)
}

// Review is one published review as a salon page shows it.
type Review struct {
	Rating    int       `json:"rating"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

// Photo is one media item attached to a salon or a post.
type Photo struct {
	ID       int64                     `json:"id"`
	Role     string                    `json:"role"`
	Status   string                    `json:"status"`
	Width    int                       `json:"width"`
	Height   int                       `json:"height"`
	Hash     string                    `json:"hash"`
	Variants map[string]variantInStore `json:"variants"`
}

// variantInStore is one stored rendition, as internal/media records it in
// the variants column.
type variantInStore struct {
	Key    string `json:"key"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Format string `json:"format"`
}

// salonData is everything a salon page shows; it is what the read cache
// holds (JSON), per slug and review page.
type salonData struct {
	Salon   store.Salon `json:"salon"`
	Moved   bool        `json:"moved"`
	Gone    bool        `json:"gone"`
	GoneAs  string      `json:"gone_as,omitempty"`
	City    store.City  `json:"city"`
	Address string      `json:"address"`
	Reviews []Review    `json:"reviews"`
	Photos  []Photo     `json:"photos"`
}

// cityData is one page of a city's salons.
type cityData struct {
	City   store.City    `json:"city"`
	Salons []store.Salon `json:"salons"`
	Total  int64         `json:"total"`
}

type reader struct{ st Store }

func (r reader) q(s string) string { return store.Rebind(r.st.Dialect(), s) }

// salon loads a salon page: the salon (through its slug history), its
// city, address, one page of published reviews and its photos. Five
// statements, whatever the number of reviews or photos.
func (r reader) salon(ctx context.Context, slug string, page, perPage int) (salonData, error) {
	s, moved, err := r.st.ResolveSalonSlug(ctx, slug)
	if errors.Is(err, store.ErrNotFound) {
		var name string
		gerr := r.st.DB().QueryRowContext(ctx, r.q(`SELECT name FROM salon_removals WHERE slug = ?`), slug).Scan(&name)
		if gerr == nil {
			return salonData{Gone: true, GoneAs: name}, nil
		}
		if !errors.Is(gerr, sql.ErrNoRows) {
			return salonData{}, fmt.Errorf("salon removals: %w", gerr)
		}
		return salonData{}, err
	}
	if err != nil {
		return salonData{}, err
	}
	d := salonData{Salon: s, Moved: moved, Reviews: []Review{}}
	if moved {
		return d, nil
	}
	db := r.st.DB()
	err = db.QueryRowContext(ctx, r.q(`SELECT s.address, c.id, c.slug, c.name, c.name_fa, c.province
		FROM salons s JOIN cities c ON c.id = s.city_id WHERE s.id = ?`), s.ID).
		Scan(&d.Address, &d.City.ID, &d.City.Slug, &d.City.Name, &d.City.NameFa, &d.City.Province)
	if err != nil {
		return salonData{}, fmt.Errorf("salon %d address: %w", s.ID, err)
	}
	rows, err := db.QueryContext(ctx, r.q(`SELECT rating, body, created_at FROM reviews
		WHERE salon_id = ? AND status = 'published' ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`),
		s.ID, perPage, (page-1)*perPage)
	if err != nil {
		return salonData{}, fmt.Errorf("salon %d reviews: %w", s.ID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var v Review
		if err := rows.Scan(&v.Rating, &v.Body, &v.CreatedAt); err != nil {
			return salonData{}, fmt.Errorf("salon %d reviews: %w", s.ID, err)
		}
		v.CreatedAt = v.CreatedAt.UTC()
		d.Reviews = append(d.Reviews, v)
	}
	if err := rows.Err(); err != nil {
		return salonData{}, fmt.Errorf("salon %d reviews: %w", s.ID, err)
	}
	if d.Photos, err = r.photos(ctx, "salon", s.ID); err != nil {
		return salonData{}, err
	}
	return d, nil
}

// photos returns the media attached to one owner (gallery and cover, still
// processing ones included: the page shows their placeholder), the cover
// first, then by position. Failed items are left out.
func (r reader) photos(ctx context.Context, ownerType string, ownerID int64) ([]Photo, error) {
	rows, err := r.st.DB().QueryContext(ctx, r.q(`SELECT id, role, status, CAST(variants AS TEXT), width, height, placeholder
		FROM media WHERE owner_type = ? AND owner_id = ? AND role IS NOT NULL AND status <> 'failed'
		ORDER BY CASE WHEN role = 'cover' THEN 0 ELSE 1 END, position, id`), ownerType, ownerID)
	if err != nil {
		return nil, fmt.Errorf("%s %d photos: %w", ownerType, ownerID, err)
	}
	defer rows.Close()
	out := []Photo{}
	for rows.Next() {
		var p Photo
		var variants string
		var w, h sql.NullInt64
		var hash sql.NullString
		if err := rows.Scan(&p.ID, &p.Role, &p.Status, &variants, &w, &h, &hash); err != nil {
			return nil, fmt.Errorf("%s %d photos: %w", ownerType, ownerID, err)
		}
		p.Width, p.Height, p.Hash = int(w.Int64), int(h.Int64), hash.String
		if err := json.Unmarshal([]byte(variants), &p.Variants); err != nil {
			return nil, fmt.Errorf("media %d variants: %w", p.ID, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s %d photos: %w", ownerType, ownerID, err)
	}
	return out, nil
}

// city loads one page of a city's salons, sorted.
func (r reader) city(ctx context.Context, slug string, sort store.SalonSort, page, perPage int) (cityData, error) {
	c, err := r.st.CityBySlug(ctx, slug)
	if err != nil {
		return cityData{}, err
	}
	salons, total, err := r.st.ListSalons(ctx, store.SalonFilter{CitySlug: slug, Sort: sort, Page: page, PerPage: perPage})
	if err != nil {
		return cityData{}, err
	}
	return cityData{City: c, Salons: salons, Total: total}, nil
}

// isPersian reports whether s is written mostly in the Arabic script
// (Persian here): it decides lang and dir.
func isPersian(s string) bool {
	var ar, latin int
	for _, c := range s {
		switch {
		case c >= 0x0600 && c <= 0x06FF, c >= 0xFB50 && c <= 0xFDFF, c >= 0xFE70 && c <= 0xFEFF:
			ar++
		case c < 0x80 && (c|0x20 >= 'a' && c|0x20 <= 'z'):
			latin++
		}
	}
	return ar > latin
}

// excerpt returns the first n runes of s on a word boundary, for meta
// descriptions.
func excerpt(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	cut := string(r[:n])
	if i := strings.LastIndexByte(cut, ' '); i > n/2 {
		cut = cut[:i]
	}
	return cut + "…"
}
