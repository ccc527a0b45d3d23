package salon

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/sevra/atlas/internal/geo"
	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/seo"
	"github.com/sevra/atlas/internal/store"
	"github.com/sevra/atlas/internal/store/storetest"
)

// recorder stands in for the outbox, the cache, the sitemap and geo, and
// records what the service asked of each.
type recorder struct {
	mu          sync.Mutex
	added       []string // event types written in the transaction
	published   []string
	invalidated []int64
	rebuilds    int
	cities      []int64
}

func (r *recorder) Add(_ context.Context, _ outbox.Execer, evs ...outbox.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range evs {
		r.added = append(r.added, e.Type)
	}
	return nil
}

func (r *recorder) Publish(_ context.Context, evs ...outbox.Event) ([]outbox.Published, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range evs {
		r.published = append(r.published, e.Type)
	}
	return nil, nil
}

func (r *recorder) Invalidate(_ context.Context, typ string, id int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if typ == seo.EntitySalon {
		r.invalidated = append(r.invalidated, id)
	}
	return nil
}

func (r *recorder) RebuildInline(context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rebuilds++
}

func (r *recorder) Refresh(_ context.Context, cityID int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cities = append(r.cities, cityID)
	return nil
}

// newTestService returns a service over a SQLite store holding salon 7
// (slug "first", city 1) with pending verification request 1 and
// reviewer 1.
func newTestService(t *testing.T, modes rollout.Modes) (*Service, *store.Store, *recorder) {
	t.Helper()
	s := storetest.OpenSQLite(t)
	storetest.AddCity(t, s, 1, "tehran", "Tehran")
	storetest.AddSalon(t, s, 7, 1, "first", "Salon", 0, 0, storetest.Base)
	storetest.Exec(t, s, "INSERT INTO users (id, phone, role, created_at) VALUES (1, '+989120000001', 'admin', ?)", storetest.Base)
	storetest.Exec(t, s, `INSERT INTO verification_requests (id, salon_id, status, created_at) VALUES (1, 7, 'pending', ?)`, storetest.Base)
	r := &recorder{}
	svc, err := NewService(Config{Store: s, Outbox: r, Sitemap: r, Cache: r, Cities: r, Modes: modes})
	if err != nil {
		t.Fatal(err)
	}
	return svc, s, r
}

// TestWritesPublishAndRunInline: every write invalidates the salon's cache
// entries and publishes the events it wrote; in sync and shadow modes the
// sitemap rebuild (slug change, approval) and the city refresh (any
// PATCH) also run in the request.
func TestWritesPublishAndRunInline(t *testing.T) {
	t.Parallel()
	slug, name := "second", "Renamed"
	rename := func(s *Service) error {
		_, err := s.Update(context.Background(), "first", Patch{Slug: &slug})
		return err
	}
	setName := func(s *Service) error {
		_, err := s.Update(context.Background(), "first", Patch{Name: &name})
		return err
	}
	approve := func(s *Service) error { _, err := s.Approve(context.Background(), 1, 1); return err }
	sync := rollout.Modes{seo.Module: rollout.Sync, geo.Module: rollout.Sync}
	shadow := rollout.Modes{seo.Module: rollout.Shadow, geo.Module: rollout.Shadow}
	renamed := []string{geo.EventSalonChanged, seo.EventRebuildRequested}
	approved := []string{seo.EventVerificationApproved}
	tests := []struct {
		name         string
		modes        rollout.Modes
		write        func(*Service) error
		wantEvents   []string
		wantRebuilds int
		wantCities   int
	}{
		{"rename async", nil, rename, renamed, 0, 0},
		{"rename sync", sync, rename, renamed, 1, 1},
		{"name shadow", shadow, setName, []string{geo.EventSalonChanged}, 0, 1},
		{"approve async", nil, approve, approved, 0, 0},
		{"approve sync", sync, approve, approved, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc, _, r := newTestService(t, tc.modes)
			if err := tc.write(svc); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(r.added, tc.wantEvents) || !slices.Equal(r.published, tc.wantEvents) {
				t.Errorf("events added %v, published %v; want %v", r.added, r.published, tc.wantEvents)
			}
			if !slices.Equal(r.invalidated, []int64{7}) {
				t.Errorf("invalidated %v, want [7]", r.invalidated)
			}
			if r.rebuilds != tc.wantRebuilds || len(r.cities) != tc.wantCities {
				t.Errorf("%d inline rebuilds, %d city refreshes; want %d, %d", r.rebuilds, len(r.cities), tc.wantRebuilds, tc.wantCities)
			}
		})
	}
}
