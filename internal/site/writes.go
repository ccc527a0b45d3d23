package site

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sevra/atlas/internal/store"
)

// Errors of the writes that feed the pages.
var (
	// ErrForbidden: the caller is neither the owner nor an admin.
	ErrForbidden = errors.New("only the owner or an admin may do this")
	// ErrPending: the salon already has a pending verification request.
	ErrPending = errors.New("a verification request for this salon is already pending")
)

// InputError is a request the caller must change (400), with a
// machine-readable code.
type InputError struct{ Code, Message string }

// Error returns the message.
func (e *InputError) Error() string { return e.Message }

// Actor is who asks: a user (the system user for the admin token) and
// whether they are an admin.
type Actor struct {
	UserID int64
	Admin  bool
}

// Invalidator retires cached answers about an entity; *seo.CacheHub
// implements it.
type Invalidator interface {
	Invalidate(ctx context.Context, entityType string, entityID int64) error
}

// Writer attaches photos to salons and posts, files verification requests
// and removes salons.
type Writer struct {
	st    Store
	cache Invalidator
	now   func() time.Time
}

// NewWriter returns a Writer; cache may be nil.
func NewWriter(st Store, cache Invalidator) *Writer {
	return &Writer{st: st, cache: cache, now: time.Now}
}

// Attachment is a media item's place on a salon or a post.
type Attachment struct {
	MediaID  int64  `json:"media_id"`
	Owner    string `json:"owner_type"`
	OwnerID  int64  `json:"owner_id"`
	Role     string `json:"role"`
	Position int    `json:"position"`
	Status   string `json:"status"`
}

func (w *Writer) q(s string) string { return store.Rebind(w.st.Dialect(), s) }

// AttachToSalon attaches media to the salon with slug as its cover or a
// gallery photo (appended). The caller must own the salon (or be an admin)
// and have uploaded the media (or be an admin, or it must already belong
// to this salon). A new cover demotes the previous one to the gallery.
func (w *Writer) AttachToSalon(ctx context.Context, a Actor, slug string, mediaID int64, role string) (Attachment, error) {
	if role != "gallery" && role != "cover" {
		return Attachment{}, &InputError{"invalid_role", "role must be gallery or cover"}
	}
	s, _, err := w.st.ResolveSalonSlug(ctx, slug)
	if err != nil {
		return Attachment{}, err
	}
	return w.attach(ctx, a, "salon", s.ID, "SELECT owner_id FROM salons WHERE id = ?", mediaID, role)
}

// AttachToPost attaches media as the cover of the published or draft post
// with slug; its author or an admin may.
func (w *Writer) AttachToPost(ctx context.Context, a Actor, slug string, mediaID int64) (Attachment, error) {
	var id int64
	err := w.st.DB().QueryRowContext(ctx, w.q(`SELECT id FROM posts WHERE slug = ?`), slug).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return Attachment{}, fmt.Errorf("post %s: %w", slug, store.ErrNotFound)
	}
	if err != nil {
		return Attachment{}, fmt.Errorf("post %s: %w", slug, err)
	}
	return w.attach(ctx, a, "post", id, "SELECT author_id FROM posts WHERE id = ?", mediaID, "cover")
}

func (w *Writer) attach(ctx context.Context, a Actor, ownerType string, ownerID int64, ownerQuery string, mediaID int64, role string) (Attachment, error) {
	tx, err := w.st.DB().BeginTx(ctx, nil)
	if err != nil {
		return Attachment{}, fmt.Errorf("attach media: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var owner sql.NullInt64
	if err := tx.QueryRowContext(ctx, w.q(ownerQuery), ownerID).Scan(&owner); err != nil {
		return Attachment{}, fmt.Errorf("attach media: %s %d owner: %w", ownerType, ownerID, err)
	}
	if !a.Admin && (!owner.Valid || owner.Int64 != a.UserID) {
		return Attachment{}, ErrForbidden
	}
	var mType, status string
	var mOwner int64
	err = tx.QueryRowContext(ctx, w.q(`SELECT owner_type, owner_id, status FROM media WHERE id = ?`), mediaID).Scan(&mType, &mOwner, &status)
	if errors.Is(err, sql.ErrNoRows) {
		return Attachment{}, &InputError{"unknown_media", fmt.Sprintf("media %d does not exist", mediaID)}
	}
	if err != nil {
		return Attachment{}, fmt.Errorf("attach media %d: %w", mediaID, err)
	}
	mine := (mType == "user" && mOwner == a.UserID) || (mType == ownerType && mOwner == ownerID)
	if !a.Admin && !mine {
		return Attachment{}, &InputError{"not_your_media", fmt.Sprintf("media %d was not uploaded by you", mediaID)}
	}
	if status == "failed" {
		return Attachment{}, &InputError{"media_failed", fmt.Sprintf("media %d failed to process; upload it again", mediaID)}
	}
	now := w.now().UTC()
	if role == "cover" {
		if _, err := tx.ExecContext(ctx, w.q(`UPDATE media SET role = 'gallery', updated_at = ?
			WHERE owner_type = ? AND owner_id = ? AND role = 'cover' AND id <> ?`), now, ownerType, ownerID, mediaID); err != nil {
			return Attachment{}, fmt.Errorf("attach media: demote cover: %w", err)
		}
	}
	var pos int
	if err := tx.QueryRowContext(ctx, w.q(`SELECT COALESCE(MAX(position), 0) + 1 FROM media
		WHERE owner_type = ? AND owner_id = ?`), ownerType, ownerID).Scan(&pos); err != nil {
		return Attachment{}, fmt.Errorf("attach media: position: %w", err)
	}
	if _, err := tx.ExecContext(ctx, w.q(`UPDATE media SET owner_type = ?, owner_id = ?, role = ?, position = ?, updated_at = ?
		WHERE id = ?`), ownerType, ownerID, role, pos, now, mediaID); err != nil {
		return Attachment{}, fmt.Errorf("attach media %d: %w", mediaID, err)
	}
	// The page changed: its Last-Modified and sitemap lastmod move too.
	table := map[string]string{"salon": "salons", "post": "posts"}[ownerType]
	if _, err := tx.ExecContext(ctx, w.q(`UPDATE `+table+` SET updated_at = ? WHERE id = ?`), now, ownerID); err != nil {
		return Attachment{}, fmt.Errorf("attach media: touch %s: %w", ownerType, err)
	}
	if err := tx.Commit(); err != nil {
		return Attachment{}, fmt.Errorf("attach media: %w", err)
	}
	w.invalidate(ctx, ownerType, ownerID)
	return Attachment{MediaID: mediaID, Owner: ownerType, OwnerID: ownerID, Role: role, Position: pos, Status: status}, nil
}

func (w *Writer) invalidate(ctx context.Context, entity string, id int64) {
	if w.cache != nil {
		// The TTL bounds staleness when an invalidation fails.
		_ = w.cache.Invalidate(ctx, entity, id)
	}
}

// VerificationRequest is a filed request.
type VerificationRequest struct {
	ID        int64     `json:"id"`
	SalonID   int64     `json:"salon_id"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

// RequestVerification files a pending verification request for the salon
// with slug; its owner or an admin may, once at a time (ErrPending).
func (w *Writer) RequestVerification(ctx context.Context, a Actor, slug string) (VerificationRequest, error) {
	s, _, err := w.st.ResolveSalonSlug(ctx, slug)
	if err != nil {
		return VerificationRequest{}, err
	}
	tx, err := w.st.DB().BeginTx(ctx, nil)
	if err != nil {
		return VerificationRequest{}, fmt.Errorf("verification request: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var owner sql.NullInt64
	if err := tx.QueryRowContext(ctx, w.q(`SELECT owner_id FROM salons WHERE id = ?`), s.ID).Scan(&owner); err != nil {
		return VerificationRequest{}, fmt.Errorf("verification request: %w", err)
	}
	if !a.Admin && (!owner.Valid || owner.Int64 != a.UserID) {
		return VerificationRequest{}, ErrForbidden
	}
	var n int
	if err := tx.QueryRowContext(ctx, w.q(`SELECT count(*) FROM verification_requests WHERE salon_id = ? AND status = 'pending'`),
		s.ID).Scan(&n); err != nil {
		return VerificationRequest{}, fmt.Errorf("verification request: %w", err)
	}
	if n > 0 {
		return VerificationRequest{}, ErrPending
	}
	v := VerificationRequest{SalonID: s.ID, Status: "pending", CreatedAt: w.now().UTC()}
	if err := tx.QueryRowContext(ctx, w.q(`INSERT INTO verification_requests (salon_id, status, created_at)
		VALUES (?, 'pending', ?) RETURNING id`), s.ID, v.CreatedAt).Scan(&v.ID); err != nil {
		return VerificationRequest{}, fmt.Errorf("verification request: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return VerificationRequest{}, fmt.Errorf("verification request: %w", err)
	}
	return v, nil
}

// RemoveSalon deletes the salon with slug (its reviews and requests go
// with it) and keeps each slug that led to it, so its page answers 410.
func (w *Writer) RemoveSalon(ctx context.Context, slug string) error {
	s, _, err := w.st.ResolveSalonSlug(ctx, slug)
	if err != nil {
		return err
	}
	// The API's cache finds a salon's keys through its slugs: retire them
	// while the salon still exists.
	w.invalidate(ctx, "salon", s.ID)
	tx, err := w.st.DB().BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("remove salon: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	now := w.now().UTC()
	slugs := []string{s.Slug}
	rows, err := tx.QueryContext(ctx, w.q(`SELECT old_slug FROM slug_history WHERE entity = 'salon' AND entity_id = ?`), s.ID)
	if err != nil {
		return fmt.Errorf("remove salon: %w", err)
	}
	for rows.Next() {
		var o string
		if err := rows.Scan(&o); err != nil {
			rows.Close()
			return fmt.Errorf("remove salon: %w", err)
		}
		slugs = append(slugs, o)
	}
	rows.Close()
	for _, x := range slugs {
		if _, err := tx.ExecContext(ctx, w.q(`INSERT INTO salon_removals (slug, name, removed_at) VALUES (?, ?, ?)`), x, s.Name, now); err != nil {
			return fmt.Errorf("remove salon: %w", err)
		}
	}
	for _, q := range []string{
		`DELETE FROM slug_history WHERE entity = 'salon' AND entity_id = ?`,
		`DELETE FROM media WHERE owner_type = 'salon' AND owner_id = ?`,
		`DELETE FROM reviews WHERE salon_id = ?`,
		`DELETE FROM verification_requests WHERE salon_id = ?`,
		`DELETE FROM salons WHERE id = ?`,
	} {
		if _, err := tx.ExecContext(ctx, w.q(q), s.ID); err != nil {
			return fmt.Errorf("remove salon: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("remove salon: %w", err)
	}
	w.invalidate(ctx, "city", s.CityID)
	return nil
}
