package dashboard

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/sevra/atlas/internal/httpapi"
	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/jobq"
)

// TestOverviewRedisHealth checks the backend section of the overview on
// Redis: the version and settings of the backend's health report.
func TestOverviewRedisHealth(t *testing.T) {
	t.Parallel()
	url := os.Getenv("ATLAS_TEST_REDIS_URL")
	if url == "" {
		if os.Getenv("ATLAS_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("ATLAS_TEST_REDIS_URL is required")
		}
		t.Skip("set ATLAS_TEST_REDIS_URL to run Redis-backed tests")
	}
	ctx := context.Background()
	var r [4]byte
	_, _ = rand.Read(r[:])
	b, err := queues.OpenBackend(ctx, queues.BackendConfig{RedisURL: url, RedisPrefix: "{atlas-dash-test-" + hex.EncodeToString(r[:]) + "}"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	h, ok, err := jobq.Health(ctx, b.Driver)
	if !ok || err != nil {
		t.Fatalf("health: supported %v, err %v", ok, err)
	}
	s, err := New(Config{Backend: b, AdminToken: testToken})
	if err != nil {
		t.Fatal(err)
	}
	handler, err := httpapi.NewHandler(httpapi.Deps{Dashboard: s, AdminToken: testToken})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{backend: b, server: s, handler: handler}
	res, body := f.do(t, request{path: "/admin/jobs", bearer: testToken})
	if res.StatusCode != 200 {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
	or := func(v string) string {
		if v == "" {
			return "unknown"
		}
		return v
	}
	mustContain(t, "overview", body, "<dd>redis</dd>",
		"<dt>Redis version</dt><dd>"+h.Version+"</dd>",
		"<dt>maxmemory-policy</dt><dd>"+or(h.Settings["maxmemory-policy"])+"</dd>",
		"<dt>appendonly</dt><dd>"+or(h.Settings["appendonly"])+"</dd>")
	for _, w := range h.Warnings {
		mustContain(t, "overview", body, `<p class="alert">`+w+"</p>")
	}
}
