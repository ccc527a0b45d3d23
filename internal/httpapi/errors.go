package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/sevra/atlas/internal/store"
)

// Sentinel errors handlers return; writeError maps them to statuses.
var (
	ErrUnauthorized = errors.New("authentication required")
	ErrForbidden    = errors.New("forbidden")
	// ErrShutdown is the cause with which the server cancels the
	// requests still running when its shutdown drain runs out of time:
	// they answer 503 shutting_down, are logged as cut (not as failures)
	// and counted by atlas_http_shutdown_cut_total.
	ErrShutdown = errors.New("server shutting down")
)

// RequestError is a client mistake (400) with a machine-readable code.
type RequestError struct {
	Code    string // e.g. "invalid_page"
	Message string
}

// Error returns the message shown to the client.
func (e *RequestError) Error() string { return e.Message }

// ConflictError is a request that conflicts with the resource's state
// (409), such as approving an approved verification.
type ConflictError struct {
	Code    string // e.g. "already_approved"
	Message string
}

// Error returns the message shown to the client.
func (e *ConflictError) Error() string { return e.Message }

// badRequest returns a *RequestError.
func badRequest(code, msg string) error { return &RequestError{Code: code, Message: msg} }

// errorBody is the JSON shape of every error: {"error":{"code","message"}}.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// statusOf is the one place that maps an error to an HTTP status, a code
// and a message safe to show to the client.
func statusOf(err error) (int, string, string) {
	if status, code, msg, ok := mediaStatusOf(err); ok {
		return status, code, msg
	}
	var re *RequestError
	var ce *ConflictError
	var se *statusError
	switch {
	case errors.Is(err, ErrShutdown):
		return http.StatusServiceUnavailable, "shutting_down", "the server is shutting down; retry"
	case errors.As(err, &se):
		return se.status, se.code, se.msg
	case errors.As(err, &re):
		return http.StatusBadRequest, re.Code, re.Message
	case errors.As(err, &ce):
		return http.StatusConflict, ce.Code, ce.Message
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, "not_found", "not found"
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized, "unauthorized", "authentication required"
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden, "forbidden", "forbidden"
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "timeout", "the request took too long"
	case errors.Is(err, context.Canceled):
		return 499, "canceled", "the request was canceled" // nginx's "client closed request"
	default:
		return http.StatusInternalServerError, "internal", "internal error"
	}
}

// writeError sends err as JSON with the status statusOf gives it, logging
// server-side failures.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	if cutByShutdown(r) {
		err = fmt.Errorf("%w: %w", ErrShutdown, err)
	}
	status, code, msg := statusOf(err)
	if errors.Is(err, ErrShutdown) {
		log.WarnContext(r.Context(), "request cut by shutdown", "method", r.Method, "path", r.URL.Path, "err", err)
	} else if status >= 500 {
		log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	var body errorBody
	body.Error.Code, body.Error.Message = code, msg
	writeJSON(w, status, body)
}

// cutByShutdown reports whether r's context was cancelled by the server's
// shutdown running out of time.
func cutByShutdown(r *http.Request) bool {
	return errors.Is(context.Cause(r.Context()), ErrShutdown)
}

// writeJSON sends v as JSON with status. HTML-significant characters are
// not escaped, so Persian and '&' read naturally.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v) // the status is sent; a write error here means the client left
}
