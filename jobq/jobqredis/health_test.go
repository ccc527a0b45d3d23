package jobqredis

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sevra/atlas/jobq"
	"github.com/sevra/atlas/jobq/jobqdriver"
)

func hasWarning(h HealthReport, sub string) bool {
	for _, w := range h.Warnings {
		if strings.Contains(w, sub) {
			return true
		}
	}
	return false
}

// TestHealthSharedServer checks Health against ATLAS_TEST_REDIS_URL: its
// AOF warning must match the server's actual appendonly setting.
func TestHealthSharedServer(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	ctx := context.Background()
	h, err := d.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.Version == "" {
		t.Fatalf("no version: %+v", h)
	}
	aof, err := d.client.ConfigGet(ctx, "appendonly").Result()
	if err != nil {
		t.Skipf("CONFIG GET not allowed: %v", err)
	}
	if want := aof["appendonly"] == "no"; hasWarning(h, "AOF is off") != want {
		t.Fatalf("appendonly=%s but warnings %q", aof["appendonly"], h.Warnings)
	}
	if h.OK() != (len(h.Warnings) == 0) {
		t.Fatal("OK disagrees with Warnings")
	}
}

// TestHealth starts servers with known settings: without AOF it warns
// about AOF only; with AOF and an eviction policy it warns about eviction
// only.
func TestHealth(t *testing.T) {
	needBinaries(t, "redis-server")
	ctx := context.Background()
	cases := []struct {
		name             string
		args             []string
		wantAOF, wantEvi bool
		policy, aof      string
	}{
		{"NoAOF", []string{"--save", "", "--appendonly", "no"}, true, false, "noeviction", "no"},
		{"AOFWithEviction", []string{"--save", "", "--appendonly", "yes", "--maxmemory-policy", "allkeys-lru"}, false, true, "allkeys-lru", "yes"},
		{"Safe", []string{"--save", "", "--appendonly", "yes", "--maxmemory-policy", "noeviction"}, false, false, "noeviction", "yes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startRedisProc(t, "", false, tc.args...)
			d, err := Open(ctx, srv.url(), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			h, err := d.Health(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if h.Settings["appendonly"] != tc.aof || h.Settings["maxmemory-policy"] != tc.policy || !strings.HasPrefix(h.Version, "7.") && !strings.HasPrefix(h.Version, "8.") {
				t.Fatalf("report %+v", h)
			}
			if hasWarning(h, "AOF") != tc.wantAOF || hasWarning(h, "maxmemory-policy is") != tc.wantEvi {
				t.Fatalf("warnings %q (want AOF %v, eviction %v)", h.Warnings, tc.wantAOF, tc.wantEvi)
			}
			if h.OK() != (!tc.wantAOF && !tc.wantEvi) {
				t.Fatalf("OK = %v with %q", h.OK(), h.Warnings)
			}
		})
	}
}

// TestPing checks Ping on an open driver, through jobq.Ping, and on a
// closed one.
func TestPing(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	ctx := context.Background()
	if err := jobq.Ping(ctx, d); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Ping(ctx); !errors.Is(err, jobqdriver.ErrClosed) {
		t.Fatalf("ping after close = %v, want ErrClosed", err)
	}
}

func TestVersionBelow(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want bool
	}{{"6.0.9", true}, {"6.2.0", false}, {"7.0.15", false}, {"5.0.7", true}, {"garbage", false}, {"", false}} {
		if got := versionBelow(tc.v, 6, 2); got != tc.want {
			t.Errorf("versionBelow(%q) = %v", tc.v, got)
		}
	}
}
