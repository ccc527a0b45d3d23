package seo

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/store"
)

// ErrSlugTaken is returned when a new slug belongs to another salon.
var ErrSlugTaken = errors.New("slug already taken")

// MaxPatchBytes bounds a PATCH /salons/{slug} body.
const MaxPatchBytes = 4 << 10

// InputError is a client mistake in a request body, with a machine code.
type InputError struct{ Code, Message string }

func (e *InputError) Error() string { return e.Message }

// SalonPatch is the body of PATCH /salons/{slug}; nil fields stay.
type SalonPatch struct {
	Name     *string `json:"name"`
	Slug     *string `json:"slug"`
	Verified *bool   `json:"verified"`
}

// ParseSalonPatch decodes and validates a patch: a JSON object with at
// least one of name (1–200 characters), slug (a URL segment of 1–200
// bytes, see RenamePost) and verified, and nothing else.
func ParseSalonPatch(data []byte) (SalonPatch, error) {
	var p SalonPatch
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return SalonPatch{}, &InputError{"invalid_json", "body must be a JSON object with name, slug or verified"}
	}
	if dec.More() {
		return SalonPatch{}, &InputError{"invalid_json", "body must be one JSON object"}
	}
	if p.Name == nil && p.Slug == nil && p.Verified == nil {
		return SalonPatch{}, &InputError{"empty_patch", "set at least one of name, slug, verified"}
	}
	if p.Name != nil {
		n := strings.TrimSpace(*p.Name)
		if n == "" || utf8.RuneCountInString(n) > 200 || !utf8.ValidString(n) {
			return SalonPatch{}, &InputError{"invalid_name", "name must be 1 to 200 characters"}
		}
		p.Name = &n
	}
	if p.Slug != nil {
		if err := checkSlug(*p.Slug); err != nil || !utf8.ValidString(*p.Slug) {
			return SalonPatch{}, &InputError{"invalid_slug", "slug must be a URL segment of 1 to 200 bytes"}
		}
	}
	return p, nil
}

// UpdateSalon applies p to the salon at slug (current or old). In one
// transaction it updates the row (and updated_at), records the old slug
// in slug_history when the slug changes (so the old URL answers 301), and
// writes SalonChanged (city stats, geo module) plus, on a slug change,
// SitemapRebuildRequested (sitemap module). After the commit it deletes
// the salon's cache entries and publishes; modules in sync or shadow mode
// also do their work in the request.
func (s *Service) UpdateSalon(ctx context.Context, slug string, p SalonPatch) (store.Salon, error) {
	cur, _, err := s.st.ResolveSalonSlug(ctx, slug)
	if err != nil {
		return store.Salon{}, err
	}
	geoMode, smMode := s.cfg.Modes.Mode(rollout.Geo), s.Mode()
	now := s.cfg.Now().UTC()
	tx, err := s.st.DB().BeginTx(ctx, nil)
	if err != nil {
		return store.Salon{}, fmt.Errorf("update salon %d: %w", cur.ID, err)
	}
	defer tx.Rollback()
	// Write first: it locks the row (PostgreSQL) or the database (SQLite),
	// so the slug read here is current when history is written.
	var oldSlug string
	var cityID int64
	err = tx.QueryRowContext(ctx, s.st.Rebind(`UPDATE salons SET updated_at = ? WHERE id = ? RETURNING slug, city_id`),
		now, cur.ID).Scan(&oldSlug, &cityID)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Salon{}, fmt.Errorf("salon %d: %w", cur.ID, store.ErrNotFound)
	}
	if err != nil {
		return store.Salon{}, fmt.Errorf("update salon %d: %w", cur.ID, err)
	}
	if p.Name != nil {
		if _, err := tx.ExecContext(ctx, s.st.Rebind(`UPDATE salons SET name = ? WHERE id = ?`), *p.Name, cur.ID); err != nil {
			return store.Salon{}, fmt.Errorf("update salon %d: %w", cur.ID, err)
		}
	}
	if p.Verified != nil {
		if _, err := tx.ExecContext(ctx, s.st.Rebind(`UPDATE salons SET verified = ? WHERE id = ?`), *p.Verified, cur.ID); err != nil {
			return store.Salon{}, fmt.Errorf("update salon %d: %w", cur.ID, err)
		}
	}
	newSlug := oldSlug
	if p.Slug != nil && *p.Slug != oldSlug {
		newSlug = *p.Slug
		if err := renameSalonTx(ctx, s.st, tx, cur.ID, oldSlug, newSlug, now); err != nil {
			return store.Salon{}, err
		}
	}
	events := []outbox.Event{}
	ev, err := outbox.NewEvent(ctx, outbox.SalonChanged, map[string]int64{"salonId": cur.ID, "cityId": cityID}, geoMode)
	if err != nil {
		return store.Salon{}, err
	}
	events = append(events, ev)
	slugChanged := newSlug != oldSlug
	if slugChanged {
		ev, err := outbox.NewEvent(ctx, outbox.SitemapRebuildRequested, struct{}{}, smMode)
		if err != nil {
			return store.Salon{}, err
		}
		events = append(events, ev)
	}
	if err := s.ob.Add(ctx, tx, events...); err != nil {
		return store.Salon{}, fmt.Errorf("update salon %d: %w", cur.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return store.Salon{}, fmt.Errorf("update salon %d: %w", cur.ID, err)
	}
	s.invalidate(ctx, EntitySalon, cur.ID)
	_ = s.ob.Publish(ctx, events...)
	if geoMode.Inline() && s.cfg.Cities != nil {
		if err := s.cfg.Cities.Refresh(ctx, cityID); err != nil {
			s.log.ErrorContext(ctx, "sync city stats refresh", "city", cityID, "err", err)
		}
	}
	if slugChanged && smMode.Inline() {
		s.rebuildInline(ctx)
	}
	return s.st.SalonBySlug(ctx, newSlug)
}

// renameSalonTx moves salon id from oldSlug to newSlug inside tx and
// records oldSlug in slug_history. History maps an old slug to the salon
// id, never to another slug, so redirects never chain or loop; a slug
// that becomes current again stops redirecting.
func renameSalonTx(ctx context.Context, st *store.Store, tx *sql.Tx, id int64, oldSlug, newSlug string, now any) error {
	var taken int
	if err := tx.QueryRowContext(ctx, st.Rebind(`SELECT count(*) FROM salons WHERE slug = ? AND id <> ?`), newSlug, id).Scan(&taken); err != nil {
		return fmt.Errorf("rename salon %d: %w", id, err)
	}
	if taken > 0 {
		return fmt.Errorf("salon slug %q: %w", newSlug, ErrSlugTaken)
	}
	if _, err := tx.ExecContext(ctx, st.Rebind(`DELETE FROM slug_history WHERE entity = 'salon' AND old_slug = ?`), newSlug); err != nil {
		return fmt.Errorf("rename salon %d: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, st.Rebind(`UPDATE salons SET slug = ? WHERE id = ?`), newSlug, id); err != nil {
		return fmt.Errorf("rename salon %d: %w", id, err)
	}
	upsert := `INSERT INTO slug_history (entity, old_slug, entity_id, created_at) VALUES ('salon', ?, ?, ?)
		ON CONFLICT (entity, old_slug) DO UPDATE SET entity_id = excluded.entity_id, created_at = excluded.created_at`
	if _, err := tx.ExecContext(ctx, st.Rebind(upsert), oldSlug, id, now); err != nil {
		return fmt.Errorf("rename salon %d: %w", id, err)
	}
	return nil
}
