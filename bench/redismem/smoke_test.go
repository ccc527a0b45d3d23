package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestSmoke runs both parts small (a 2,000-job day in 5 s) against a
// private redis-server and checks the harness measured what it says. It
// runs with the Redis-backed tests (ATLAS_TEST_REDIS_URL set), as it needs
// the redis-server binary they imply.
func TestSmoke(t *testing.T) {
	if os.Getenv("ATLAS_TEST_REDIS_URL") == "" {
		if os.Getenv("ATLAS_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("ATLAS_TEST_REDIS_URL is not set but ATLAS_TEST_REQUIRE_SERVICES=1")
		}
		t.Skip("set ATLAS_TEST_REDIS_URL to run the Redis memory harness (it starts its own redis-server)")
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server: %v", err)
	}
	cfg := config{Jobs: 2000, Day: 5 * time.Second, StateJobs: 100, Server: bin, Seed: 1}
	rep, err := run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.states) != 4*5 {
		t.Fatalf("%d state rows, want 20", len(rep.states))
	}
	for _, s := range rep.states {
		// A job hash with its payload, options and index entry cannot be
		// smaller than ~300 bytes nor, for these payloads, 10 KB.
		if b := s.PerJob(); b < 300 || b > 10_000 {
			t.Errorf("%s %s: %.0f bytes per job", s.Queue, s.State, b)
		}
		if s.Keys.EventsLen < int64(2*s.N) {
			t.Errorf("%s %s: %d events for %d jobs (each is at least added and waiting/delayed)", s.Queue, s.State, s.Keys.EventsLen, s.N)
		}
	}
	d := rep.day
	total := 0
	for _, n := range d.PerQueue {
		total += n
	}
	if total != 2000 || d.Jobs != 2000 {
		t.Fatalf("day added %d jobs (%v), want 2000", total, d.PerQueue)
	}
	// Analytics adds may be deduplicated away; nothing else is lost.
	if d.Finished > 2000 || d.Finished < 2000-int64(d.PerQueue["analytics"])/20 {
		t.Errorf("%d jobs finished of 2000", d.Finished)
	}
	if d.Peak.Used <= d.Baseline {
		t.Errorf("peak used_memory %d not above the baseline %d", d.Peak.Used, d.Baseline)
	}
	for q, n := range d.Completed {
		// Completed jobs older than an hour of the compressed day are
		// removed: far fewer are left than the queue ran.
		if n >= int64(d.PerQueue[q]) {
			t.Errorf("%s keeps %d completed of %d added: retention by age did not run", q, n, d.PerQueue[q])
		}
	}
	var out bytes.Buffer
	rep.print(&out)
	for _, want := range []string{"## Bytes per job by queue and state", "peak used_memory", "steady state"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	t.Log("\n" + out.String())
}
