package salon

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/seo"
	"github.com/sevra/atlas/internal/store"
)

// Errors of Approve; the HTTP layer answers 409 to both.
var (
	ErrAlreadyApproved = errors.New("verification already approved")
	ErrAlreadyDecided  = errors.New("verification already decided")
)

// Approval is an approved verification request.
type Approval struct {
	VerificationID int64        `json:"verification_id"`
	SalonID        int64        `json:"salon_id"`
	Status         string       `json:"status"`
	DecidedAt      time.Time    `json:"decided_at"`
	Mode           rollout.Mode `json:"mode"`
	EventID        string       `json:"event_id,omitempty"`
}

// Approve approves pending verification request id on behalf of
// reviewerID. In one transaction it marks the request approved, marks the
// salon verified (and bumps its updated_at, the sitemap lastmod) and
// writes the VerificationApproved event. After the commit it deletes the
// salon's cache entries (synchronous, as DESIGN requires) and publishes
// the event, whose seo-refresh job requests a coalesced sitemap rebuild.
// In the sitemap module's sync and shadow modes the rebuild also runs in
// the request. It returns store.ErrNotFound, ErrAlreadyApproved or
// ErrAlreadyDecided (rejected).
func (s *Service) Approve(ctx context.Context, id, reviewerID int64) (Approval, error) {
	mode := s.sitemapMode()
	now := s.cfg.Now().UTC()
	a := Approval{VerificationID: id, Status: "approved", DecidedAt: now, Mode: mode}
	tx, err := s.st.DB().BeginTx(ctx, nil)
	if err != nil {
		return a, fmt.Errorf("approve verification %d: %w", id, err)
	}
	defer tx.Rollback()
	// The conditional update is the check: of two concurrent approvals
	// exactly one changes the row.
	err = tx.QueryRowContext(ctx, s.st.Rebind(`UPDATE verification_requests SET status = 'approved', reviewer_id = ?, decided_at = ?
		WHERE id = ? AND status = 'pending' RETURNING salon_id`), reviewerID, now, id).Scan(&a.SalonID)
	if errors.Is(err, sql.ErrNoRows) {
		var status string
		err = tx.QueryRowContext(ctx, s.st.Rebind(`SELECT status FROM verification_requests WHERE id = ?`), id).Scan(&status)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return a, fmt.Errorf("verification %d: %w", id, store.ErrNotFound)
		case err != nil:
			return a, fmt.Errorf("approve verification %d: %w", id, err)
		case status == "approved":
			return a, fmt.Errorf("verification %d: %w", id, ErrAlreadyApproved)
		default:
			return a, fmt.Errorf("verification %d is %s: %w", id, status, ErrAlreadyDecided)
		}
	}
	if err != nil {
		return a, fmt.Errorf("approve verification %d: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, s.st.Rebind(`UPDATE salons SET verified = ?, updated_at = ? WHERE id = ?`), true, now, a.SalonID); err != nil {
		return a, fmt.Errorf("approve verification %d: %w", id, err)
	}
	ev, err := outbox.NewEvent(ctx, seo.EventVerificationApproved, seo.SEORefreshPayload{EntityType: seo.EntitySalon, EntityID: a.SalonID}, mode)
	if err != nil {
		return a, err
	}
	if err := s.ob.Add(ctx, tx, ev); err != nil {
		return a, fmt.Errorf("approve verification %d: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return a, fmt.Errorf("approve verification %d: %w", id, err)
	}
	if mode.Enqueues() {
		a.EventID = ev.ID
	}
	s.invalidate(ctx, a.SalonID)
	_, _ = s.ob.Publish(ctx, ev)
	if mode.Inline() {
		s.cfg.Sitemap.RebuildInline(ctx)
	}
	return a, nil
}
