package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/sevra/atlas/internal/salon"
	"github.com/sevra/atlas/internal/seo"
	"github.com/sevra/atlas/internal/sitemap"
	"github.com/sevra/atlas/internal/store"
)

// SEOService is the SEO module; *seo.Service implements it.
type SEOService interface {
	RequestRebuild(ctx context.Context) (seo.RebuildResult, error)
	Publisher() *sitemap.Publisher
	BaseURL() sitemap.BaseURL
}

// SalonWriter approves verifications and edits salons; *salon.Service
// implements it.
type SalonWriter interface {
	Approve(ctx context.Context, id, reviewerID int64) (salon.Approval, error)
	Update(ctx context.Context, slug string, p salon.Patch) (store.Salon, error)
}

// PostSlugs resolves old post slugs; *seo.Redirects implements it.
type PostSlugs interface {
	ResolvePostSlug(ctx context.Context, slug string) (string, bool, error)
}

// SEODeps wires the SEO routes; nil Deps.SEO leaves them out.
type SEODeps struct {
	Service SEOService
	// Caches receives this process's salon cache, so the service's
	// invalidations reach it.
	Caches *seo.CacheHub
	// Posts, when set, makes GET /api/v1/posts/{old} answer 301.
	Posts PostSlugs
	// Salons, when set, serves verification approval and PATCH salon.
	Salons SalonWriter
}

// addSEORoutes adds the sitemap, robots.txt and SEO admin routes.
func addSEORoutes(mux *http.ServeMux, d Deps) {
	if d.SEO == nil || d.SEO.Service == nil {
		return
	}
	svc := d.SEO.Service
	files := sitemap.Handler(sitemap.HandlerConfig{Publisher: svc.Publisher(), BaseURL: svc.BaseURL(), Logger: d.Logger,
		Robots: []string{"Disallow: /api/", "Disallow: /admin/"}})
	mux.Handle("GET /sitemap.xml", files)
	mux.Handle("GET /sitemaps/{file}", files)
	mux.Handle("GET /robots.txt", files)
	mux.Handle("POST /api/v1/admin/sitemap/rebuild", requireAdmin(d.Logger, longDeadline(d.LongTimeout, rebuildSitemap(d.Logger, svc))))
	if w := d.SEO.Salons; w != nil {
		mux.Handle("POST /api/v1/admin/verifications/{id}/approve", requireAdmin(d.Logger, approveVerification(d.Logger, d, w)))
		mux.Handle("PATCH /api/v1/salons/{slug}", requireAdmin(d.Logger, patchSalon(d.Logger, w)))
	}
}

// seoError maps the SEO and salon modules' errors onto the API's.
func seoError(err error) error {
	var ie *salon.InputError
	switch {
	case errors.As(err, &ie):
		return badRequest(ie.Code, ie.Message)
	case errors.Is(err, sitemap.ErrRebuildRunning):
		return &ConflictError{Code: "rebuild_running", Message: "a sitemap rebuild is already running"}
	case errors.Is(err, salon.ErrAlreadyApproved):
		return &ConflictError{Code: "already_approved", Message: "the verification is already approved"}
	case errors.Is(err, salon.ErrAlreadyDecided):
		return &ConflictError{Code: "already_decided", Message: "the verification was already decided"}
	case errors.Is(err, salon.ErrSlugTaken):
		return &ConflictError{Code: "slug_taken", Message: "another salon has that slug"}
	}
	return err
}

// rebuildSitemap is POST /api/v1/admin/sitemap/rebuild: 202 {job_id} when
// the rebuild is enqueued (async), 200 with the stats when it ran in the
// request (sync; shadow also returns the shadow job's id).
func rebuildSitemap(log *slog.Logger, svc SEOService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := svc.RequestRebuild(r.Context())
		if err != nil {
			writeError(w, r, log, seoError(err))
			return
		}
		status := http.StatusAccepted
		if res.Stats != nil {
			status = http.StatusOK
		}
		writeJSON(w, status, res)
	})
}

// approveVerification is POST /api/v1/admin/verifications/{id}/approve.
func approveVerification(log *slog.Logger, d Deps, svc SalonWriter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil || id <= 0 {
			writeError(w, r, log, badRequest("invalid_id", "verification id must be a positive integer"))
			return
		}
		reviewer, err := actingUser(r, d.Users)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		a, err := svc.Approve(r.Context(), id, reviewer)
		if err != nil {
			writeError(w, r, log, seoError(err))
			return
		}
		writeJSON(w, http.StatusOK, a)
	})
}

// patchSalon is PATCH /api/v1/salons/{slug} {name?, slug?, verified?}.
func patchSalon(log *slog.Logger, svc SalonWriter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slug, err := slugParam(r)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		body, err := readJSON(w, r, salon.MaxPatchBytes)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		p, err := salon.ParsePatch(body)
		if err != nil {
			writeError(w, r, log, seoError(err))
			return
		}
		s, err := svc.Update(r.Context(), slug, p)
		if err != nil {
			writeError(w, r, log, seoError(err))
			return
		}
		writeJSON(w, http.StatusOK, s)
	})
}

// postSlugs returns the post slug resolver, or nil.
func (d Deps) postSlugs() PostSlugs {
	if d.SEO == nil {
		return nil
	}
	return d.SEO.Posts
}
