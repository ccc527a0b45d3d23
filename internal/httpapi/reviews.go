package httpapi

import (
	"context"
	"errors"
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
		slug, err := slugParam(r)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		body, err := readJSON(w, r, review.MaxRequestBytes)
		if err != nil {
			writeError(w, r, log, err)
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
		rv, err := d.Reviews.Create(r.Context(), slug, userID, in)
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
