package jobqtest

import (
	"testing"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// Exercise runs the conformance suite against a backend. newBackend must
// return a fresh backend, isolated from every other one it returned (its
// own database file, or its own key prefix), and register its Close with
// t.Cleanup; the suite closes its workers before that cleanup runs.
// Groups run one after another, each named after the behaviour it checks;
// the sub-tests of a group run in parallel.
func Exercise(t *testing.T, newBackend func(t *testing.T) jobqdriver.Driver) {
	groups := []struct {
		name string
		run  func(*testing.T, newBackendFunc)
	}{
		{"Backend", backendTests},
		{"Queue", queueTests},
		{"JobOptions", optionTests},
		{"Worker", workerTests},
		{"Flows", flowTests},
		{"JobSchedulers", schedulerTests},
		{"Events", eventTests},
		{"Metrics", metricsTests},
		{"Operator", operatorTests},
		{"Ordering", orderingTests},
		{"Accuracy", accuracyTests},
		{"Load", loadTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) { g.run(t, newBackend) })
	}
}
