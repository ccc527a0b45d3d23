package media

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/store"
)

// Status is a media row's processing state.
type Status string

// The statuses of the media table.
const (
	StatusProcessing Status = "processing"
	StatusReady      Status = "ready"
	StatusFailed     Status = "failed"
)

// Owner says what a media item belongs to ("salon", "user", "post").
type Owner struct {
	Type string
	ID   int64
}

// Variant is one stored rendition.
type Variant struct {
	Key    string `json:"key"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Format string `json:"format"`
	Bytes  int64  `json:"bytes"`
}

// Record is a media row.
type Record struct {
	ID          int64
	Owner       Owner
	Status      Status
	OriginalKey string
	// Variants by name ("320w.webp"); stored as a JSON object in the
	// variants column.
	Variants      map[string]Variant
	Width, Height int
	Placeholder   string
	Error         string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Ready is what a successful GenerateVariants records.
type Ready struct {
	Width, Height int
	Variants      map[string]Variant
	Placeholder   string
}

// Repo is the persistence the media service consumes.
type Repo interface {
	// Create inserts a row in status processing and returns its id.
	Create(ctx context.Context, owner Owner, originalKey string) (int64, error)
	// CreateThen inserts a row in status processing and, in the same
	// transaction, runs then with its id (the service adds its outbox
	// event there); the row is committed only if then succeeds.
	CreateThen(ctx context.Context, owner Owner, originalKey string,
		then func(ctx context.Context, tx outbox.Execer, id int64) error) (int64, error)
	// Get returns a row; an unknown id is ErrNotFound.
	Get(ctx context.Context, id int64) (Record, error)
	// SetReady records the variants and marks the row ready.
	SetReady(ctx context.Context, id int64, r Ready) error
	// SetFailed marks the row failed with a human-readable reason.
	SetFailed(ctx context.Context, id int64, reason string) error
}

// queryer is satisfied by *sql.DB and *sql.Tx.
type queryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// SQLRepo implements Repo on the media table of internal/store, for SQLite
// and PostgreSQL.
type SQLRepo struct {
	db      *sql.DB // nil for a repo from WithTx
	q       queryer
	dialect store.Dialect
	now     func() time.Time
}

// NewSQLRepo returns a Repo over db speaking dialect d.
func NewSQLRepo(db *sql.DB, d store.Dialect) *SQLRepo {
	return &SQLRepo{db: db, q: db, dialect: d, now: time.Now}
}

// WithTx returns a repo that runs its statements in tx, so a Create can
// share a transaction with, for example, an outbox insert.
func (r *SQLRepo) WithTx(tx *sql.Tx) *SQLRepo {
	return &SQLRepo{q: tx, dialect: r.dialect, now: r.now}
}

// Create implements Repo.
func (r *SQLRepo) Create(ctx context.Context, owner Owner, originalKey string) (int64, error) {
	now := r.now().UTC()
	var id int64
	err := r.q.QueryRowContext(ctx, store.Rebind(r.dialect,
		`INSERT INTO media (owner_type, owner_id, status, original_key, variants, created_at, updated_at)
		 VALUES (?, ?, 'processing', ?, '{}', ?, ?) RETURNING id`),
		owner.Type, owner.ID, originalKey, now, now).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("insert media: %w", err)
	}
	return id, nil
}

// CreateThen implements Repo.
func (r *SQLRepo) CreateThen(ctx context.Context, owner Owner, originalKey string,
	then func(ctx context.Context, tx outbox.Execer, id int64) error) (int64, error) {
	if r.db == nil {
		return 0, errors.New("media: CreateThen on a repo bound to a transaction")
	}
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("create media: %w", err)
	}
	defer tx.Rollback()
	id, err := r.WithTx(tx).Create(ctx, owner, originalKey)
	if err != nil {
		return 0, err
	}
	if err := then(ctx, tx, id); err != nil {
		return 0, fmt.Errorf("create media: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("create media: %w", err)
	}
	return id, nil
}

// Get implements Repo.
func (r *SQLRepo) Get(ctx context.Context, id int64) (Record, error) {
	var (
		rec                 Record
		status, variants    string
		w, h                sql.NullInt64
		placeholder, errMsg sql.NullString
	)
	err := r.q.QueryRowContext(ctx, store.Rebind(r.dialect,
		`SELECT id, owner_type, owner_id, status, original_key, CAST(variants AS TEXT), width, height,
		        placeholder, error, created_at, updated_at
		 FROM media WHERE id = ?`), id).Scan(
		&rec.ID, &rec.Owner.Type, &rec.Owner.ID, &status, &rec.OriginalKey, &variants, &w, &h,
		&placeholder, &errMsg, &rec.CreatedAt, &rec.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return Record{}, fmt.Errorf("media %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Record{}, fmt.Errorf("select media %d: %w", id, err)
	}
	rec.Status, rec.Width, rec.Height = Status(status), int(w.Int64), int(h.Int64)
	rec.Placeholder, rec.Error = placeholder.String, errMsg.String
	if err := json.Unmarshal([]byte(variants), &rec.Variants); err != nil {
		return Record{}, fmt.Errorf("media %d variants: %w", id, err)
	}
	return rec, nil
}

// SetReady implements Repo.
func (r *SQLRepo) SetReady(ctx context.Context, id int64, rd Ready) error {
	v, err := json.Marshal(rd.Variants)
	if err != nil {
		return fmt.Errorf("encode variants: %w", err)
	}
	return r.update(ctx, id,
		`UPDATE media SET status = 'ready', variants = ?, width = ?, height = ?, placeholder = ?,
		 error = NULL, updated_at = ? WHERE id = ?`,
		string(v), rd.Width, rd.Height, rd.Placeholder, r.now().UTC(), id)
}

// SetFailed implements Repo.
func (r *SQLRepo) SetFailed(ctx context.Context, id int64, reason string) error {
	return r.update(ctx, id,
		`UPDATE media SET status = 'failed', error = ?, updated_at = ? WHERE id = ?`,
		reason, r.now().UTC(), id)
}

// update runs one UPDATE and reports ErrNotFound when it touched no row.
func (r *SQLRepo) update(ctx context.Context, id int64, query string, args ...any) error {
	res, err := r.q.ExecContext(ctx, store.Rebind(r.dialect, query), args...)
	if err != nil {
		return fmt.Errorf("update media %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("media %d: %w", id, ErrNotFound)
	}
	return nil
}
