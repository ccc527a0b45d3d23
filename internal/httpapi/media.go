package httpapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/sevra/atlas/internal/media"
	"github.com/sevra/atlas/internal/media/imaging"
)

// MediaService accepts uploads and describes media; *media.Service
// implements it.
type MediaService interface {
	Accept(ctx context.Context, owner media.Owner, part io.Reader) (media.Accepted, error)
	Get(ctx context.Context, id int64) (media.View, error)
	Limits() media.Limits
}

// multipartSlack is what a request may carry beyond the file itself:
// boundaries, part headers, small fields.
const multipartSlack = 64 << 10

// addMediaRoutes adds POST/GET /api/v1/media and, for local storage,
// /media/* (the stored files).
func addMediaRoutes(mux *http.ServeMux, d Deps) {
	if d.Media != nil {
		mux.Handle("POST /api/v1/media", longDeadline(d.LongTimeout, uploadMedia(d.Logger, d)))
		mux.Handle("GET /api/v1/media/{id}", getMedia(d.Logger, d.Media))
	}
	if d.MediaFiles != nil {
		mux.Handle("GET /media/", d.MediaFiles)
	}
}

// uploadMedia is POST /api/v1/media with a multipart/form-data body whose
// "file" part is the image. The part is streamed to media.Service.Accept
// (never parsed into memory or onto disk by net/http). Answers: 202 {id,
// status:"processing"} (async), 201 with the ready view (sync, shadow),
// 400 no file part, 401, 413 too large, 415 not an accepted image, 422 too
// many pixels or corrupt.
func uploadMedia(log *slog.Logger, d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		userID, err := actingUser(r, d.Users)
		if err != nil {
			if errors.Is(err, ErrUnauthorized) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="atlas"`)
			}
			writeError(w, r, log, err)
			return
		}
		limit := d.Media.Limits().MaxBytes + multipartSlack
		if r.ContentLength > limit {
			writeError(w, r, log, media.ErrTooLarge) // refused before reading a byte
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		if mt, _, _ := splitMediaType(r.Header.Get("Content-Type")); mt != "multipart/form-data" {
			writeError(w, r, log, &statusError{status: http.StatusUnsupportedMediaType, code: "not_multipart",
				msg: "send the image as multipart/form-data with a \"file\" part"})
			return
		}
		mr, err := r.MultipartReader()
		if err != nil {
			writeError(w, r, log, badRequest("bad_multipart", "the multipart/form-data header has no usable boundary"))
			return
		}
		for {
			part, err := mr.NextPart()
			if err != nil {
				if errors.Is(err, io.EOF) {
					err = badRequest("missing_file", "the request has no \"file\" part")
				} else if !isTooLarge(err) {
					err = badRequest("bad_multipart", "the multipart body could not be read")
				}
				writeError(w, r, log, err)
				return
			}
			if part.FormName() != "file" {
				part.Close() // skipped; its bytes count against the body limit
				continue
			}
			acc, err := d.Media.Accept(r.Context(), media.Owner{Type: "user", ID: userID}, part)
			part.Close()
			if err != nil {
				writeError(w, r, log, err)
				return
			}
			w.Header().Set("Location", "/api/v1/media/"+strconv.FormatInt(acc.ID, 10))
			if acc.Status == media.StatusProcessing {
				writeJSON(w, http.StatusAccepted, acc)
				return
			}
			v, err := d.Media.Get(r.Context(), acc.ID)
			if err != nil {
				writeError(w, r, log, err)
				return
			}
			writeJSON(w, http.StatusCreated, v)
			return
		}
	})
}

// getMedia is GET /api/v1/media/{id}: status, variants with their URLs,
// the placeholder, or the failure reason.
func getMedia(log *slog.Logger, m MediaService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil || id <= 0 {
			writeError(w, r, log, media.ErrNotFound)
			return
		}
		v, err := m.Get(r.Context(), id)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
}

// isTooLarge reports a body over its limit, however it surfaced.
func isTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe) || errors.Is(err, media.ErrTooLarge) ||
		(err != nil && strings.Contains(err.Error(), "http: request body too large"))
}

// mediaStatusOf maps the media errors for statusOf. Messages are fixed
// (the pixel limit's own message aside): engine errors may name files.
func mediaStatusOf(err error) (int, string, string, bool) {
	var pl *imaging.PixelLimitError
	switch {
	case isTooLarge(err):
		return http.StatusRequestEntityTooLarge, "too_large", "the upload is larger than allowed", true
	case errors.Is(err, media.ErrUnsupportedFormat):
		return http.StatusUnsupportedMediaType, "unsupported_media_type",
			"the file is not an accepted image (JPEG, PNG, WebP or GIF; AVIF and HEIC with libvips), judged by its content", true
	case errors.Is(err, media.ErrTooManyPixels):
		msg := "the image has too many pixels"
		if errors.As(err, &pl) {
			msg = pl.Error()
		}
		return http.StatusUnprocessableEntity, "too_many_pixels", msg, true
	case errors.Is(err, media.ErrCorrupt):
		return http.StatusUnprocessableEntity, "corrupt_image", "the image is truncated or malformed", true
	case errors.Is(err, media.ErrNotFound):
		return http.StatusNotFound, "not_found", "not found", true
	case errors.Is(err, media.ErrIncomplete):
		return http.StatusBadRequest, "bad_multipart", "the multipart body could not be read to its end", true
	}
	return 0, "", "", false
}
