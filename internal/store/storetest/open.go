// Package storetest opens isolated, migrated stores for tests and holds the
// behaviour suite that every dialect of internal/store must pass.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/store"
)

// Opener opens a fresh, migrated, empty store for one test. The store is
// closed (and its data removed) when the test ends.
type Opener func(t testing.TB) *store.Store

// OpenSQLite is an Opener for a SQLite file in the test's temp dir.
func OpenSQLite(t testing.TB) *store.Store {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate sqlite: %v", err)
	}
	return s
}

// PostgresURL returns ATLAS_TEST_DATABASE_URL. When it is unset the test is
// skipped, or failed when ATLAS_TEST_REQUIRE_SERVICES=1.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("ATLAS_TEST_DATABASE_URL")
	if u == "" {
		if os.Getenv("ATLAS_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("ATLAS_TEST_DATABASE_URL is not set but ATLAS_TEST_REQUIRE_SERVICES=1")
		}
		t.Skip("PostgreSQL tests skipped: set ATLAS_TEST_DATABASE_URL=postgres://… to run them")
	}
	return u
}

// OpenPostgres is an Opener for PostgreSQL at ATLAS_TEST_DATABASE_URL. Each
// call creates a uniquely named schema, points search_path at it through the
// DSN, and drops it when the test ends, so tests and packages can run in
// parallel against one database.
func OpenPostgres(t testing.TB) *store.Store {
	t.Helper()
	dsn := IsolatedPostgresURL(t)
	ctx := context.Background()
	s, err := store.Open(ctx, dsn, "")
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate postgres: %v", err)
	}
	return s
}

// IsolatedPostgresURL creates a fresh schema in the test database and
// returns a URL whose search_path selects it. The schema is dropped when the
// test ends. It skips or fails like PostgresURL when no database is set.
func IsolatedPostgresURL(t testing.TB) string {
	t.Helper()
	base := PostgresURL(t)
	var b [6]byte
	rand.Read(b[:])
	schema := "atlas_test_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse ATLAS_TEST_DATABASE_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// TempDataDir returns a data dir inside the test's temp dir.
func TempDataDir(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "atlas-data")
}
