package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/sevra/atlas/internal/store"
)

func listCities(log *slog.Logger, s Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cities, err := s.ListCities(r.Context())
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusOK, struct {
			Items []store.City `json:"items"`
		}{cities})
	})
}

func getCity(log *slog.Logger, s Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := s.CityBySlug(r.Context(), r.PathValue("slug"))
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusOK, c)
	})
}

// parseSalonFilter reads ?city=&sort=&page=&per_page=.
func parseSalonFilter(q url.Values) (store.SalonFilter, error) {
	p, err := parsePage(q)
	if err != nil {
		return store.SalonFilter{}, err
	}
	f := store.SalonFilter{CitySlug: q.Get("city"), Sort: store.SortRating, Page: p.Page, PerPage: p.PerPage}
	switch sort := q.Get("sort"); sort {
	case "":
	case string(store.SortRating), string(store.SortName), string(store.SortNewest):
		f.Sort = store.SalonSort(sort)
	default:
		return store.SalonFilter{}, badRequest("invalid_sort", "sort must be rating, name or newest")
	}
	return f, nil
}

func listSalons(log *slog.Logger, s Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := parseSalonFilter(r.URL.Query())
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		salons, total, err := s.ListSalons(r.Context(), f)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusOK, listBody[store.Salon]{Items: salons, page: page{f.Page, f.PerPage}, Total: total})
	})
}

// salonLookup is a cached answer to "where does this slug point".
type salonLookup struct {
	salon store.Salon
	moved bool
}

func getSalon(log *slog.Logger, s Store, cache *ttlCache[salonLookup]) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slug := r.PathValue("slug")
		hit, ok := cache.get(slug)
		if !ok {
			x, moved, err := s.ResolveSalonSlug(r.Context(), slug)
			if err != nil {
				writeError(w, r, log, err)
				return
			}
			hit = salonLookup{salon: x, moved: moved}
			cache.put(slug, hit)
		}
		if hit.moved && hit.salon.Slug != slug {
			loc := url.URL{Path: "/api/v1/salons/" + hit.salon.Slug, RawQuery: r.URL.RawQuery}
			w.Header().Set("Location", loc.String())
			writeJSON(w, http.StatusMovedPermanently, map[string]string{"location": loc.String()})
			return
		}
		writeJSON(w, http.StatusOK, hit.salon)
	})
}

func listPosts(log *slog.Logger, s Store, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := parsePage(r.URL.Query())
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		posts, total, err := s.ListPosts(r.Context(), now(), p.Page, p.PerPage)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusOK, listBody[store.Post]{Items: posts, page: p, Total: total})
	})
}

// getPost is GET /api/v1/posts/{slug}; with posts set an old slug answers
// 301 to the current one (slug history maps to the post, so one hop).
func getPost(log *slog.Logger, s Store, now func() time.Time, posts PostSlugs) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.PostBySlug(r.Context(), now(), r.PathValue("slug"))
		if errors.Is(err, store.ErrNotFound) && postRedirect(w, r, posts, s, now(), r.PathValue("slug")) {
			return
		}
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusOK, p)
	})
}
