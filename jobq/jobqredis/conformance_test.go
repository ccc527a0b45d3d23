package jobqredis

import (
	"testing"

	"github.com/sevra/atlas/jobq/jobqdriver"
	"github.com/sevra/atlas/jobq/jobqtest"
)

// TestConformance runs the shared jobq conformance suite against Redis,
// each backend with its own hash-tagged prefix.
func TestConformance(t *testing.T) {
	testURL(t)
	jobqtest.Exercise(t, func(t *testing.T) jobqdriver.Driver { return newTestDriver(t) })
}

// BenchmarkConformance runs the shared jobq benchmarks against Redis.
func BenchmarkConformance(b *testing.B) {
	testURL(b)
	jobqtest.Bench(b, func(tb testing.TB) jobqdriver.Driver { return newTestDriver(tb) })
}
