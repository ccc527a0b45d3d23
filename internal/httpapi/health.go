package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Check is one readiness probe run by /readyz. Run returns nil when the
// dependency is ready; it gets a context bounded by CheckTimeout.
type Check struct {
	Name string
	Run  func(ctx context.Context) error
	// Degradable marks a dependency the node can serve its role without
	// (Redis on an API node, whose writes go through the outbox): when it
	// fails, /readyz still answers 200 with status "degraded" and the
	// check listed as "degraded"; /readyz?strict=1 answers 503. A failing
	// check that is not Degradable always makes /readyz answer 503.
	Degradable bool
}

// CheckTimeout bounds each readiness check.
const CheckTimeout = 2 * time.Second

func healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// checkResult is one check's entry in the /readyz body.
type checkResult struct {
	Status string `json:"status"` // ok, degraded or fail
	Error  string `json:"error,omitempty"`
}

// runChecks runs every check concurrently, each bounded by CheckTimeout.
func runChecks(ctx context.Context, checks []Check) []error {
	ctx, cancel := context.WithTimeout(ctx, CheckTimeout)
	defer cancel()
	errs := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() { errs[i] = c.Run(ctx) })
	}
	wg.Wait()
	return errs
}

// readyz runs every check and answers 200 while every check that is not
// Degradable passes, 503 otherwise; with ?strict=1 (or true) any failing
// check answers 503. The body lists each check's result and the overall
// status: "ok", "degraded" (ready, with a degraded dependency) or
// "unavailable".
func readyz(log *slog.Logger, checks []Check) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		strict := r.URL.Query().Get("strict")
		isStrict := strict == "1" || strict == "true"
		errs := runChecks(r.Context(), checks)
		overall := "ok"
		byName := map[string]checkResult{}
		for i, c := range checks {
			err := errs[i]
			switch {
			case err == nil:
				byName[c.Name] = checkResult{Status: "ok"}
				continue
			case c.Degradable && !isStrict:
				byName[c.Name] = checkResult{Status: "degraded", Error: err.Error()}
				if overall == "ok" {
					overall = "degraded"
				}
			default:
				byName[c.Name] = checkResult{Status: "fail", Error: err.Error()}
				overall = "unavailable"
			}
			log.WarnContext(r.Context(), "readiness check failed", "check", c.Name, "degradable", c.Degradable, "err", err)
		}
		status := http.StatusOK
		if overall == "unavailable" {
			status = http.StatusServiceUnavailable
		}
		writeJSON(w, status, map[string]any{"status": overall, "checks": byName})
	})
}

// dependencyCollector exports atlas_dependency_up{dependency} (1 when the
// check passes, 0 when it fails), running the /readyz checks at each
// scrape.
type dependencyCollector struct {
	checks []Check
	desc   *prometheus.Desc
}

func newDependencyCollector(checks []Check) *dependencyCollector {
	return &dependencyCollector{checks: checks, desc: prometheus.NewDesc("atlas_dependency_up",
		"Whether a dependency of this node answers its readiness check (1) or not (0), checked at scrape time; "+
			"degradable marks those the node can serve without (see /readyz).",
		[]string{"dependency", "degradable"}, nil)}
}

func (c *dependencyCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *dependencyCollector) Collect(ch chan<- prometheus.Metric) {
	errs := runChecks(context.Background(), c.checks)
	for i, chk := range c.checks {
		up := 1.0
		if errs[i] != nil {
			up = 0
		}
		deg := "false"
		if chk.Degradable {
			deg = "true"
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, up, chk.Name, deg)
	}
}
