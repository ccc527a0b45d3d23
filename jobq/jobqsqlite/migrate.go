package jobqsqlite

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one embedded schema step; files are named NNNN_name.sql.
type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations() ([]migration, error) {
	files, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, f := range files {
		base := strings.TrimPrefix(f, "migrations/")
		num, _, ok := strings.Cut(base, "_")
		if !ok {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", base)
		}
		v, err := strconv.Atoi(num)
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", base, err)
		}
		b, err := migrationFS.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: base, sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// migrate applies the embedded migrations not yet recorded in
// jobq_schema, each in its own BEGIN IMMEDIATE transaction, so several
// processes opening a new file at once apply each step exactly once.
func (d *Driver) migrate(ctx context.Context) error {
	migs, err := loadMigrations()
	if err != nil {
		return err
	}
	if err := d.write(ctx, func(t *wtx) error {
		_, err := t.d.wconn.ExecContext(ctx,
			`CREATE TABLE IF NOT EXISTS jobq_schema (version INTEGER PRIMARY KEY, name TEXT NOT NULL)`)
		return err
	}); err != nil {
		return err
	}
	for _, m := range migs {
		err := d.write(ctx, func(t *wtx) error {
			var n int
			if _, err := t.row(`SELECT count(*) FROM jobq_schema WHERE version = ?`, []any{m.version}, &n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			// Multi-statement scripts cannot be prepared; run them directly.
			if _, err := t.d.wconn.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("apply %s: %w", m.name, err)
			}
			_, err := t.exec(`INSERT INTO jobq_schema (version, name) VALUES (?, ?)`, m.version, m.name)
			return err
		})
		if err != nil {
			return err
		}
		d.log.DebugContext(ctx, "jobqsqlite: schema checked", "version", m.version)
	}
	return nil
}
