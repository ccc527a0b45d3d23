package seed

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/sevra/atlas/internal/slug"
	"github.com/sevra/atlas/internal/store"
)

// inserter batches rows into multi-row INSERT statements inside one
// transaction, reusing one prepared statement for every full batch.
type inserter struct {
	tx      *sql.Tx
	dialect store.Dialect
	table   string
	cols    []string
	perStmt int
	stmt    *sql.Stmt
	buf     []any
	bar     *progress
}

// maxParams stays under SQLite's 32766 and PostgreSQL's 65535 bind limits.
const maxParams = 30000

func newInserter(tx *sql.Tx, d store.Dialect, table string, cols []string, bar *progress) *inserter {
	per := min(maxParams/len(cols), 1000)
	return &inserter{tx: tx, dialect: d, table: table, cols: cols, perStmt: per, buf: make([]any, 0, per*len(cols)), bar: bar}
}

// query builds an INSERT for n rows.
func (in *inserter) query(n int) string {
	row := "(" + strings.Repeat("?,", len(in.cols)-1) + "?)"
	var b strings.Builder
	b.Grow(32 + n*(len(row)+1))
	fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES ", in.table, strings.Join(in.cols, ", "))
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(row)
	}
	return store.Rebind(in.dialect, b.String())
}

// add queues one row, whose values must match cols.
func (in *inserter) add(ctx context.Context, vals ...any) error {
	for i, c := range in.cols {
		if s, ok := vals[i].(string); ok && c == "slug" {
			if err := slug.Check(s); err != nil { // the one slug alphabet, on create too
				return fmt.Errorf("insert into %s: %w", in.table, err)
			}
		}
	}
	in.buf = append(in.buf, vals...)
	if len(in.buf) < in.perStmt*len(in.cols) {
		return nil
	}
	if in.stmt == nil {
		st, err := in.tx.PrepareContext(ctx, in.query(in.perStmt))
		if err != nil {
			return fmt.Errorf("prepare insert into %s: %w", in.table, err)
		}
		in.stmt = st
	}
	if _, err := in.stmt.ExecContext(ctx, in.buf...); err != nil {
		return fmt.Errorf("insert into %s: %w", in.table, err)
	}
	in.bar.add(in.perStmt)
	in.buf = in.buf[:0]
	return nil
}

// flush writes the queued rows and releases the statement.
func (in *inserter) flush(ctx context.Context) error {
	if in.stmt != nil {
		defer in.stmt.Close()
	}
	if len(in.buf) == 0 {
		return nil
	}
	n := len(in.buf) / len(in.cols)
	if _, err := in.tx.ExecContext(ctx, in.query(n), in.buf...); err != nil {
		return fmt.Errorf("insert into %s: %w", in.table, err)
	}
	in.bar.add(n)
	in.buf = in.buf[:0]
	return nil
}
