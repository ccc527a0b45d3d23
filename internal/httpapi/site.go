package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/sevra/atlas/internal/auth"
	"github.com/sevra/atlas/internal/site"
)

// Site is the public HTML pages' handlers; *site.Server implements it.
type Site interface {
	Home() http.Handler
	City() http.Handler
	Salon() http.Handler
	Posts() http.Handler
	Post() http.Handler
	Icon() http.Handler
	NotFound() http.Handler
}

// SiteWriter feeds the pages: photos attached to salons and posts,
// verification requests, salon removal; *site.Writer implements it.
type SiteWriter interface {
	AttachToSalon(ctx context.Context, a site.Actor, slug string, mediaID int64, role string) (site.Attachment, error)
	AttachToPost(ctx context.Context, a site.Actor, slug string, mediaID int64) (site.Attachment, error)
	RequestVerification(ctx context.Context, a site.Actor, slug string) (site.VerificationRequest, error)
	RemoveSalon(ctx context.Context, slug string) error
}

// addSiteRoutes mounts the HTML pages at the URLs the sitemap lists (and
// the HTML 404 for every other path), plus the JSON routes that feed them.
func addSiteRoutes(mux *http.ServeMux, d Deps) {
	if s := d.Site; s != nil {
		mux.Handle("GET /{$}", s.Home())
		mux.Handle("GET /cities/{slug}", s.City())
		mux.Handle("GET /salons/{slug}", s.Salon())
		mux.Handle("GET /posts", s.Posts())
		mux.Handle("GET /posts/{slug}", s.Post())
		mux.Handle("GET /favicon.svg", s.Icon())
		mux.Handle("/", s.NotFound())
	}
	if w := d.SiteWriter; w != nil {
		mux.Handle("POST /api/v1/salons/{slug}/media", attachMedia(d.Logger, d, w, false))
		mux.Handle("POST /api/v1/posts/{slug}/media", attachMedia(d.Logger, d, w, true))
		mux.Handle("POST /api/v1/salons/{slug}/verification-requests", requestVerification(d.Logger, d, w))
		mux.Handle("DELETE /api/v1/salons/{slug}", requireAdmin(d.Logger, removeSalon(d.Logger, w)))
	}
}

// actor is who r acts as, for the owner-or-admin routes.
func actor(r *http.Request, users Users) (site.Actor, error) {
	uid, err := actingUser(r, users)
	if err != nil {
		return site.Actor{}, err
	}
	id, _ := auth.FromContext(r.Context())
	return site.Actor{UserID: uid, Admin: id.Admin}, nil
}

// siteError maps the site writer's errors onto the API's.
func siteError(err error) error {
	var ie *site.InputError
	switch {
	case errors.As(err, &ie):
		return badRequest(ie.Code, ie.Message)
	case errors.Is(err, site.ErrForbidden):
		return ErrForbidden
	case errors.Is(err, site.ErrPending):
		return &ConflictError{Code: "already_pending", Message: err.Error()}
	}
	return err
}

// attachMedia is POST /api/v1/salons/{slug}/media {media_id, role:
// "gallery"|"cover"} and POST /api/v1/posts/{slug}/media {media_id} (a
// post's cover): the owner (or author) or an admin; 200 with the
// attachment.
func attachMedia(log *slog.Logger, d Deps, w SiteWriter, post bool) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		a, err := actor(r, d.Users)
		if err != nil {
			if errors.Is(err, ErrUnauthorized) {
				rw.Header().Set("WWW-Authenticate", `Bearer realm="atlas"`)
			}
			writeError(rw, r, log, err)
			return
		}
		var in struct {
			MediaID int64  `json:"media_id"`
			Role    string `json:"role"`
		}
		if err := decodeJSON(rw, r, 4096, &in); err != nil {
			writeError(rw, r, log, err)
			return
		}
		if in.MediaID <= 0 {
			writeError(rw, r, log, badRequest("invalid_json", `body must be {"media_id": <positive id>, "role": "gallery"|"cover"}`))
			return
		}
		slug, err := slugParam(r)
		if err != nil {
			writeError(rw, r, log, err)
			return
		}
		var at site.Attachment
		if post {
			if in.Role != "" && in.Role != "cover" {
				writeError(rw, r, log, badRequest("invalid_role", "a post's media is its cover"))
				return
			}
			at, err = w.AttachToPost(r.Context(), a, slug, in.MediaID)
		} else {
			if in.Role == "" {
				in.Role = "gallery"
			}
			at, err = w.AttachToSalon(r.Context(), a, slug, in.MediaID, in.Role)
		}
		if err != nil {
			writeError(rw, r, log, siteError(err))
			return
		}
		writeJSON(rw, http.StatusOK, at)
	})
}

// requestVerification is POST /api/v1/salons/{slug}/verification-requests:
// the salon's owner or an admin files one; 201, or 409 when one is
// pending.
func requestVerification(log *slog.Logger, d Deps, w SiteWriter) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		a, err := actor(r, d.Users)
		if err != nil {
			if errors.Is(err, ErrUnauthorized) {
				rw.Header().Set("WWW-Authenticate", `Bearer realm="atlas"`)
			}
			writeError(rw, r, log, err)
			return
		}
		slug, err := slugParam(r)
		if err != nil {
			writeError(rw, r, log, err)
			return
		}
		v, err := w.RequestVerification(r.Context(), a, slug)
		if err != nil {
			writeError(rw, r, log, siteError(err))
			return
		}
		writeJSON(rw, http.StatusCreated, v)
	})
}

// removeSalon is DELETE /api/v1/salons/{slug} (admin): 204; its page then
// answers 410 Gone.
func removeSalon(log *slog.Logger, w SiteWriter) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		slug, err := slugParam(r)
		if err != nil {
			writeError(rw, r, log, err)
			return
		}
		if err := w.RemoveSalon(r.Context(), slug); err != nil {
			writeError(rw, r, log, siteError(err))
			return
		}
		rw.WriteHeader(http.StatusNoContent)
	})
}
