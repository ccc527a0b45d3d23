// Command views measures post views ingested per second through HTTP:
// `atlas run` (the built binary, in its own process) on SQLite and on
// PostgreSQL + Redis, in the async (write-behind) and sync (one UPDATE per
// view) modes, loaded by wrk (another process) with keep-alive
// connections over several post slugs. See README.md; run it with
// bench/views/run.sh.
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sevra/atlas/internal/store"
)

type options struct {
	atlas, wrk                string
	duration, warmup          time.Duration
	threads, conns, posts     int
	pgAdmin, redisURL         string
	backends, modes, logLevel string
	flushEvery                time.Duration
	healthz, keep, quietToo   bool
	jsonOut, work             string
}

// variant is one measured configuration.
type variant struct{ backend, mode, logLevel string }

// row is one measured run.
type row struct {
	Backend      string    `json:"backend"`
	Mode         string    `json:"mode"`
	LogLevel     string    `json:"logLevel"`
	Wrk          wrkResult `json:"wrk"`
	ViewsPerSec  float64   `json:"viewsPerSec"` // views counted by atlas during the run / wrk's duration
	Recorded     float64   `json:"recorded"`    // atlas_views_recorded_total during the run
	Dropped      float64   `json:"dropped"`     // atlas_views_dropped_total during the run
	AtlasCPU     float64   `json:"atlasCPUSeconds"`
	CPUusPerView float64   `json:"atlasCPUMicrosPerView"`
	Counted      int64     `json:"counted"`  // sum(posts.view_count) at the end
	Expected     float64   `json:"expected"` // every view atlas recorded (warm-up included)
	RowUpdates   int64     `json:"postRowUpdates"`
	Batches      int64     `json:"batches"`
	RedisTrips   float64   `json:"redisRoundTrips,omitempty"` // views buffer batcher, during the run
	RedisBatched float64   `json:"redisBatched,omitempty"`
	CacheHits    float64   `json:"cacheHits"`
	CacheMisses  float64   `json:"cacheMisses"`
	CacheBypass  float64   `json:"cacheBypass"` // reads that skipped Redis (error or timeout)
	LoadBefore   string    `json:"loadBefore"`
}

func main() {
	var o options
	flag.StringVar(&o.atlas, "atlas", "", "the atlas binary (run.sh builds it)")
	flag.StringVar(&o.wrk, "wrk", "/usr/bin/wrk", "the wrk binary")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measured load per run (whole seconds)")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load before each run (whole seconds)")
	flag.IntVar(&o.threads, "threads", 2, "wrk threads")
	flag.IntVar(&o.conns, "conns", 64, "wrk keep-alive connections")
	flag.IntVar(&o.posts, "posts", 10, "published posts, viewed in turn")
	flag.StringVar(&o.pgAdmin, "pg", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
		"PostgreSQL admin URL: a fresh database atlas_bench_views_<pid> is created per run and dropped (\"\" skips postgres)")
	flag.StringVar(&o.redisURL, "redis", "redis://127.0.0.1:6379/0", "Redis for the postgres backend (keys under a unique prefix, deleted)")
	flag.StringVar(&o.backends, "backends", "sqlite,postgres", "backends to run: sqlite, postgres (+ Redis)")
	flag.StringVar(&o.modes, "modes", "async,sync", "ATLAS_MODE_VIEWS values to run")
	flag.StringVar(&o.logLevel, "log-level", "info", "ATLAS_LOG_LEVEL of atlas (info logs every request, as in production)")
	flag.DurationVar(&o.flushEvery, "flush-every", 10*time.Second, "ATLAS_VIEWS_FLUSH_EVERY")
	flag.BoolVar(&o.healthz, "healthz", true, "also load GET /healthz (no database, no view) on SQLite: the HTTP ceiling")
	flag.BoolVar(&o.quietToo, "quiet-too", true, "also run async with ATLAS_LOG_LEVEL=warn (no request log) on each backend")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory and logs")
	flag.StringVar(&o.jsonOut, "json", "", "also write the rows as JSON to this file")
	flag.StringVar(&o.work, "work", "", "work directory (default: a new temporary one)")
	flag.Parse()
	if o.atlas == "" {
		log.Fatal("-atlas is required (bench/views/run.sh builds it)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, o options) error {
	if o.work == "" {
		d, err := os.MkdirTemp("", "atlas-bench-views-")
		if err != nil {
			return err
		}
		o.work = d
	}
	if !o.keep {
		defer os.RemoveAll(o.work)
	} else {
		fmt.Println("work directory:", o.work)
	}
	printMachine(o)
	var rows []row
	if o.healthz {
		r, err := measureHealthz(ctx, o)
		if err != nil {
			return fmt.Errorf("healthz: %w", err)
		}
		rows = append(rows, r)
		printRow(r)
	}
	for _, b := range strings.Split(o.backends, ",") {
		if b == "postgres" && o.pgAdmin == "" {
			continue
		}
		vs := []variant{}
		for _, m := range strings.Split(o.modes, ",") {
			vs = append(vs, variant{backend: b, mode: m, logLevel: o.logLevel})
		}
		if o.quietToo && o.logLevel != "warn" {
			vs = append(vs, variant{backend: b, mode: "async", logLevel: "warn"})
		}
		for _, v := range vs {
			r, err := measure(ctx, o, v)
			if err != nil {
				return fmt.Errorf("%s/%s: %w", v.backend, v.mode, err)
			}
			rows = append(rows, r)
			printRow(r)
		}
	}
	if o.jsonOut != "" {
		b, _ := json.MarshalIndent(rows, "", "  ")
		if err := os.WriteFile(o.jsonOut, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// printMachine prints what the figures depend on.
func printMachine(o options) {
	model := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				model = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	commit, _ := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	fmt.Printf("date %s, commit %s, %d CPUs (%s), %s, wrk -t%d -c%d -d%v (warm-up %v), %d posts, log level %s (-quiet-too %v), flush every %v\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), strings.TrimSpace(string(commit)), runtime.NumCPU(), model,
		runtime.Version(), o.threads, o.conns, o.duration, o.warmup, o.posts, o.logLevel, o.quietToo, o.flushEvery)
	fmt.Println("| backend | mode | log | views/s | wrk req/s | p50 ms | p99 ms | atlas CPU µs/view | wrk CPU s | non-2xx | dropped | counted / expected | post-row updates | views per row update | Redis views/round trip | cache hits / misses / bypasses | load before |")
	fmt.Println("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---|---|")
}

func printRow(r row) {
	perUpdate, trip, hit := "–", "–", "–"
	if r.RowUpdates > 0 {
		perUpdate = fmt.Sprintf("%.0f", r.Expected/float64(r.RowUpdates))
	}
	if r.RedisTrips > 0 {
		trip = fmt.Sprintf("%.1f", r.RedisBatched/r.RedisTrips)
	}
	if r.CacheHits+r.CacheMisses+r.CacheBypass > 0 {
		hit = fmt.Sprintf("%.0f / %.0f / %.0f", r.CacheHits, r.CacheMisses, r.CacheBypass)
	}
	counted := fmt.Sprintf("%d / %.0f", r.Counted, r.Expected)
	if r.Mode == "-" {
		counted = "–"
	}
	fmt.Printf("| %s | %s | %s | **%.0f** | %.0f | %.2f | %.2f | %.1f | %.1f | %d | %.0f | %s | %d | %s | %s | %s | %s |\n",
		r.Backend, r.Mode, r.LogLevel, r.ViewsPerSec, r.Wrk.ReqPerSec, r.Wrk.P50ms, r.Wrk.P99ms, r.CPUusPerView, r.Wrk.CPU,
		r.Wrk.Non2xx, r.Dropped, counted, r.RowUpdates, perUpdate, trip, hit, r.LoadBefore)
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func randHex() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// measureHealthz loads /healthz of an atlas on SQLite: the ceiling of the
// HTTP stack and wrk on this machine, with no database work and no view.
func measureHealthz(ctx context.Context, o options) (row, error) {
	dir := filepath.Join(o.work, "healthz")
	env := append(os.Environ(), "ATLAS_DATA_DIR="+dir, "ATLAS_LOG_LEVEL="+o.logLevel)
	p, err := startAtlas(ctx, o.atlas, env, filepath.Join(o.work, "healthz.log"))
	if err != nil {
		return row{}, err
	}
	defer p.stop()
	script, err := writeScript(o.work, "healthz", []string{"/healthz"})
	if err != nil {
		return row{}, err
	}
	if _, err := runWrk(ctx, o.wrk, o.threads, o.conns, o.warmup, script, p.base); err != nil {
		return row{}, err
	}
	r := row{Backend: "sqlite", Mode: "-", LogLevel: o.logLevel, LoadBefore: loadavg()}
	cpu0, _ := p.cpuSeconds()
	if r.Wrk, err = runWrk(ctx, o.wrk, o.threads, o.conns, o.duration, script, p.base); err != nil {
		return r, err
	}
	cpu1, _ := p.cpuSeconds()
	r.Backend = "GET /healthz (sqlite)"
	r.ViewsPerSec = r.Wrk.ReqPerSec // requests, not views
	r.AtlasCPU = cpu1 - cpu0
	r.CPUusPerView = r.AtlasCPU / float64(max(r.Wrk.Requests, 1)) * 1e6
	return r, nil
}

// measure runs one variant: a fresh database (and Redis prefix), posts
// inserted with SQL, atlas started, a warm-up, the measured wrk run, then
// the views applied (sync at once; async by the scheduled flush) and
// counted in the database.
func measure(ctx context.Context, o options, v variant) (row, error) {
	r := row{Backend: v.backend, Mode: v.mode, LogLevel: v.logLevel}
	name := v.backend + "-" + v.mode + "-" + v.logLevel
	dir := filepath.Join(o.work, name)
	env := append(os.Environ(), "ATLAS_DATA_DIR="+dir, "ATLAS_LOG_LEVEL="+v.logLevel, "ATLAS_MODE_VIEWS="+v.mode,
		"ATLAS_VIEWS_FLUSH_EVERY="+o.flushEvery.String())
	dbURL := ""
	if v.backend == "postgres" {
		r.Backend = "postgres+redis"
		u, drop, err := createDatabase(ctx, o.pgAdmin, fmt.Sprintf("atlas_bench_views_%d", os.Getpid()))
		if err != nil {
			return r, err
		}
		defer drop()
		prefix := "atlasbenchviews" + randHex()
		defer deletePrefix(o.redisURL, prefix)
		dbURL = u
		env = append(env, "ATLAS_DATABASE_URL="+u, "ATLAS_REDIS_URL="+o.redisURL, "ATLAS_REDIS_PREFIX="+prefix,
			"ATLAS_REDIS_ALLOW_UNSAFE=1")
	}
	if err := runAtlas(ctx, o.atlas, env, "migrate"); err != nil {
		return r, err
	}
	st, err := store.Open(ctx, dbURL, dir)
	if err != nil {
		return r, err
	}
	defer st.Close()
	paths, err := addPosts(ctx, st, o.posts)
	if err != nil {
		return r, err
	}
	script, err := writeScript(o.work, name, paths)
	if err != nil {
		return r, err
	}
	logPath := filepath.Join(o.work, name+".log")
	p, err := startAtlas(ctx, o.atlas, env, logPath)
	if err != nil {
		return r, err
	}
	defer p.stop()
	if _, err := runWrk(ctx, o.wrk, o.threads, o.conns, o.warmup, script, p.base); err != nil {
		return r, err
	}
	m0, err := p.metrics(ctx)
	if err != nil {
		return r, err
	}
	cpu0, _ := p.cpuSeconds()
	r.LoadBefore = loadavg()
	if r.Wrk, err = runWrk(ctx, o.wrk, o.threads, o.conns, o.duration, script, p.base); err != nil {
		return r, err
	}
	cpu1, _ := p.cpuSeconds()
	// wrk stops with requests in flight: let their handlers finish.
	time.Sleep(time.Second)
	m1, err := p.metrics(ctx)
	if err != nil {
		return r, err
	}
	d := func(name string) float64 { return sumPrefix(m1, name) - sumPrefix(m0, name) }
	r.Recorded = d("atlas_views_recorded_total")
	r.Dropped = d("atlas_views_dropped_total")
	r.RedisTrips = d("atlas_views_buffer_round_trips_total")
	r.RedisBatched = d("atlas_views_buffer_batched_total")
	r.CacheHits = d(`atlas_cache_requests_total{result="hit"}`)
	r.CacheMisses = d(`atlas_cache_requests_total{result="miss"}`)
	r.CacheBypass = d("atlas_cache_bypass_total")
	r.ViewsPerSec = r.Recorded / r.Wrk.Seconds
	r.AtlasCPU = cpu1 - cpu0
	r.CPUusPerView = r.AtlasCPU / max(r.Recorded, 1) * 1e6
	// Wait for every recorded view to reach the database (the scheduled
	// flush, for async), then count the row updates.
	deadline := time.Now().Add(o.flushEvery + 30*time.Second)
	var dropped float64
	for {
		m, err := p.metrics(ctx)
		if err != nil {
			return r, err
		}
		r.Expected, dropped = sumPrefix(m, "atlas_views_recorded_total"), sumPrefix(m, "atlas_views_dropped_total")
		if err := st.DB().QueryRowContext(ctx, "SELECT coalesce(sum(view_count), 0) FROM posts").Scan(&r.Counted); err != nil {
			return r, err
		}
		if float64(r.Counted) >= r.Expected || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := st.DB().QueryRowContext(ctx, "SELECT count(*) FROM view_flushes").Scan(&r.Batches); err != nil {
		return r, err
	}
	if v.mode == "sync" {
		r.RowUpdates = int64(r.Expected) // one UPDATE per view
	} else if m, err := p.metrics(ctx); err != nil {
		return r, err
	} else {
		r.RowUpdates = int64(sumPrefix(m, "atlas_views_flushed_rows_total"))
	}
	// A dropped view may still have reached the database (a buffer write
	// or UPDATE that finished after its deadline): recorded ≤ counted ≤
	// recorded + dropped.
	if float64(r.Counted) < r.Expected || float64(r.Counted) > r.Expected+dropped {
		return r, fmt.Errorf("%s: the database counts %d views; atlas recorded %.0f and dropped %.0f", name, r.Counted, r.Expected, dropped)
	}
	return r, nil
}

// addPosts inserts n published posts and returns their API paths.
func addPosts(ctx context.Context, st *store.Store, n int) ([]string, error) {
	now := time.Now().UTC().Add(-time.Hour)
	var paths []string
	for i := 1; i <= n; i++ {
		slug := fmt.Sprintf("bench-post-%d", i)
		_, err := st.DB().ExecContext(ctx, st.Rebind(`INSERT INTO posts (id, slug, title, body, published_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?)`), i, slug, fmt.Sprintf("Bench post %d", i),
			strings.Repeat("A paragraph of a salon blog post. ", 30), now, now)
		if err != nil {
			return nil, fmt.Errorf("add post: %w", err)
		}
		paths = append(paths, "/api/v1/posts/"+slug)
	}
	return paths, nil
}

// createDatabase creates database name (dropping a leftover one) through
// the admin URL and returns its URL and a function that drops it.
func createDatabase(ctx context.Context, admin, name string) (string, func(), error) {
	db, err := sql.Open("pgx", admin)
	if err != nil {
		return "", nil, err
	}
	if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
		db.Close()
		return "", nil, fmt.Errorf("drop database: %w", err)
	}
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		db.Close()
		return "", nil, fmt.Errorf("create database: %w", err)
	}
	u, err := url.Parse(admin)
	if err != nil {
		db.Close()
		return "", nil, err
	}
	u.Path = "/" + name
	return u.String(), func() {
		defer db.Close()
		if _, err := db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			log.Printf("drop database %s: %v", name, err)
		}
	}, nil
}

// deletePrefix deletes every Redis key under prefix.
func deletePrefix(redisURL, prefix string) {
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		return
	}
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	iter := c.Scan(ctx, 0, prefix+":*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	for i := 0; i < len(keys); i += 500 {
		c.Unlink(ctx, keys[i:min(i+500, len(keys))]...)
	}
}
