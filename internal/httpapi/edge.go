package httpapi

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sevra/atlas/internal/slug"
	"github.com/sevra/atlas/internal/store"
)

// checkRequestText refuses, before any route runs, request text that no
// route accepts and that the databases treat differently (PostgreSQL
// refuses NUL and invalid UTF-8 in text with an error; SQLite stores
// them): a path with invalid UTF-8 or a control character cannot exist
// (404); a query string with one is a client mistake (400).
func checkRequestText(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !cleanText(r.URL.Path) {
			writeError(w, r, log, store.ErrNotFound)
			return
		}
		if r.URL.RawQuery != "" {
			q, err := url.ParseQuery(r.URL.RawQuery)
			if err != nil {
				writeError(w, r, log, badRequest("invalid_query", "the query string is malformed"))
				return
			}
			for k, vs := range q {
				for _, v := range append(vs, k) {
					if !cleanText(v) {
						writeError(w, r, log, badRequest("invalid_query", "the query string has invalid UTF-8 or a control character"))
						return
					}
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// cleanText reports whether s is valid UTF-8 without control characters.
func cleanText(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsControl) < 0
}

// slugParam returns the {slug} path value, or store.ErrNotFound (404)
// when it is not a slug (internal/slug): no such resource can exist.
func slugParam(r *http.Request) (string, error) {
	s := r.PathValue("slug")
	if !slug.Valid(s) {
		return "", store.ErrNotFound
	}
	return s, nil
}
