package media

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/rollout"
)

// Outbox is what media needs from the outbox; *outbox.Outbox implements it.
type Outbox interface {
	Add(ctx context.Context, tx outbox.Execer, events ...outbox.Event) error
	Publish(ctx context.Context, events ...outbox.Event) error
}

// OutboxCreate returns a CreateFunc that inserts the media row and its
// MediaUploaded {mediaId, storageKey} event in one transaction on db, so
// the event exists exactly when the row does. The publish func it returns
// is the outbox fast path; whatever it cannot publish the relay does. In
// sync mode the event is not stored (the request did the work).
func OutboxCreate(db *sql.DB, repo *SQLRepo, ob Outbox) CreateFunc {
	return func(ctx context.Context, owner Owner, key string, mode rollout.Mode) (int64, func(context.Context), error) {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return 0, nil, fmt.Errorf("create media: %w", err)
		}
		defer tx.Rollback()
		id, err := repo.WithTx(tx).Create(ctx, owner, key)
		if err != nil {
			return 0, nil, err
		}
		ev, err := outbox.NewEvent(ctx, outbox.MediaUploaded, JobPayload{MediaID: id, StorageKey: key}, mode)
		if err != nil {
			return 0, nil, err
		}
		if err := ob.Add(ctx, tx, ev); err != nil {
			return 0, nil, fmt.Errorf("create media: %w", err)
		}
		if err := tx.Commit(); err != nil {
			return 0, nil, fmt.Errorf("create media: %w", err)
		}
		return id, func(ctx context.Context) { _ = ob.Publish(ctx, ev) }, nil // failures are logged by the outbox
	}
}
