package httpapi

import (
	"net/http"

	"github.com/sevra/atlas/internal/tracing"
)

// maxRequestIDLen bounds an accepted X-Request-ID.
const maxRequestIDLen = 128

// traceRequests gives every request a W3C trace context: the caller's
// traceparent (continued with a new span id), else one derived from its
// X-Request-ID, else a fresh one. It is echoed in the traceparent and
// X-Request-ID response headers and carried in the request context, from
// where the logger, the outbox and the jobs pick it up.
func traceRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqID := r.Header.Get("X-Request-ID")
		if len(reqID) > maxRequestIDLen || !printable(reqID) {
			reqID = ""
		}
		var tc tracing.Context
		if p, err := tracing.Parse(r.Header.Get("traceparent")); err == nil {
			tc = p.Child()
			tc.RequestID = reqID
		} else if reqID != "" {
			tc = tracing.FromRequestID(reqID)
		} else {
			tc = tracing.New()
		}
		if reqID == "" {
			reqID = tc.TraceIDString()
		}
		w.Header().Set("traceparent", tc.String())
		w.Header().Set("X-Request-ID", reqID)
		next.ServeHTTP(w, r.WithContext(tracing.With(r.Context(), tc)))
	})
}

// printable reports whether s is visible ASCII.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
