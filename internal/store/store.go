// Package store is Atlas's persistence layer. One database/sql-based Store
// serves both SQLite (modernc.org/sqlite, pure Go) and PostgreSQL (pgx via its
// stdlib adapter); queries are written once with '?' placeholders and rebound
// to '$n' for PostgreSQL.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver
)

// ErrNotFound is returned when a requested row does not exist.
var ErrNotFound = errors.New("not found")

// Dialect names the SQL dialect a Store speaks.
type Dialect string

// The supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// The SQLite connection pool: how many idle connections it keeps, and
// for how long. Open connections are not capped (WAL readers run in
// parallel; writers wait on SQLite's lock within the busy timeout).
const (
	SQLiteIdleConns    = 16
	SQLiteConnIdleTime = 5 * time.Minute
)

// Store is the persistence layer. It is safe for concurrent use.
type Store struct {
	db      *sql.DB
	dialect Dialect
}

// Open connects to the database named by databaseURL. A postgres:// or
// postgresql:// URL selects PostgreSQL; an empty URL selects the SQLite file
// atlas.db inside dataDir (created if missing); "sqlite:PATH" or
// "file:PATH" selects an explicit SQLite file. Open pings the database but
// does not apply migrations; call Migrate for that.
func Open(ctx context.Context, databaseURL, dataDir string) (*Store, error) {
	driver, dsn, dialect, err := resolveDSN(databaseURL, dataDir)
	if err != nil {
		return nil, err
	}
	if dialect == SQLite {
		if err := os.MkdirAll(filepath.Dir(strings.TrimPrefix(strings.SplitN(dsn, "?", 2)[0], "file:")), 0o755); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dialect, err)
	}
	if dialect == Postgres {
		db.SetMaxOpenConns(20)
		db.SetMaxIdleConns(10)
	} else {
		// database/sql keeps 2 idle connections by default: under
		// concurrent requests it then opens and closes SQLite connections
		// continuously, each one running the DSN's PRAGMAs (18% of the CPU
		// in the views benchmark). Keep up to SQLiteIdleConns, and let an
		// idle one go after SQLiteConnIdleTime (each holds its own page
		// cache, up to about 2 MiB).
		db.SetMaxIdleConns(SQLiteIdleConns)
		db.SetConnMaxIdleTime(SQLiteConnIdleTime)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("ping %s: %w", dialect, err)
	}
	return &Store{db: db, dialect: dialect}, nil
}

// resolveDSN turns the configured URL into a driver name and DSN.
func resolveDSN(databaseURL, dataDir string) (driver, dsn string, dialect Dialect, err error) {
	switch {
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		if _, err := url.Parse(databaseURL); err != nil {
			return "", "", "", fmt.Errorf("database url: %w", err)
		}
		return "pgx", databaseURL, Postgres, nil
	case databaseURL == "":
		if dataDir == "" {
			return "", "", "", errors.New("database url: empty and no data dir")
		}
		return "sqlite", SQLiteDSN(filepath.Join(dataDir, "atlas.db")), SQLite, nil
	case strings.HasPrefix(databaseURL, "sqlite:"):
		return "sqlite", SQLiteDSN(strings.TrimPrefix(strings.TrimPrefix(databaseURL, "sqlite:"), "//")), SQLite, nil
	case strings.HasPrefix(databaseURL, "file:"):
		return "sqlite", SQLiteDSN(strings.TrimPrefix(databaseURL, "file:")), SQLite, nil
	default:
		return "", "", "", fmt.Errorf("database url %q: want postgres://, sqlite: or file:", databaseURL)
	}
}

// SQLiteDSN returns the DSN Atlas uses for the SQLite file at path: WAL
// journal, a 10 s busy timeout, foreign keys on, synchronous=NORMAL.
func SQLiteDSN(path string) string {
	return "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_time_format=sqlite"
}

// Close closes every database connection.
func (s *Store) Close() error { return s.db.Close() }

// DB returns the underlying handle, for packages that run their own queries
// (such as the seeder). Write SQL with '?' placeholders and pass it through
// Rebind.
func (s *Store) DB() *sql.DB { return s.db }

// Dialect reports which SQL dialect the store speaks.
func (s *Store) Dialect() Dialect { return s.dialect }

// Ping checks that the database answers a trivial query.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	var one int
	if err := s.db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("select 1: %w", err)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil {
		return fmt.Errorf("schema_migrations: %w", err)
	}
	if n == 0 {
		return errors.New("no migrations applied")
	}
	return nil
}

// Rebind rewrites '?' placeholders to the store's dialect ('$1', '$2', …
// for PostgreSQL). Question marks inside single-quoted literals are kept.
func (s *Store) Rebind(query string) string { return Rebind(s.dialect, query) }

// Rebind rewrites '?' placeholders for dialect d. See Store.Rebind.
func Rebind(d Dialect, query string) string {
	if d != Postgres || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n, inQuote := 0, false
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'':
			inQuote = !inQuote
			b.WriteByte(c)
		case c == '?' && !inQuote:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Secret returns the stored secret called name, creating it with create's
// value when it does not exist yet; concurrent first calls (several nodes
// starting at once) agree on one value.
func (s *Store) Secret(ctx context.Context, name string, create func() (string, error)) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, s.Rebind("SELECT value FROM app_secrets WHERE name = ?"), name).Scan(&v)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("secret %s: %w", name, err)
	}
	nv, err := create()
	if err != nil {
		return "", err
	}
	if _, err := s.db.ExecContext(ctx, s.Rebind(`INSERT INTO app_secrets (name, value, created_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO NOTHING`), name, nv, time.Now().UTC()); err != nil {
		return "", fmt.Errorf("secret %s: %w", name, err)
	}
	if err := s.db.QueryRowContext(ctx, s.Rebind("SELECT value FROM app_secrets WHERE name = ?"), name).Scan(&v); err != nil {
		return "", fmt.Errorf("secret %s: %w", name, err)
	}
	return v, nil
}
