package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Backlog describes the unpublished part of the outbox.
type Backlog struct {
	// Pending is the number of unpublished rows (counted up to 1,000,001).
	Pending int64
	// Oldest is when the oldest unpublished row was written (zero if none).
	Oldest time.Time
	// Alert is true when Pending or the age of Oldest passes its threshold.
	Alert bool
}

// ErrBacklog is returned by Check when the backlog alert fires.
var ErrBacklog = errors.New("outbox backlog over threshold")

// Backlog measures the backlog and updates the atlas_outbox_backlog,
// atlas_outbox_oldest_age_seconds and atlas_outbox_backlog_alert gauges.
func (o *Outbox) Backlog(ctx context.Context) (Backlog, error) {
	var b Backlog
	err := o.st.DB().QueryRowContext(ctx,
		"SELECT count(*) FROM (SELECT 1 FROM outbox WHERE published_at IS NULL LIMIT 1000001) t").Scan(&b.Pending)
	if err != nil {
		return b, fmt.Errorf("outbox backlog: %w", err)
	}
	var oldest sql.NullTime
	err = o.st.DB().QueryRowContext(ctx,
		"SELECT created_at FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT 1").Scan(&oldest)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return b, fmt.Errorf("outbox backlog: %w", err)
	}
	age := 0.0
	if oldest.Valid {
		b.Oldest = oldest.Time.UTC()
		age = max(o.cfg.Now().Sub(b.Oldest).Seconds(), 0)
	}
	b.Alert = b.Pending > int64(o.cfg.BacklogAlertRows) || (oldest.Valid && age > o.cfg.BacklogAlertAge.Seconds())
	o.m.backlog.Set(float64(b.Pending))
	o.m.oldestAge.Set(age)
	if b.Alert {
		o.m.alert.Set(1)
	} else {
		o.m.alert.Set(0)
	}
	return b, nil
}

// Check is the /readyz probe: it fails while the backlog alert fires. The
// app registers it as degradable: /readyz reports the backlog and stays
// 200 (writes still land in the outbox), /readyz?strict=1 fails (see
// OPERATIONS).
func (o *Outbox) Check(ctx context.Context) error {
	b, err := o.Backlog(ctx)
	if err != nil {
		return err
	}
	if b.Alert {
		return fmt.Errorf("%w: %d unpublished, oldest from %s (thresholds %d rows, %s)", ErrBacklog,
			b.Pending, b.Oldest.Format(time.RFC3339), o.cfg.BacklogAlertRows, o.cfg.BacklogAlertAge)
	}
	return nil
}
