package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/sevra/atlas/internal/cache"
	"github.com/sevra/atlas/internal/seo"
	"github.com/sevra/atlas/internal/store"
)

// ReadCache is the read-through cache the public reads go through: Redis
// when configured (shared by every node), in process otherwise;
// *cache.Redis and *cache.Memory implement it. GetOrLoad calls load once
// per key per process on a miss; Delete is the invalidation.
type ReadCache interface {
	GetOrLoad(ctx context.Context, key string, ttl time.Duration, load func(ctx context.Context) ([]byte, error)) ([]byte, error)
	Delete(ctx context.Context, keys ...string) error
}

// Cache keys. Salon and city answers are keyed by the slug in the URL;
// salon lists by a generation token plus the normalised query, so one
// Delete of the generation retires every cached list page.
const (
	salonKeyPrefix = "salon:"
	cityKeyPrefix  = "city:"
	listsGenKey    = "gen:salon-lists"
)

func salonKey(slug string) string { return salonKeyPrefix + slug }
func cityKey(slug string) string  { return cityKeyPrefix + slug }

// cachedSalon is the cached answer to "where does this slug point".
type cachedSalon struct {
	Salon store.Salon `json:"salon"`
	Moved bool        `json:"moved"`
}

// readThrough returns the JSON value under key, loading it with load
// (and caching it for ttl) on a miss; with no cache or ttl <= 0 it loads.
func readThrough[T any](ctx context.Context, c ReadCache, key string, ttl time.Duration, load func(context.Context) (T, error)) (T, error) {
	var v T
	if c == nil || ttl <= 0 {
		return load(ctx)
	}
	b, err := c.GetOrLoad(ctx, key, ttl, func(ctx context.Context) ([]byte, error) {
		x, err := load(ctx)
		if err != nil {
			return nil, err
		}
		return json.Marshal(x)
	})
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("cached %s: %w", key, err)
	}
	return v, nil
}

// listsGeneration is the token salon list keys carry; invalidation deletes
// it, so the next read starts a new generation.
func listsGeneration(ctx context.Context, c ReadCache, ttl time.Duration) (string, error) {
	b, err := c.GetOrLoad(ctx, listsGenKey, 24*time.Hour, func(context.Context) ([]byte, error) {
		return []byte(strconv.FormatInt(time.Now().UnixNano(), 36)), nil
	})
	return string(b), err
}

// salonListKey is the cache key of one salon list page.
func salonListKey(gen string, f store.SalonFilter) string {
	q := url.Values{}
	q.Set("city", f.CitySlug)
	q.Set("sort", string(f.Sort))
	q.Set("page", strconv.Itoa(f.Page))
	q.Set("per_page", strconv.Itoa(f.PerPage))
	return "salons:" + gen + ":" + q.Encode()
}

// SlugSource tells which slugs lead to a salon or a city; *store.Store
// implements it.
type SlugSource interface {
	SalonSlugs(ctx context.Context, id int64) ([]string, error)
	CitySlug(ctx context.Context, id int64) (string, error)
	PostSlugs(ctx context.Context, ids ...int64) ([]string, error)
}

// CacheInvalidator deletes the cached answers about one entity from c: a
// salon's detail under every slug that leads to it, a city's page, and
// every salon list (either can change a list); a post's page under every
// slug that leads to it (lists of posts are not cached). It implements
// seo.CacheInvalidator, so the write paths and the jobs that change what
// is cached (PATCH, approval, aggregate recompute, city stats) call it
// synchronously, in whatever process they run.
type CacheInvalidator struct {
	Cache ReadCache
	Slugs SlugSource
}

// Invalidate implements seo.CacheInvalidator.
func (i CacheInvalidator) Invalidate(ctx context.Context, entityType string, id int64) error {
	keys := []string{listsGenKey}
	switch entityType {
	case seo.EntityPost:
		return i.InvalidatePosts(ctx, id)
	case seo.EntitySalon:
		slugs, err := i.Slugs.SalonSlugs(ctx, id)
		if err != nil {
			return err
		}
		for _, s := range slugs {
			keys = append(keys, salonKey(s))
		}
	case seo.EntityCity:
		slug, err := i.Slugs.CitySlug(ctx, id)
		if err != nil {
			return err
		}
		keys = append(keys, cityKey(slug))
	default:
		return nil
	}
	return i.Cache.Delete(ctx, keys...)
}

// InvalidatePosts deletes the cached pages of posts ids under every slug
// that leads to them, in one Delete (the views flush calls it with the
// posts whose view_count it changed).
func (i CacheInvalidator) InvalidatePosts(ctx context.Context, ids ...int64) error {
	if len(ids) == 0 {
		return nil
	}
	slugs, err := i.Slugs.PostSlugs(ctx, ids...)
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(slugs))
	for _, s := range slugs {
		if k := postKey(s); len(k) <= cache.MaxKeyLen { // longer keys are never cached
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	return i.Cache.Delete(ctx, keys...)
}
