package salon

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/seo"
	"github.com/sevra/atlas/internal/store"
	"github.com/sevra/atlas/internal/store/storetest"
)

// eachDialect runs fn in parallel subtests on a fresh store of every
// dialect: SQLite always, PostgreSQL when ATLAS_TEST_DATABASE_URL is set.
func eachDialect(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Helper()
	for _, tc := range []struct {
		name string
		open storetest.Opener
	}{
		{"sqlite", storetest.OpenSQLite},
		{"postgres", func(t testing.TB) *store.Store { storetest.PostgresURL(t); return storetest.OpenPostgres(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fn(t, tc.open(t))
		})
	}
}

// renameCommitted runs rename in its own transaction and commits it.
func renameCommitted(s *store.Store, id int64, newSlug string, now time.Time) error {
	ctx := context.Background()
	tx, err := s.DB().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := rename(ctx, tx, s.Dialect(), id, newSlug, now); err != nil {
		return err
	}
	return tx.Commit()
}

// TestRenameSlugHistory: a→b→c leaves every old slug resolving in one
// hop; renaming back to an old slug makes it current again (no redirect
// loop); an unknown salon is ErrNotFound.
func TestRenameSlugHistory(t *testing.T) {
	t.Parallel()
	eachDialect(t, testRenameSlugHistory)
}

func testRenameSlugHistory(t *testing.T, s *store.Store) {
	ctx := context.Background()
	base := storetest.Base
	storetest.AddCity(t, s, 1, "tehran", "Tehran")
	storetest.AddSalon(t, s, 7, 1, "first", "Salon", 0, 0, base)
	storetest.AddSalon(t, s, 8, 1, "other", "Other", 0, 0, base)
	for _, slug := range []string{"second", "third"} {
		if err := renameCommitted(s, 7, slug, base.Add(time.Minute)); err != nil {
			t.Fatalf("rename(%s): %v", slug, err)
		}
	}
	tests := []struct {
		slug      string
		wantID    int64
		wantSlug  string
		wantMoved bool
		wantErr   error
	}{
		{"third", 7, "third", false, nil},
		{"second", 7, "third", true, nil},
		{"first", 7, "third", true, nil},
		{"other", 8, "other", false, nil},
		{"missing", 0, "", false, store.ErrNotFound},
	}
	for _, tc := range tests {
		x, moved, err := s.ResolveSalonSlug(ctx, tc.slug)
		if !errors.Is(err, tc.wantErr) || x.ID != tc.wantID || x.Slug != tc.wantSlug || moved != tc.wantMoved {
			t.Errorf("ResolveSalonSlug(%s) = id %d slug %q moved %v err %v; want %d %q %v %v",
				tc.slug, x.ID, x.Slug, moved, err, tc.wantID, tc.wantSlug, tc.wantMoved, tc.wantErr)
		}
	}
	if x, _, err := s.ResolveSalonSlug(ctx, "third"); err != nil || !x.UpdatedAt.Equal(base.Add(time.Minute)) {
		t.Errorf("updated_at after rename = %v (%v), want %v (the sitemap lastmod)", x.UpdatedAt, err, base.Add(time.Minute))
	}
	// Renaming back to an old slug makes it current again: no redirect loop.
	if err := renameCommitted(s, 7, "first", base.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if x, moved, err := s.ResolveSalonSlug(ctx, "first"); err != nil || moved || x.ID != 7 {
		t.Errorf("after renaming back: %+v moved=%v err=%v", x, moved, err)
	}
	if x, moved, err := s.ResolveSalonSlug(ctx, "third"); err != nil || !moved || x.Slug != "first" {
		t.Errorf("third after renaming back: %+v moved=%v err=%v", x, moved, err)
	}
	if err := renameCommitted(s, 99, "x", base); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rename(99) error = %v, want ErrNotFound", err)
	}
}

// TestRenameErrors: another salon's slug is ErrSlugTaken and changes
// nothing; the current slug is a no-op that records no history.
func TestRenameErrors(t *testing.T) {
	t.Parallel()
	eachDialect(t, testRenameErrors)
}

func testRenameErrors(t *testing.T, s *store.Store) {
	ctx := context.Background()
	base := storetest.Base
	storetest.AddCity(t, s, 1, "tehran", "Tehran")
	storetest.AddSalon(t, s, 7, 1, "first", "Salon", 0, 0, base)
	storetest.AddSalon(t, s, 8, 1, "other", "Other", 0, 0, base)
	if err := renameCommitted(s, 7, "other", base.Add(time.Minute)); !errors.Is(err, ErrSlugTaken) {
		t.Errorf("rename onto another salon's slug = %v, want ErrSlugTaken", err)
	}
	if err := renameCommitted(s, 7, "first", base.Add(time.Minute)); err != nil {
		t.Errorf("rename to the current slug = %v, want nil", err)
	}
	var history int
	if err := s.DB().QueryRowContext(ctx, "SELECT count(*) FROM slug_history").Scan(&history); err != nil || history != 0 {
		t.Errorf("slug_history has %d rows (%v), want 0", history, err)
	}
	if x, moved, err := s.ResolveSalonSlug(ctx, "first"); err != nil || moved || x.ID != 7 || !x.UpdatedAt.Equal(base) {
		t.Errorf("salon 7 after the failed and the no-op rename: %+v moved=%v err=%v", x, moved, err)
	}
}

// TestRefreshPayload: the VerificationApproved payload is the
// {entityType, entityId} shape the outbox documents and seo-refresh
// parses.
func TestRefreshPayload(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(seo.SEORefreshPayload{EntityType: seo.EntitySalon, EntityID: 3})
	if want := `{"entityType":"salon","entityId":3}`; err != nil || string(b) != want {
		t.Errorf("payload = %s, %v; want %s", b, err, want)
	}
}
