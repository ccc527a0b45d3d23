package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/sevra/atlas/internal/slug"
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

func getCity(log *slog.Logger, s Store, c ReadCache, ttl time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slug, err := slugParam(r)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		city, err := readThrough(r.Context(), c, cityKey(slug), ttl, func(ctx context.Context) (store.City, error) {
			return s.CityBySlug(ctx, slug)
		})
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusOK, city)
	})
}

// parseSalonFilter reads ?city=&sort=&page=&per_page=.
func parseSalonFilter(q url.Values) (store.SalonFilter, error) {
	p, err := parsePage(q)
	if err != nil {
		return store.SalonFilter{}, err
	}
	f := store.SalonFilter{CitySlug: q.Get("city"), Sort: store.SortRating, Page: p.Page, PerPage: p.PerPage}
	if f.CitySlug != "" && !slug.Valid(f.CitySlug) {
		return store.SalonFilter{}, badRequest("invalid_city", "city must be a city slug")
	}
	switch sort := q.Get("sort"); sort {
	case "":
	case string(store.SortRating), string(store.SortName), string(store.SortNewest):
		f.Sort = store.SalonSort(sort)
	default:
		return store.SalonFilter{}, badRequest("invalid_sort", "sort must be rating, name or newest")
	}
	return f, nil
}

// salonList is one cached page of salons.
type salonList struct {
	Items []store.Salon `json:"items"`
	Total int64         `json:"total"`
}

func listSalons(log *slog.Logger, s Store, c ReadCache, ttl time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := parseSalonFilter(r.URL.Query())
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		load := func(ctx context.Context) (salonList, error) {
			items, total, err := s.ListSalons(ctx, f)
			return salonList{Items: items, Total: total}, err
		}
		var l salonList
		if c != nil && ttl > 0 {
			gen, gerr := listsGeneration(r.Context(), c, ttl)
			if gerr != nil {
				err = gerr
			} else {
				l, err = readThrough(r.Context(), c, salonListKey(gen, f), ttl, load)
			}
		} else {
			l, err = load(r.Context())
		}
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusOK, listBody[store.Salon]{Items: l.Items, page: page{f.Page, f.PerPage}, Total: l.Total})
	})
}

func getSalon(log *slog.Logger, s Store, c ReadCache, ttl time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slug, err := slugParam(r)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		hit, err := readThrough(r.Context(), c, salonKey(slug), ttl, func(ctx context.Context) (cachedSalon, error) {
			x, moved, err := s.ResolveSalonSlug(ctx, slug)
			return cachedSalon{Salon: x, Moved: moved}, err
		})
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		if hit.Moved && hit.Salon.Slug != slug {
			loc := url.URL{Path: "/api/v1/salons/" + hit.Salon.Slug, RawQuery: r.URL.RawQuery}
			w.Header().Set("Location", loc.String())
			writeJSON(w, http.StatusMovedPermanently, map[string]string{"location": loc.String()})
			return
		}
		writeJSON(w, http.StatusOK, hit.Salon)
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

// ViewRecorder counts post views (write-behind); *views.Service
// implements it. Bots and HEAD requests are not counted.
type ViewRecorder interface {
	Record(ctx context.Context, postID int64, method, userAgent string) error
}
