package media

import (
	"context"

	"github.com/sevra/atlas/internal/outbox"
)

// Outbox is what media needs from the outbox; *outbox.Outbox implements it.
type Outbox interface {
	Add(ctx context.Context, tx outbox.Execer, events ...outbox.Event) error
	Publish(ctx context.Context, events ...outbox.Event) ([]outbox.Published, error)
}
