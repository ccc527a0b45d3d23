package jobqredis

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sevra/atlas/jobq/jobqdriver"
	"github.com/sevra/atlas/jobq/jobqtest"
)

// scriptCalls reads INFO commandstats of c: calls of FCALL and of
// EVALSHA plus EVAL.
func scriptCalls(t testing.TB, c *redis.Client) (fcall, eval int) {
	t.Helper()
	st := commandStats(t, c)
	return st["fcall"].calls, st["evalsha"].calls + st["eval"].calls
}

type cmdStat struct {
	calls int
	usec  int64
}

func commandStats(t testing.TB, c *redis.Client) map[string]cmdStat {
	t.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]cmdStat{}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		var s cmdStat
		for _, kv := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "calls":
				s.calls, _ = strconv.Atoi(v)
			case "usec":
				s.usec, _ = strconv.ParseInt(v, 10, 64)
			}
		}
		out[strings.TrimPrefix(name, "cmdstat_")] = s
	}
	return out
}

// roundTrip adds, fetches and completes n jobs on queue q through d, the
// paths every operation takes: Add goes through the add batcher's
// pipeline (runPiped), Fetch and Finish through run.
func roundTrip(t testing.TB, d *Driver, q string, n int) {
	t.Helper()
	ctx := context.Background()
	jobs := make([]*jobqdriver.Job, n)
	for i := range jobs {
		jobs[i] = &jobqdriver.Job{Name: "n", Data: []byte(`{"i":1}`)}
	}
	if _, err := d.Add(ctx, q, jobs, 1000); err != nil {
		t.Fatalf("Add: %v", err)
	}
	toks := make([]string, n)
	for i := range toks {
		toks[i] = "tok" + strconv.Itoa(i)
	}
	r, err := d.Fetch(ctx, jobqdriver.FetchParams{Queue: q, WorkerName: "w", Tokens: toks, LockDuration: 30000, Now: 1001})
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if len(r.Jobs) != n {
		t.Fatalf("fetched %d jobs, want %d", len(r.Jobs), n)
	}
	items := make([]jobqdriver.FinishParams, n)
	for i, j := range r.Jobs {
		items[i] = jobqdriver.FinishParams{Queue: q, ID: j.ID, Token: j.Token, ReturnValue: []byte(`1`),
			Keep: &jobqdriver.Keep{Count: 0}, Now: 1002, Plain: true}
	}
	errs, _, err := d.Finish(ctx, items, nil)
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	for i, e := range errs {
		if e != nil {
			t.Fatalf("Finish job %d: %v", i, e)
		}
	}
}

func TestFunctionsLoadedAndReloaded(t *testing.T) {
	needBinaries(t, "redis-server")
	p := startRedisProc(t, "", false, "--save", "", "--appendonly", "no")
	admin := redis.NewClient(&redis.Options{Addr: p.addr()})
	defer admin.Close()
	d := newTestDriverAt(t, p.url(), "bull")
	ctx := context.Background()

	roundTrip(t, d, "q", 3)
	fc, ev := scriptCalls(t, admin)
	if fc < 3 || ev != 0 {
		t.Fatalf("after a round trip: %d FCALL, %d EVAL/EVALSHA; want ≥ 3 FCALL and no EVAL", fc, ev)
	}
	libs, err := admin.FunctionList(ctx, redis.FunctionListQuery{LibraryNamePattern: "jobq_*"}).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(libs) != 1 || libs[0].Name != d.scripts.libName {
		t.Fatalf("libraries %v, want just %s", libs, d.scripts.libName)
	}
	if got := len(libs[0].Functions); got != len(scriptNames) {
		t.Fatalf("library has %d functions, want %d", got, len(scriptNames))
	}
	// A restart without persistence or a FUNCTION FLUSH drops the library:
	// both paths (pipelined add, single fetch) load it again.
	for _, first := range []string{"add", "fetch"} {
		if err := admin.FunctionFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if first == "fetch" {
			if _, err := d.Fetch(ctx, jobqdriver.FetchParams{Queue: "q", WorkerName: "w", Tokens: []string{"t"}, LockDuration: 1000, Now: 2000}); err != nil {
				t.Fatalf("fetch after FUNCTION FLUSH: %v", err)
			}
		}
		roundTrip(t, d, "q", 2)
		if n, err := admin.FunctionList(ctx, redis.FunctionListQuery{LibraryNamePattern: d.scripts.libName}).Result(); err != nil || len(n) != 1 {
			t.Fatalf("after FUNCTION FLUSH and a %s: library listed %d times (err %v), want once", first, len(n), err)
		}
	}
	if _, ev := scriptCalls(t, admin); ev != 0 {
		t.Fatalf("%d EVAL/EVALSHA calls, want none while functions work", ev)
	}
	// Two drivers of one version share the library.
	d2 := newTestDriverAt(t, p.url(), "bull")
	roundTrip(t, d2, "q2", 1)
	if libs, _ := admin.FunctionList(ctx, redis.FunctionListQuery{LibraryNamePattern: "jobq_*"}).Result(); len(libs) != 1 {
		t.Fatalf("%d libraries after a second driver, want 1", len(libs))
	}
}

func TestFunctionsFallBackToScripts(t *testing.T) {
	needBinaries(t, "redis-server")
	cases := []struct {
		name  string
		extra []string // redis-server arguments
		acl   string   // rules of the user the driver logs in as; "" = default user
	}{
		{name: "no FCALL command (as Redis 6)", extra: []string{"--rename-command", "FCALL", ""}},
		{name: "ACL denies FCALL", acl: "-fcall"},
		{name: "ACL denies FUNCTION LOAD", acl: "-function|load"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := startRedisProc(t, "", false, append([]string{"--save", "", "--appendonly", "no"}, tc.extra...)...)
			admin := redis.NewClient(&redis.Options{Addr: p.addr()})
			defer admin.Close()
			url := p.url()
			if tc.acl != "" {
				if err := admin.Do(context.Background(), "ACL", "SETUSER", "jobq", "on", ">pw", "~*", "&*", "+@all", tc.acl).Err(); err != nil {
					t.Fatal(err)
				}
				url = fmt.Sprintf("redis://jobq:pw@%s/0", p.addr())
			}
			// the first call through each path: run (Fetch), runPiped (Add)
			for _, first := range []string{"fetch", "add"} {
				d := newTestDriverAt(t, url, "bull")
				if first == "fetch" {
					if _, err := d.Fetch(context.Background(), jobqdriver.FetchParams{Queue: "q" + first, WorkerName: "w", Tokens: []string{"t"}, LockDuration: 1000, Now: 2000}); err != nil {
						t.Fatalf("first call (fetch): %v", err)
					}
				}
				roundTrip(t, d, "q"+first, 3)
				if !d.noFunctions.Load() {
					t.Fatalf("first call %s: driver still on functions", first)
				}
			}
			_, ev := scriptCalls(t, admin)
			if ev < 6 {
				t.Fatalf("%d EVAL/EVALSHA calls, want the round trips run as scripts", ev)
			}
		})
	}
}

func TestNoFunctionsConfig(t *testing.T) {
	needBinaries(t, "redis-server")
	p := startRedisProc(t, "", false, "--save", "", "--appendonly", "no")
	admin := redis.NewClient(&redis.Options{Addr: p.addr()})
	defer admin.Close()
	d, err := Open(context.Background(), p.url(), &Config{NoFunctions: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	roundTrip(t, d, "q", 3)
	fc, ev := scriptCalls(t, admin)
	if fc != 0 || ev < 3 {
		t.Fatalf("NoFunctions: %d FCALL, %d EVAL/EVALSHA; want none and ≥ 3", fc, ev)
	}
	if libs, _ := admin.FunctionList(context.Background(), redis.FunctionListQuery{}).Result(); len(libs) != 0 {
		t.Fatalf("NoFunctions loaded libraries: %v", libs)
	}
}

// TestConformanceEval runs the conformance suite with operations as EVAL
// scripts (the form Redis 6, Cluster and Config.NoFunctions use); the
// other conformance runs use the function library.
func TestConformanceEval(t *testing.T) {
	u := testURL(t)
	jobqtest.Exercise(t, func(t *testing.T) jobqdriver.Driver {
		return newTestDriverCfg(t, u, &Config{Prefix: "{jqt-" + randHex(6) + "}", NoFunctions: true})
	})
}

// BenchmarkCallCost measures the Redis time of a worker's cycle at low
// concurrency (add 3 jobs, fetch them, complete them) as EVAL scripts and
// as functions, on a private redis-server without persistence:
// redis-usec/op is INFO commandstats usec of the script calls per cycle.
func BenchmarkCallCost(b *testing.B) {
	testURL(b)
	for _, mode := range []string{"eval", "function"} {
		b.Run(mode, func(b *testing.B) {
			needBinaries(b, "redis-server")
			p := startRedisProc(b, "", false, "--save", "", "--appendonly", "no")
			admin := redis.NewClient(&redis.Options{Addr: p.addr()})
			defer admin.Close()
			d, err := Open(context.Background(), p.url(), &Config{NoFunctions: mode == "eval"})
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			roundTrip(b, d, "q", 3) // loads the script or library
			if err := admin.ConfigResetStat(context.Background()).Err(); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				roundTrip(b, d, "q", 3)
			}
			b.StopTimer()
			st := commandStats(b, admin)
			us := st["fcall"].usec + st["evalsha"].usec + st["eval"].usec
			b.ReportMetric(float64(us)/float64(b.N), "redis-usec/op")
		})
	}
}
