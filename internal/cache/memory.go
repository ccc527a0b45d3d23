package cache

import (
	"container/list"
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of [MemoryConfig].
const (
	DefaultMaxEntries = 10_000
	DefaultMaxBytes   = 64 << 20
)

// memEntryOverhead is what an entry costs beyond its key and value bytes
// (map slot, list element, entry struct), counted against MaxBytes.
const memEntryOverhead = 160

// MemoryConfig configures [NewMemory].
type MemoryConfig struct {
	// MaxEntries bounds the number of entries. Default (when < 1):
	// DefaultMaxEntries (10,000).
	MaxEntries int
	// MaxBytes bounds the sum of len(key) + len(value) + 160 over entries;
	// a larger value is returned but not stored. Default (when < 1):
	// DefaultMaxBytes (64 MiB).
	MaxBytes int
	// Now returns the current time; tests inject a fake clock. Default:
	// time.Now.
	Now func() time.Time
	// Registerer registers the metrics. Default (nil): not registered.
	Registerer prometheus.Registerer
}

// Memory is an in-process [Cache]: Delete affects this process only, so
// use [Redis] when several nodes serve reads. It runs no goroutine: expired
// entries are dropped when read or evicted, least recently used first,
// when a store would exceed MaxEntries or MaxBytes.
type Memory struct {
	now        func() time.Time
	maxEntries int
	maxBytes   int
	metrics    *metrics
	flights    flightGroup // flight key: the cache key

	mu      sync.Mutex
	entries map[string]*list.Element // of *memEntry
	lru     list.List                // most recently used at the front
	bytes   int                      // Σ size over entries
}

type memEntry struct {
	key     string
	val     []byte
	expires time.Time
}

func (e *memEntry) size() int { return len(e.key) + len(e.val) + memEntryOverhead }

// NewMemory returns an empty Memory. It fails only when registering the
// metrics fails.
func NewMemory(cfg MemoryConfig) (*Memory, error) {
	if cfg.MaxEntries < 1 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	if cfg.MaxBytes < 1 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Memory{
		now:        cfg.Now,
		maxEntries: cfg.MaxEntries,
		maxBytes:   cfg.MaxBytes,
		metrics:    m,
		entries:    make(map[string]*list.Element),
	}, nil
}

// GetOrLoad implements [Cache]. A load that Delete (of its key) overtook
// is returned to the callers sharing it but not stored: Delete forgets the
// key's running flight, and the store happens only if the flight is still
// current, both under the cache's lock.
func (m *Memory) GetOrLoad(ctx context.Context, key string, ttl time.Duration, load func(ctx context.Context) ([]byte, error)) ([]byte, error) {
	if err := validateKey(key); err != nil {
		return nil, err
	}
	if err := validateTTL(ttl); err != nil {
		return nil, err
	}
	for {
		if val, ok := m.get(key); ok {
			m.metrics.requests.WithLabelValues("hit").Inc()
			return val, nil
		}
		val, shared, err := m.flights.do(ctx, key, func(f *flight) ([]byte, error) {
			// A flight that ended between get and do may have stored it.
			if val, ok := m.get(key); ok {
				return val, nil
			}
			val, err := load(ctx)
			if err != nil {
				return nil, err
			}
			m.mu.Lock()
			if m.flights.current(key, f) {
				m.put(key, val, ttl)
			}
			m.mu.Unlock()
			return val, nil
		})
		if shared && isContextErr(err) && ctx.Err() == nil {
			continue // the load's own caller gave up; load for ourselves
		}
		m.metrics.requests.WithLabelValues("miss").Inc()
		return val, err
	}
}

// Delete implements [Cache]. It fails only on an invalid key, and then
// deletes nothing.
func (m *Memory) Delete(ctx context.Context, keys ...string) error {
	for _, k := range keys {
		if err := validateKey(k); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		if el, ok := m.entries[k]; ok {
			m.remove(el)
		}
		m.flights.forget(k)
	}
	return nil
}

// get returns the unexpired value of key and marks it recently used.
func (m *Memory) get(key string) ([]byte, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	el, ok := m.entries[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*memEntry)
	if !m.now().Before(e.expires) {
		m.remove(el)
		return nil, false
	}
	m.lru.MoveToFront(el)
	return e.val, true
}

// put stores val under key for ttl, evicting least recently used entries
// to stay within bounds. m.mu must be held.
func (m *Memory) put(key string, val []byte, ttl time.Duration) {
	if el, ok := m.entries[key]; ok {
		m.remove(el)
	}
	e := &memEntry{key: key, val: val, expires: m.now().Add(ttl)}
	if e.size() > m.maxBytes {
		return
	}
	m.entries[key] = m.lru.PushFront(e)
	m.bytes += e.size()
	for len(m.entries) > m.maxEntries || m.bytes > m.maxBytes {
		m.remove(m.lru.Back())
	}
}

// remove drops an entry. m.mu must be held.
func (m *Memory) remove(el *list.Element) {
	e := m.lru.Remove(el).(*memEntry)
	delete(m.entries, e.key)
	m.bytes -= e.size()
}
