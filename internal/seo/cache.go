package seo

import (
	"context"
	"errors"
	"sync"
)

// CacheHub fans an invalidation out to every cache attached to it. The
// service holds the hub from the start; the HTTP layer attaches its
// in-process salon cache when it builds its routes. It only reaches the
// caches of this process: other API processes serve a stale entry until
// its TTL (10 s by default) runs out.
type CacheHub struct {
	mu     sync.RWMutex
	caches []CacheInvalidator
}

// Attach adds c to the hub.
func (h *CacheHub) Attach(c CacheInvalidator) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.caches = append(h.caches, c)
}

// Invalidate deletes the entity from every attached cache.
func (h *CacheHub) Invalidate(ctx context.Context, entityType string, entityID int64) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var errs []error
	for _, c := range h.caches {
		if err := c.Invalidate(ctx, entityType, entityID); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
