package jobqredis

import (
	"context"
	"slices"
	"strings"
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

// TestConformanceRESP3 runs the suite over RESP3: Open speaks RESP2
// unless the URL asks otherwise, but a client handed to New may speak
// RESP3, where replies differ (Lua false is a boolean, not nil).
func TestConformanceRESP3(t *testing.T) {
	u := testURL(t)
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	u += sep + "protocol=3"
	for url, want := range map[string]string{testURL(t): "resp=2", u: "resp=3"} {
		d := newTestDriverAt(t, url, "{jqt-"+randHex(6)+"}")
		info, err := d.client.Do(context.Background(), "CLIENT", "INFO").Text()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(strings.Fields(info), want) {
			t.Fatalf("%s: CLIENT INFO %q lacks %s", url, info, want)
		}
	}
	jobqtest.Exercise(t, func(t *testing.T) jobqdriver.Driver { return newTestDriverAt(t, u, "{jqt-"+randHex(6)+"}") })
}

// BenchmarkConformance runs the shared jobq benchmarks against Redis.
func BenchmarkConformance(b *testing.B) {
	testURL(b)
	jobqtest.Bench(b, func(tb testing.TB) jobqdriver.Driver { return newTestDriver(tb) })
}
