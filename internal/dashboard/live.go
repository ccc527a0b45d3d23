package dashboard

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// liveCache holds what the pages show, computed at most once per ttl per
// key (a page's URL without its notice), however many tabs poll it: the
// backend cost of live pages is bounded by the number of distinct pages
// open, not by the number of tabs. Concurrent requests for a stale key wait
// for one computation.
type liveCache struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[string]*cacheEntry
}

type cacheEntry struct {
	mu   sync.Mutex // held while computing
	at   time.Time
	val  any
	etag string
	err  error
}

// maxCacheEntries bounds the cache; stale entries are dropped beyond it.
const maxCacheEntries = 512

func newLiveCache(ttl time.Duration, now func() time.Time) *liveCache {
	return &liveCache{ttl: ttl, now: now, entries: map[string]*cacheEntry{}}
}

// get returns key's value and its ETag, computing it when older than ttl.
func (c *liveCache) get(ctx context.Context, key string, compute func(context.Context) (any, error)) (any, string, error) {
	c.mu.Lock()
	e, ok := c.entries[key]
	if !ok {
		if len(c.entries) >= maxCacheEntries {
			for k, old := range c.entries {
				if old.mu.TryLock() {
					stale := c.now().Sub(old.at) > c.ttl
					old.mu.Unlock()
					if stale {
						delete(c.entries, k)
					}
				}
			}
		}
		e = &cacheEntry{}
		c.entries[key] = e
	}
	c.mu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.at.IsZero() && c.now().Sub(e.at) < c.ttl {
		return e.val, e.etag, e.err
	}
	// The computation is shared: it must not end with the first
	// requester's connection.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	e.val, e.err = compute(cctx)
	e.at = c.now()
	e.etag = ""
	if e.err == nil {
		e.etag = etagOf(e.val)
	}
	return e.val, e.etag, e.err
}

// clear forgets everything, so the page an action redirects to shows its
// effect at once.
func (c *liveCache) clear() {
	c.mu.Lock()
	c.entries = map[string]*cacheEntry{}
	c.mu.Unlock()
}

// etagOf hashes v's JSON encoding into a weak ETag.
func etagOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return `W/"` + hex.EncodeToString(sum[:12]) + `"`
}

// notModified answers 304 when the request's If-None-Match is etag, and
// otherwise sets the ETag header for the full answer.
func notModified(w http.ResponseWriter, r *http.Request, etag string) bool {
	if etag == "" {
		return false
	}
	if r.Header.Get("If-None-Match") == etag {
		securityHeaders(w)
		w.Header().Set("ETag", etag)
		w.WriteHeader(http.StatusNotModified)
		return true
	}
	w.Header().Set("ETag", etag)
	return false
}

// Script serves the embedded live.js: it polls the page it runs on with
// If-None-Match and swaps the regions marked data-live in place, shows
// whether updates are live, and lets the operator pause them.
func (s *Server) Script() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Write(liveScript)
	})
}
