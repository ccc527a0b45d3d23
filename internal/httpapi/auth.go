package httpapi

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/sevra/atlas/internal/auth"
)

// Users resolves who a request acts as; *store.Store implements it.
type Users interface {
	// SystemUserID is the user behind the admin token.
	SystemUserID(ctx context.Context) (int64, error)
}

// requireAdmin lets only admin identities (the admin token, or an admin's
// session) through to next; others get a JSON 401.
func requireAdmin(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, ok := auth.FromContext(r.Context()); !ok || !id.Admin {
			w.Header().Set("WWW-Authenticate", `Bearer realm="atlas"`)
			writeError(w, r, log, ErrUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// actingUser returns the id of the user r acts as: a session's user, or,
// for the admin token, the system user (users; nil: the admin token acts
// as nobody). ErrUnauthorized when r did not authenticate.
func actingUser(r *http.Request, users Users) (int64, error) {
	id, ok := auth.FromContext(r.Context())
	switch {
	case !ok:
		return 0, ErrUnauthorized
	case id.Kind == auth.KindUser:
		return id.UserID, nil
	case users == nil:
		return 0, ErrUnauthorized
	}
	return users.SystemUserID(r.Context())
}
