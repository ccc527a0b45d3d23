package httpapi

import (
	"sync"
	"time"
)

// ttlCache is a small in-process cache whose entries expire after ttl. When
// it holds max entries it drops them all: crude, bounded, and enough for a
// read-through cache in front of a fast database.
type ttlCache[V any] struct {
	mu      sync.Mutex
	ttl     time.Duration
	max     int
	now     func() time.Time
	entries map[string]ttlEntry[V]
}

type ttlEntry[V any] struct {
	v       V
	expires time.Time
}

func newTTLCache[V any](ttl time.Duration, max int, now func() time.Time) *ttlCache[V] {
	return &ttlCache[V]{ttl: ttl, max: max, now: now, entries: map[string]ttlEntry[V]{}}
}

// get returns the live value under key.
func (c *ttlCache[V]) get(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || !c.now().Before(e.expires) {
		delete(c.entries, key)
		var zero V
		return zero, false
	}
	return e.v, true
}

// put stores v under key. A zero ttl disables the cache.
func (c *ttlCache[V]) put(key string, v V) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		clear(c.entries)
	}
	c.entries[key] = ttlEntry[V]{v: v, expires: c.now().Add(c.ttl)}
}

// delete removes key, for invalidation inside an update.
func (c *ttlCache[V]) delete(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, key)
}
