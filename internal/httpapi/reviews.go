package httpapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/sevra/atlas/internal/review"
)

// ReviewCreator stores reviews; *review.Service implements it.
type ReviewCreator interface {
	Create(ctx context.Context, salonSlug string, userID int64, in review.Input) (review.Review, error)
}

// createReview is POST /api/v1/salons/{slug}/reviews {rating, body}.
func createReview(log *slog.Logger, d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		userID, err := actingUser(r, d.Users)
		if err != nil {
			if errors.Is(err, ErrUnauthorized) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="atlas"`)
			}
			writeError(w, r, log, err)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, review.MaxRequestBytes))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				writeError(w, r, log, badRequest("body_too_large", "request body is larger than 16 KiB"))
				return
			}
			writeError(w, r, log, badRequest("invalid_json", "request body could not be read"))
			return
		}
		in, err := review.ParseInput(body)
		if err != nil {
			var ie *review.InputError
			if errors.As(err, &ie) {
				err = badRequest(ie.Code, ie.Message)
			}
			writeError(w, r, log, err)
			return
		}
		rv, err := d.Reviews.Create(r.Context(), r.PathValue("slug"), userID, in)
		if errors.Is(err, review.ErrAlreadyReviewed) {
			err = &ConflictError{Code: "already_reviewed", Message: err.Error()}
		}
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusCreated, rv)
	})
}
