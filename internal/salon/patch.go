package salon

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sevra/atlas/internal/geo"
	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/seo"
	"github.com/sevra/atlas/internal/slug"
	"github.com/sevra/atlas/internal/store"
)

// MaxPatchBytes bounds a PATCH /salons/{slug} body.
const MaxPatchBytes = 4 << 10

// InputError is a client mistake in a request body, with a machine code.
type InputError struct{ Code, Message string }

// Error returns the message.
func (e *InputError) Error() string { return e.Message }

// Patch is the body of PATCH /salons/{slug}; nil fields stay.
type Patch struct {
	Name     *string `json:"name"`
	Slug     *string `json:"slug"`
	Verified *bool   `json:"verified"`
}

// ParsePatch decodes and validates a patch: a JSON object with at least
// one of name (1–200 characters, no control characters), slug (the
// alphabet of internal/slug, the rule of post slugs too) and verified, and
// nothing else.
func ParsePatch(data []byte) (Patch, error) {
	var p Patch
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Patch{}, &InputError{"invalid_json", "body must be a JSON object with name, slug or verified"}
	}
	if dec.More() {
		return Patch{}, &InputError{"invalid_json", "body must be one JSON object"}
	}
	if p.Name == nil && p.Slug == nil && p.Verified == nil {
		return Patch{}, &InputError{"empty_patch", "set at least one of name, slug, verified"}
	}
	if p.Name != nil {
		n := strings.TrimSpace(*p.Name)
		if n == "" || utf8.RuneCountInString(n) > 200 || !utf8.ValidString(n) || hasControl(n) {
			return Patch{}, &InputError{"invalid_name", "name must be 1 to 200 characters"}
		}
		p.Name = &n
	}
	if p.Slug != nil {
		if !slug.Valid(*p.Slug) {
			return Patch{}, &InputError{"invalid_slug",
				"slug must be 1 to 200 bytes of lower-case a-z, digits, '-', Persian letters and digits"}
		}
	}
	return p, nil
}

// hasControl reports whether s holds a control character (NUL included),
// which no name needs and PostgreSQL text cannot always store.
func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}

// Update applies p to the salon at slug (current or old). In one
// transaction it updates the row (and updated_at), records the old slug
// in slug_history when the slug changes (so the old URL answers 301), and
// writes SalonChanged (city stats, geo module) plus, on a slug change,
// SitemapRebuildRequested (sitemap module). After the commit it deletes
// the salon's cache entries and publishes; modules in sync or shadow mode
// also do their work in the request.
func (s *Service) Update(ctx context.Context, slug string, p Patch) (store.Salon, error) {
	cur, _, err := s.st.ResolveSalonSlug(ctx, slug)
	if err != nil {
		return store.Salon{}, err
	}
	geoMode, smMode := s.cfg.Modes.Mode(geo.Module), s.sitemapMode()
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
		if _, err := rename(ctx, tx, s.st.Dialect(), cur.ID, newSlug, now); err != nil {
			return store.Salon{}, err
		}
	}
	events := []outbox.Event{}
	ev, err := outbox.NewEvent(ctx, geo.EventSalonChanged, map[string]int64{"salonId": cur.ID, "cityId": cityID}, geoMode)
	if err != nil {
		return store.Salon{}, err
	}
	events = append(events, ev)
	slugChanged := newSlug != oldSlug
	if slugChanged {
		ev, err := outbox.NewEvent(ctx, seo.EventRebuildRequested, struct{}{}, smMode)
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
	s.invalidate(ctx, cur.ID)
	_, _ = s.ob.Publish(ctx, events...)
	if geoMode.Inline() && s.cfg.Cities != nil {
		if err := s.cfg.Cities.Refresh(ctx, cityID); err != nil {
			s.log.ErrorContext(ctx, "sync city stats refresh", "city", cityID, "err", err)
		}
	}
	if slugChanged && smMode.Inline() {
		s.cfg.Sitemap.RebuildInline(ctx)
	}
	return s.st.SalonBySlug(ctx, newSlug)
}
