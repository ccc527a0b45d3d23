package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Check is one readiness probe run by /readyz. Run returns nil when the
// dependency is ready; it gets a context bounded by CheckTimeout.
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}

// CheckTimeout bounds each readiness check.
const CheckTimeout = 2 * time.Second

func healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// readyz runs every check concurrently and answers 200 when all pass, 503
// otherwise, listing each check's result.
func readyz(log *slog.Logger, checks []Check) http.Handler {
	type result struct {
		Status string `json:"status"`
		Error  string `json:"error,omitempty"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), CheckTimeout)
		defer cancel()
		results := make([]result, len(checks))
		var wg sync.WaitGroup
		for i, c := range checks {
			wg.Go(func() {
				if err := c.Run(ctx); err != nil {
					results[i] = result{Status: "fail", Error: err.Error()}
					return
				}
				results[i] = result{Status: "ok"}
			})
		}
		wg.Wait()
		status, body := http.StatusOK, map[string]any{}
		byName := map[string]result{}
		for i, c := range checks {
			byName[c.Name] = results[i]
			if results[i].Status != "ok" {
				status = http.StatusServiceUnavailable
				log.WarnContext(r.Context(), "readiness check failed", "check", c.Name, "err", results[i].Error)
			}
		}
		body["status"] = map[bool]string{true: "ok", false: "unavailable"}[status == http.StatusOK]
		body["checks"] = byName
		writeJSON(w, status, body)
	})
}
