package views

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"maps"
	"slices"
	"sync"
	"time"
)

// Hash names one counter hash of a Buffer.
type Hash string

// The hashes.
const (
	// LiveHash holds the views counted in async mode: field = post id.
	LiveHash Hash = "buffer"
	// ShadowHash holds shadow mode's two tallies: field "<post id>" counts
	// the views the async path would have counted, field "sync:<post id>"
	// the sync UPDATEs that changed a row.
	ShadowHash Hash = "shadow"
)

// syncField is the ShadowHash field that tallies post id's sync updates.
func syncField(id string) string { return "sync:" + id }

// Buffer holds view counts between flushes. Each hash counts per field;
// Seal moves a hash's counts into a batch that no later Incr changes,
// which a flush reads, applies and deletes. Implementations are safe for
// concurrent use, across processes when they share state (Redis).
type Buffer interface {
	// Incr adds one to each of fields in hash, atomically and in one round
	// trip.
	Incr(ctx context.Context, hash Hash, fields ...string) error
	// Seal moves hash's counts into the new batch id at once; it reports
	// false, and no error, when hash holds no counts.
	Seal(ctx context.Context, hash Hash, batch string) (bool, error)
	// Batches lists the batches of hash that were sealed and not deleted,
	// in no particular order.
	Batches(ctx context.Context, hash Hash) ([]string, error)
	// Read returns a batch's counts by field; a deleted or unknown batch
	// has none.
	Read(ctx context.Context, hash Hash, batch string) (map[string]int64, error)
	// Delete removes a batch; removing one that does not exist is no
	// error.
	Delete(ctx context.Context, hash Hash, batch string) error
}

// newBatchID returns a unique batch id that sorts by time, such as
// "20250301T120000.000Z-9f86d081884c7d65" (no ':' so it can appear in
// job ids and Redis key tails alike).
func newBatchID(now time.Time) string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails, see crypto/rand.Read
	return now.UTC().Format("20060102T150405.000Z") + "-" + hex.EncodeToString(b[:])
}

// MemoryBuffer is a Buffer in this process's memory: a mutex-guarded map.
// It is the buffer of an embedded single node (no Redis): views counted
// since the last flush are lost when the process dies, which is the
// trade-off for not needing Redis; a graceful stop flushes them first
// (see Flusher). Only the process that counted views can flush them.
type MemoryBuffer struct {
	mu     sync.Mutex
	live   map[Hash]map[string]int64
	sealed map[Hash]map[string]map[string]int64
}

// NewMemoryBuffer returns an empty in-process buffer.
func NewMemoryBuffer() *MemoryBuffer {
	return &MemoryBuffer{live: map[Hash]map[string]int64{}, sealed: map[Hash]map[string]map[string]int64{}}
}

// Incr implements Buffer.
func (m *MemoryBuffer) Incr(_ context.Context, hash Hash, fields ...string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.live[hash]
	if h == nil {
		h = map[string]int64{}
		m.live[hash] = h
	}
	for _, f := range fields {
		h[f]++
	}
	return nil
}

// Seal implements Buffer.
func (m *MemoryBuffer) Seal(_ context.Context, hash Hash, batch string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.live[hash]
	if len(h) == 0 {
		return false, nil
	}
	delete(m.live, hash)
	if m.sealed[hash] == nil {
		m.sealed[hash] = map[string]map[string]int64{}
	}
	m.sealed[hash][batch] = h
	return true, nil
}

// Batches implements Buffer.
func (m *MemoryBuffer) Batches(_ context.Context, hash Hash) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.sealed[hash])), nil
}

// Read implements Buffer.
func (m *MemoryBuffer) Read(_ context.Context, hash Hash, batch string) (map[string]int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.sealed[hash][batch]), nil
}

// Delete implements Buffer.
func (m *MemoryBuffer) Delete(_ context.Context, hash Hash, batch string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sealed[hash], batch)
	return nil
}
