package ratelimit

import (
	"container/heap"
	"container/list"
	"context"
	"sync"
	"time"
)

// DefaultMaxKeys is the default [MemoryConfig.MaxKeys].
const DefaultMaxKeys = 100_000

// MemoryConfig configures [NewMemory].
type MemoryConfig struct {
	// MaxKeys bounds how many keys the limiter remembers. When a new key
	// arrives and MaxKeys are held, a key whose every event has left its
	// window is dropped if there is one, else the least recently used key
	// (whose budget is thereby forgotten). Default (when < 1):
	// DefaultMaxKeys.
	MaxKeys int
	// Now returns the current time; tests inject a fake clock. Default:
	// time.Now (whose monotonic reading makes the limiter immune to wall
	// clock jumps).
	Now func() time.Time
}

// Memory is an in-process [Limiter]. It is safe for concurrent use and runs
// no goroutine: expired keys are dropped lazily, a few on each call and all
// that are needed when the map is full.
//
// Memory is bounded: it holds at most MaxKeys keys, and per key at most
// Limit timestamps (8 bytes each) for each rule name used with that key (the
// largest Limit, should one name come with several), so roughly
// MaxKeys × (len(key) + Σ Limit × 8 + ~200) bytes.
type Memory struct {
	now     func() time.Time
	base    time.Time // times are stored as nanoseconds since base
	maxKeys int

	mu   sync.Mutex
	keys map[string]*memEntry
	lru  list.List // of *memEntry, most recently used at the front
	exp  expHeap   // the entry that expires first at the top
}

// memEntry is the state of one key.
type memEntry struct {
	key     string
	logs    []ruleLog
	expires int64 // after this instant every log is empty
	elem    *list.Element
	index   int // in Memory.exp
}

// ruleLog holds the times of the events recorded under one rule name, oldest
// first: at most the largest Limit used with that name.
type ruleLog struct {
	name  string
	times []int64
}

// NewMemory returns an in-process Limiter configured by cfg.
func NewMemory(cfg MemoryConfig) *Memory {
	if cfg.MaxKeys < 1 {
		cfg.MaxKeys = DefaultMaxKeys
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Memory{
		now:     cfg.Now,
		base:    cfg.Now(),
		maxKeys: cfg.MaxKeys,
		keys:    make(map[string]*memEntry),
	}
}

// Allow implements [Limiter].
func (m *Memory) Allow(ctx context.Context, key string, rules ...Rule) (Decision, error) {
	return m.AllowAll(ctx, Check{Key: key, Rules: rules})
}

// AllowAll implements [Limiter]: under one lock, every key is checked
// before any is recorded.
func (m *Memory) AllowAll(ctx context.Context, checks ...Check) (Decision, error) {
	if err := validateAll(checks); err != nil {
		return Decision{}, err
	}
	if err := ctx.Err(); err != nil {
		return Decision{}, err
	}
	now := int64(m.now().Sub(m.base))

	m.mu.Lock()
	defer m.mu.Unlock()
	m.dropExpired(now, 2)

	worst := Decision{Allowed: true}
	for _, c := range checks {
		if e := m.keys[c.Key]; e != nil {
			if d := e.check(now, c.Rules); !d.Allowed && d.RetryAfter > worst.RetryAfter {
				worst = d
			}
		}
	}
	if !worst.Allowed {
		for _, c := range checks {
			if e := m.keys[c.Key]; e != nil {
				m.lru.MoveToFront(e.elem)
			}
		}
		return worst, nil
	}
	for _, c := range checks {
		e := m.keys[c.Key]
		if e == nil {
			m.makeRoom(now)
			e = &memEntry{key: c.Key}
			e.elem = m.lru.PushFront(e)
			heap.Push(&m.exp, e)
			m.keys[c.Key] = e
		} else {
			m.lru.MoveToFront(e.elem)
		}
		e.record(now, c.Rules)
		heap.Fix(&m.exp, e.index)
	}
	return Decision{Allowed: true}, nil
}

// check prunes the logs of rules and reports whether one more event is
// allowed by all of them.
func (e *memEntry) check(now int64, rules []Rule) Decision {
	d := Decision{Allowed: true}
	for _, r := range rules {
		l := e.log(r.Name)
		if l == nil {
			continue
		}
		window := int64(r.Window)
		cut := 0
		for cut < len(l.times) && l.times[cut] <= now-window {
			cut++
		}
		l.times = append(l.times[:0], l.times[cut:]...)
		if n := len(l.times); n >= r.Limit {
			// one more event fits once the oldest of the newest Limit
			// events leaves the window
			wait := time.Duration(max(l.times[n-r.Limit]+window-now, 1))
			if wait > d.RetryAfter {
				d = Decision{Rule: r.Name, RetryAfter: wait}
			}
		}
	}
	return d
}

// record adds an event at now to the log of every rule.
func (e *memEntry) record(now int64, rules []Rule) {
	for _, r := range rules {
		l := e.log(r.Name)
		if l == nil {
			e.logs = append(e.logs, ruleLog{name: r.Name})
			l = &e.logs[len(e.logs)-1]
		}
		// Allow records only what check allowed: below Limit, now at most Limit
		l.times = append(l.times, now)
		e.expires = max(e.expires, now+int64(r.Window))
	}
}

// log returns the log of the rule called name, or nil.
func (e *memEntry) log(name string) *ruleLog {
	for i := range e.logs {
		if e.logs[i].name == name {
			return &e.logs[i]
		}
	}
	return nil
}

// dropExpired drops up to n keys whose every event has left its window.
func (m *Memory) dropExpired(now int64, n int) {
	for ; n > 0 && len(m.exp) > 0 && m.exp[0].expires <= now; n-- {
		m.remove(m.exp[0])
	}
}

// makeRoom drops one key when MaxKeys are held: an expired one if any, else
// the least recently used.
func (m *Memory) makeRoom(now int64) {
	for len(m.keys) >= m.maxKeys {
		if m.exp[0].expires <= now {
			m.remove(m.exp[0])
		} else {
			m.remove(m.lru.Back().Value.(*memEntry))
		}
	}
}

func (m *Memory) remove(e *memEntry) {
	delete(m.keys, e.key)
	m.lru.Remove(e.elem)
	heap.Remove(&m.exp, e.index)
}

// len returns how many keys are held.
func (m *Memory) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.keys)
}

// expHeap orders entries by expiry, for container/heap.
type expHeap []*memEntry

func (h expHeap) Len() int           { return len(h) }
func (h expHeap) Less(i, j int) bool { return h[i].expires < h[j].expires }

func (h expHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *expHeap) Push(x any) {
	e := x.(*memEntry)
	e.index = len(*h)
	*h = append(*h, e)
}

func (h *expHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}
