package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"time"

	"github.com/sevra/atlas/internal/media"
	"github.com/sevra/atlas/internal/site"
	"github.com/sevra/atlas/internal/store"
)

// demoAdminToken gives a --demo process without ATLAS_ADMIN_TOKEN a
// random development token, so the printed dashboard URL and the README's
// curl examples work; it is printed at start. Never outside --demo.
func (a *App) demoAdminToken() error {
	if !a.cfg.Demo || a.cfg.AdminToken != "" {
		return nil
	}
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return fmt.Errorf("demo admin token: %w", err)
	}
	a.cfg.AdminToken = "demo-" + hex.EncodeToString(b)
	a.demoToken = a.cfg.AdminToken
	return nil
}

// Demo photos: a cover and two gallery photos for each of the top salons,
// and covers for the newest posts, generated locally as gradient PNGs and
// run through the media pipeline like any upload.
const (
	demoPhotoSalons = 12
	demoPhotoPosts  = 4
	demoOwnerPhone  = "+989120000001"
)

// seedDemoExtras adds what the bulk seed cannot: photos through the media
// pipeline, a salon owner and a pending verification request. Run once,
// right after a fresh demo seed.
func (a *App) seedDemoExtras(ctx context.Context) error {
	m := a.mods
	if m.media == nil {
		return nil
	}
	sys, err := a.st.SystemUserID(ctx)
	if err != nil {
		return err
	}
	w := site.NewWriter(a.st, m.hub)
	admin := site.Actor{UserID: sys, Admin: true}
	salons, _, err := a.st.ListSalons(ctx, store.SalonFilter{Sort: store.SortRating, Page: 1, PerPage: demoPhotoSalons})
	if err != nil {
		return err
	}
	n := 0
	for i, s := range salons {
		for j, role := range []string{"cover", "gallery", "gallery"} {
			id, err := a.demoPhoto(ctx, sys, i*3+j)
			if err != nil {
				return err
			}
			if _, err := w.AttachToSalon(ctx, admin, s.Slug, id, role); err != nil {
				return err
			}
			n++
		}
	}
	posts, _, err := a.st.ListPosts(ctx, time.Now(), 1, demoPhotoPosts)
	if err != nil {
		return err
	}
	for i, p := range posts {
		id, err := a.demoPhoto(ctx, sys, 100+i)
		if err != nil {
			return err
		}
		if _, err := w.AttachToPost(ctx, admin, p.Slug, id); err != nil {
			return err
		}
		n++
	}
	// An owner of an unverified salon, with a pending verification request
	// for the dashboard's approve flow.
	unverified, _, err := a.st.ListSalons(ctx, store.SalonFilter{Sort: store.SortNewest, Page: 1, PerPage: 50})
	if err != nil {
		return err
	}
	for _, s := range unverified {
		if s.Verified {
			continue
		}
		var owner int64
		if err := a.st.DB().QueryRowContext(ctx, a.st.Rebind(`INSERT INTO users (phone, role, created_at) VALUES (?, 'owner', ?)
			ON CONFLICT (phone) DO UPDATE SET role = 'owner' RETURNING id`), demoOwnerPhone, time.Now().UTC()).Scan(&owner); err != nil {
			return fmt.Errorf("demo owner: %w", err)
		}
		if _, err := a.st.DB().ExecContext(ctx, a.st.Rebind(`UPDATE salons SET owner_id = ? WHERE id = ?`), owner, s.ID); err != nil {
			return fmt.Errorf("demo owner: %w", err)
		}
		v, err := w.RequestVerification(ctx, site.Actor{UserID: owner}, s.Slug)
		if err != nil {
			return err
		}
		a.log.Info("demo verification request pending", "id", v.ID, "salon", s.Slug, "owner_phone", demoOwnerPhone)
		break
	}
	a.log.Info("demo photos uploaded", "photos", n)
	return nil
}

// demoPhoto uploads one generated 960×720 gradient as the system user.
func (a *App) demoPhoto(ctx context.Context, user int64, i int) (int64, error) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, gradient(960, 720, i)); err != nil {
		return 0, err
	}
	acc, err := a.mods.media.Accept(ctx, media.Owner{Type: "user", ID: user}, &buf)
	if err != nil {
		return 0, fmt.Errorf("demo photo %d: %w", i, err)
	}
	return acc.ID, nil
}

// gradient draws a soft two-colour diagonal gradient with a light disc,
// its hues chosen by i.
func gradient(w, h, i int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	hue := float64(i*47%360) / 360
	c1, c2 := hsl(hue, 0.55, 0.55), hsl(math.Mod(hue+0.12, 1), 0.6, 0.3)
	cx, cy, r := float64(w)*(0.3+0.4*float64(i%3)/2), float64(h)*0.4, float64(h)*0.28
	for y := range h {
		for x := range w {
			t := (float64(x)/float64(w) + float64(y)/float64(h)) / 2
			px := mix(c1, c2, t)
			if d := math.Hypot(float64(x)-cx, float64(y)-cy); d < r {
				px = mix(px, color.RGBA{255, 250, 240, 255}, 0.35*(1-d/r))
			}
			img.SetRGBA(x, y, px)
		}
	}
	return img
}

func mix(a, b color.RGBA, t float64) color.RGBA {
	l := func(x, y uint8) uint8 { return uint8(float64(x)*(1-t) + float64(y)*t) }
	return color.RGBA{l(a.R, b.R), l(a.G, b.G), l(a.B, b.B), 255}
}

func hsl(h, s, l float64) color.RGBA {
	f := func(n float64) uint8 {
		k := math.Mod(n+h*12, 12)
		a := s * math.Min(l, 1-l)
		return uint8(255 * (l - a*math.Max(-1, math.Min(math.Min(k-3, 9-k), 1))))
	}
	return color.RGBA{f(0), f(8), f(4), 255}
}
