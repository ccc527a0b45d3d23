package store_test

import (
	"strings"
	"testing"

	"github.com/sevra/atlas/internal/store"
	"github.com/sevra/atlas/internal/store/storetest"
)

func TestSQLite(t *testing.T) {
	t.Parallel()
	storetest.Suite(t, storetest.OpenSQLite)
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	storetest.PostgresURL(t) // skip (or fail) once, with the reason, before the subtests
	storetest.Suite(t, storetest.OpenPostgres)
}

func TestRebind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d       store.Dialect
		in, out string
	}{
		{store.SQLite, "a = ? AND b = ?", "a = ? AND b = ?"},
		{store.Postgres, "a = ? AND b = ?", "a = $1 AND b = $2"},
		{store.Postgres, "a = '?' AND b = ?", "a = '?' AND b = $1"},
		{store.Postgres, "no placeholders", "no placeholders"},
		{store.Postgres, "(?,?),(?,?)", "($1,$2),($3,$4)"},
	}
	for _, tc := range tests {
		if got := store.Rebind(tc.d, tc.in); got != tc.out {
			t.Errorf("Rebind(%s, %q) = %q, want %q", tc.d, tc.in, got, tc.out)
		}
	}
}

func FuzzRebind(f *testing.F) {
	for _, s := range []string{"a = ?", "'?' ?", "??", "''?'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		got := store.Rebind(store.Postgres, q)
		if strings.Count(got, "?") > strings.Count(q, "?") {
			t.Fatalf("Rebind(%q) = %q added question marks", q, got)
		}
		if !strings.Contains(q, "?") && got != q {
			t.Fatalf("Rebind(%q) = %q changed a query without placeholders", q, got)
		}
		if store.Rebind(store.SQLite, q) != q {
			t.Fatal("SQLite rebind must be the identity")
		}
	})
}
