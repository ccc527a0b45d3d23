package sitemap

import (
	"context"
	"time"
)

// The section streams share one shape: read a page after the last id seen,
// write it, repeat until a short page. The page is fully read (and its
// rows closed) before anything is written, so no read spans pages.

func (b *Builder) streamSalons(ctx context.Context, w *URLSetWriter, st *Stats, tick func(int)) (int64, error) {
	var after, n int64
	var page []salonRow
	// One lastmod and image slice reused for every URL: Add copies what
	// it keeps.
	var lastMod time.Time
	var images []string
	for {
		var err error
		page, err = timed(st, func() ([]salonRow, error) {
			rows, err := b.read.salons(ctx, after, b.cfg.PageSize, page)
			if err == nil && !b.cfg.NoImages {
				err = b.read.salonImages(ctx, rows)
			}
			return rows, err
		})
		if err != nil {
			return n, err
		}
		for _, s := range page {
			lastMod = s.updatedAt
			images = images[:0]
			for _, k := range s.imageKeys {
				images = append(images, b.cfg.Paths.Media(b.base, k))
			}
			u := URL{Loc: b.cfg.Paths.Salon(b.base, s.slug, s.citySlug), LastMod: &lastMod, Images: images}
			ok, err := b.add(w, st, u)
			if err != nil {
				return n, err
			}
			if ok {
				n++
				st.Images += int64(min(len(u.Images), MaxImagesPerURL))
			}
		}
		tick(len(page))
		if len(page) < b.cfg.PageSize {
			return n, nil
		}
		after = page[len(page)-1].id
	}
}

// streamCities lists every city without lastmod: the only candidate,
// stats_updated_at, moves on every scheduled stats refresh whether or not
// the page changed, and an inaccurate lastmod teaches crawlers to ignore
// it.
func (b *Builder) streamCities(ctx context.Context, w *URLSetWriter, st *Stats, tick func(int)) (int64, error) {
	var after, n int64
	for {
		page, err := timed(st, func() ([]cityRow, error) { return b.read.cities(ctx, after, b.cfg.PageSize) })
		if err != nil {
			return n, err
		}
		for _, c := range page {
			ok, err := b.add(w, st, URL{Loc: b.cfg.Paths.City(b.base, c.slug)})
			if err != nil {
				return n, err
			}
			if ok {
				n++
			}
		}
		tick(len(page))
		if len(page) < b.cfg.PageSize {
			return n, nil
		}
		after = page[len(page)-1].id
	}
}

// streamPosts lists posts published at or before now.
func (b *Builder) streamPosts(ctx context.Context, now time.Time, w *URLSetWriter, st *Stats, tick func(int)) (int64, error) {
	var after, n int64
	for {
		page, err := timed(st, func() ([]postRow, error) { return b.read.posts(ctx, now, after, b.cfg.PageSize) })
		if err != nil {
			return n, err
		}
		for _, p := range page {
			ok, err := b.add(w, st, URL{Loc: b.cfg.Paths.Post(b.base, p.slug), LastMod: ptr(p.lastMod)})
			if err != nil {
				return n, err
			}
			if ok {
				n++
			}
		}
		tick(len(page))
		if len(page) < b.cfg.PageSize {
			return n, nil
		}
		after = page[len(page)-1].id
	}
}

func ptr[T any](v T) *T { return &v }
