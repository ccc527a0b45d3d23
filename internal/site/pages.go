package site

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	slugs "github.com/sevra/atlas/internal/slug"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/sevra/atlas/internal/store"
)

// genKey is the generation every cached page key carries: Invalidate
// deletes it, so one delete retires every cached page (salon pages, the
// city lists a salon appears in, the home page's top list).
const genKey = "site:gen"

// cached returns the value under key (within the current generation),
// loading and caching it on a miss.
func cached[T any](ctx context.Context, s *Server, key string, load func(context.Context) (T, error)) (T, error) {
	var v T
	raw, err := cachedRaw(ctx, s, key, load)
	if err != nil {
		return v, err
	}
	return decode[T](raw, key)
}

// cachedRaw is cached's JSON, before decoding: a page whose data are the
// same bytes as at its last rendering is served from the memo without
// decoding or rendering again.
func cachedRaw[T any](ctx context.Context, s *Server, key string, load func(context.Context) (T, error)) ([]byte, error) {
	loadJSON := func(ctx context.Context) ([]byte, error) {
		x, err := load(ctx)
		if err != nil {
			return nil, err
		}
		return json.Marshal(x)
	}
	c, ttl := s.cfg.Cache, s.cfg.TTL
	if c == nil || ttl <= 0 {
		return loadJSON(ctx)
	}
	gen, err := c.GetOrLoad(ctx, genKey, 24*time.Hour, func(context.Context) ([]byte, error) {
		return []byte(strconv.FormatInt(time.Now().UnixNano(), 36)), nil
	})
	if err != nil {
		return nil, err
	}
	return c.GetOrLoad(ctx, "site:"+string(gen)+":"+key, ttl, loadJSON)
}

func decode[T any](raw []byte, key string) (T, error) {
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, fmt.Errorf("cached page %s: %w", key, err)
	}
	return v, nil
}

// Invalidate implements seo.CacheInvalidator: any change to a salon, a
// city or a post retires every cached page.
func (s *Server) Invalidate(ctx context.Context, _ string, _ int64) error {
	if s.cfg.Cache == nil {
		return nil
	}
	return s.cfg.Cache.Delete(ctx, genKey)
}

type homeData struct {
	Cities []store.City  `json:"cities"`
	Salons []store.Salon `json:"salons"`
	Posts  []store.Post  `json:"posts"`
}

// Home serves GET /: the cities and the top-rated salons.
func (s *Server) Home() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := cachedRaw(r.Context(), s, "home", func(ctx context.Context) (homeData, error) {
			cities, err := s.cfg.Store.ListCities(ctx)
			if err != nil {
				return homeData{}, err
			}
			salons, _, err := s.cfg.Store.ListSalons(ctx, store.SalonFilter{Sort: store.SortRating, Page: 1, PerPage: homeSalons})
			if err != nil {
				return homeData{}, err
			}
			posts, _, err := s.cfg.Store.ListPosts(ctx, s.cfg.Now(), 1, 4)
			return homeData{Cities: cities, Salons: salons, Posts: posts}, err
		})
		if err == nil && s.memoHit(w, r, raw) {
			return
		}
		var d homeData
		if err == nil {
			d, err = decode[homeData](raw, "home")
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		names := cityNames(d.Cities)
		ld, _ := jsonLD(map[string]any{"@context": "https://schema.org", "@type": "WebSite",
			"name": s.cfg.SiteName, "url": s.base.String() + "/"})
		s.render(w, r, http.StatusOK, "home", page{
			Title:       s.cfg.SiteName + ": beauty salons in Iran, rated by their clients",
			Description: fmt.Sprintf("Find and compare %d beauty salons across %d Iranian cities, ranked by verified client reviews.", sumSalons(d.Cities), len(d.Cities)),
			Canonical:   s.base.String() + "/", OGType: "website", JSONLD: []template.JS{ld}, memo: raw,
			Data: struct {
				homeData
				CityNames map[int64]store.City
			}{d, names},
		}, cacheListing, time.Time{})
	})
}

// City serves GET /cities/{slug}: its salons, paginated, sorted by
// Bayesian rating (or ?sort=name|newest).
func (s *Server) City() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slug, n, ok := s.slugAndPage(w, r)
		if !ok {
			return
		}
		sort := store.SortRating
		switch v := r.URL.Query().Get("sort"); v {
		case "", string(store.SortRating):
		case string(store.SortName), string(store.SortNewest):
			sort = store.SalonSort(v)
		default:
			s.fail(w, r, errNoPage)
			return
		}
		key := "city:" + slug + ":" + string(sort) + ":" + strconv.Itoa(n)
		raw, err := cachedRaw(r.Context(), s, key, func(ctx context.Context) (cityData, error) {
			return s.read.city(ctx, slug, sort, n, salonsPerPage)
		})
		if err == nil && s.memoHit(w, r, raw) {
			return
		}
		var d cityData
		if err == nil {
			d, err = decode[cityData](raw, key)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		pages := pageCount(d.Total, salonsPerPage)
		if n > pages {
			s.fail(w, r, errNoPage)
			return
		}
		c := d.City
		canon := s.base.Join("cities", c.Slug)
		title := fmt.Sprintf("Beauty salons in %s (%s)", c.Name, c.NameFa)
		if n > 1 {
			canon += "?page=" + strconv.Itoa(n)
			title += fmt.Sprintf(", page %d", n)
		}
		crumbs := []crumb{{"Home", s.base.String() + "/"}, {c.Name, s.base.Join("cities", c.Slug)}}
		bl, _ := jsonLD(breadcrumbs(crumbs))
		s.render(w, r, http.StatusOK, "city", page{
			Title: title + " | " + s.cfg.SiteName,
			Description: fmt.Sprintf("%d beauty salons in %s, %s, ranked by %d client reviews (average %.1f of 5).",
				c.SalonCount, c.Name, c.Province, c.ReviewCount, c.AvgRating),
			Canonical: canon, OGType: "website", JSONLD: []template.JS{bl}, Crumbs: crumbs, memo: raw,
			Data: struct {
				cityData
				Sort  string
				Pager pager
			}{d, string(sort), newPager("/cities/"+pathEscape(c.Slug), sortQuery(sort), n, pages)},
		}, cacheListing, time.Time{})
	})
}

// Salon serves GET /salons/{slug}: 301 from an old slug, 410 for a
// removed salon, else the salon with its photos and a page of reviews.
func (s *Server) Salon() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slug, n, ok := s.slugAndPage(w, r)
		if !ok {
			return
		}
		key := "salon:" + slug + ":" + strconv.Itoa(n)
		raw, err := cachedRaw(r.Context(), s, key, func(ctx context.Context) (salonData, error) {
			return s.read.salon(ctx, slug, n, reviewsPerPage)
		})
		// Only a 200 with every photo ready is memoised, so a match is one.
		if err == nil && s.memoHit(w, r, raw) {
			return
		}
		var d salonData
		if err == nil {
			d, err = decode[salonData](raw, key)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		switch {
		case d.Gone:
			s.errorPage(w, r, http.StatusGone, "This salon has closed",
				d.GoneAs+" is no longer listed on "+s.cfg.SiteName+". Browse the other salons of its city from the home page.", cacheError)
			return
		case d.Moved:
			s.redirect(w, r, "salons", d.Salon.Slug)
			return
		}
		if processing(d.Photos) {
			raw = nil // not memoised: the next request reads the photos again
			// The media job does not know the page: a photo still being
			// processed is read again until it is ready (one query).
			if d.Photos, err = s.read.photos(r.Context(), "salon", d.Salon.ID); err != nil {
				s.fail(w, r, err)
				return
			}
		}
		pages := pageCount(d.Salon.RatingCount, reviewsPerPage)
		if n > max(pages, 1) {
			s.fail(w, r, errNoPage)
			return
		}
		s.renderSalon(w, r, d, n, pages, raw)
	})
}

// Posts serves GET /posts: the published posts, newest first.
func (s *Server) Posts() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := pageParam(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		type postsData struct {
			Posts []store.Post `json:"posts"`
			Total int64        `json:"total"`
		}
		d, err := cached(r.Context(), s, "posts:"+strconv.Itoa(n), func(ctx context.Context) (postsData, error) {
			ps, total, err := s.cfg.Store.ListPosts(ctx, s.cfg.Now(), n, postsPerPage)
			return postsData{ps, total}, err
		})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		pages := pageCount(d.Total, postsPerPage)
		if n > max(pages, 1) {
			s.fail(w, r, errNoPage)
			return
		}
		canon := s.base.Join("posts")
		if n > 1 {
			canon += "?page=" + strconv.Itoa(n)
		}
		crumbs := []crumb{{"Home", s.base.String() + "/"}, {"Posts", s.base.Join("posts")}}
		bl, _ := jsonLD(breadcrumbs(crumbs))
		s.render(w, r, http.StatusOK, "posts", page{
			Title:       "Beauty and care articles | " + s.cfg.SiteName,
			Description: "Articles about hair, skin and nail care and how to choose a salon, from the " + s.cfg.SiteName + " editors.",
			Canonical:   canon, OGType: "website", JSONLD: []template.JS{bl}, Crumbs: crumbs,
			Data: struct {
				Posts []store.Post
				Pager pager
			}{d.Posts, newPager("/posts", "", n, pages)},
		}, cacheListing, time.Time{})
	})
}

// Post serves GET /posts/{slug}: 301 from an old slug; every page served
// (also a 304) counts a view through the views module.
func (s *Server) Post() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slug := r.PathValue("slug")
		if !slugs.Valid(slug) { // cannot exist: no query
			s.notFound(w, r)
			return
		}
		now := s.cfg.Now()
		p, err := s.cfg.Store.PostBySlug(r.Context(), now, slug)
		if errors.Is(err, store.ErrNotFound) && s.cfg.Posts != nil {
			cur, moved, rerr := s.cfg.Posts.ResolvePostSlug(r.Context(), slug)
			if rerr == nil && moved && cur != slug {
				if _, perr := s.cfg.Store.PostBySlug(r.Context(), now, cur); perr == nil {
					s.redirect(w, r, "posts", cur)
					return
				}
			}
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		photos, err := cached(r.Context(), s, "post-photos:"+strconv.FormatInt(p.ID, 10), func(ctx context.Context) ([]Photo, error) {
			return s.read.photos(ctx, "post", p.ID)
		})
		if err == nil && processing(photos) {
			photos, err = s.read.photos(r.Context(), "post", p.ID)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if s.cfg.Views != nil {
			// A view is a signal: counting it never fails the page.
			if err := s.cfg.Views.Record(r.Context(), p.ID, r.Method, r.UserAgent()); err != nil {
				s.log.WarnContext(r.Context(), "post view not counted", "post", p.ID, "err", err)
			}
		}
		s.renderPost(w, r, p, photos)
	})
}

func cityNames(cs []store.City) map[int64]store.City {
	m := make(map[int64]store.City, len(cs))
	for _, c := range cs {
		m[c.ID] = c
	}
	return m
}

func sumSalons(cs []store.City) int64 {
	var n int64
	for _, c := range cs {
		n += c.SalonCount
	}
	return n
}

func pageCount(total int64, per int) int { return int((total + int64(per) - 1) / int64(per)) }

func sortQuery(s store.SalonSort) string {
	if s == store.SortRating {
		return ""
	}
	return "sort=" + string(s)
}

// pager links the previous and next pages of a list.
type pager struct {
	Page, Pages int
	Prev, Next  string
}

func newPager(path, query string, n, pages int) pager {
	link := func(i int) string {
		q := query
		if i > 1 {
			if q != "" {
				q += "&"
			}
			q += "page=" + strconv.Itoa(i)
		}
		if q == "" {
			return path
		}
		return path + "?" + q
	}
	p := pager{Page: n, Pages: max(pages, 1)}
	if n > 1 {
		p.Prev = link(n - 1)
	}
	if n < pages {
		p.Next = link(n + 1)
	}
	return p
}

// processing reports whether any photo is still being processed.
func processing(ps []Photo) bool {
	for _, p := range ps {
		if p.Status != "ready" {
			return true
		}
	}
	return false
}

// slugAndPage reads the {slug} path value and the ?page= parameter of a
// paginated page; on a slug that cannot exist (the HTML 404) or a bad
// page number it answers and reports false.
func (s *Server) slugAndPage(w http.ResponseWriter, r *http.Request) (string, int, bool) {
	slug := r.PathValue("slug")
	if !slugs.Valid(slug) {
		s.notFound(w, r)
		return "", 0, false
	}
	n, err := pageParam(r)
	if err != nil {
		s.fail(w, r, err)
		return "", 0, false
	}
	return slug, n, true
}
