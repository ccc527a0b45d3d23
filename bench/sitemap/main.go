package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/sevra/atlas/internal/sitemap"
	"github.com/sevra/atlas/internal/store"
)

const baseURL = "https://atlas.example"

// defaultPG is the benchmark database; it is created (dropped first if it
// exists) and dropped at the end.
const defaultPG = "postgres://postgres@127.0.0.1:5432/atlas_bench_sitemap?sslmode=disable"

// Run is one measured child process.
type Run struct {
	Round    int     `json:"round"`
	Name     string  `json:"name"`
	Seconds  float64 `json:"seconds"`     // the timed phase, reported by the child
	Wall     float64 `json:"wallSeconds"` // the whole child process, as seen by the parent
	CPU      float64 `json:"cpuSeconds"`  // user+system CPU of the child
	MaxRSSKB int64   `json:"maxRSSKB"`
	Load     string  `json:"loadavg"` // /proc/loadavg just before the run
	// DiskBytes is the output on disk: gzipped children plus the index.
	DiskBytes int64  `json:"diskBytes"`
	Result    Result `json:"result"`
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "child" {
		if err := runChild(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/sitemap:", err)
		os.Exit(1)
	}
}

type options struct {
	salons   int
	rounds   int
	pg       string
	sqlite   bool
	node     bool
	pageSize int
	work     string
	keep     bool
	profile  string
	jsonOut  string
	nodeDir  string
	nodeGzip int
}

func run() error {
	var o options
	flag.IntVar(&o.salons, "salons", 1_000_000, "salons to seed (plus 200 cities, 1,000 posts, media on every tenth salon)")
	flag.IntVar(&o.rounds, "rounds", 2, "measured rounds; each runs go-writer, node-writer, rebuild-sqlite, rebuild-pg in that order")
	flag.StringVar(&o.pg, "pg", defaultPG, `PostgreSQL URL of the benchmark database (created, dropped at the end); "" skips PostgreSQL`)
	flag.BoolVar(&o.sqlite, "sqlite", true, "benchmark the rebuild on SQLite")
	flag.BoolVar(&o.node, "node", true, "run the npm sitemap contender (needs npm ci in bench/sitemap/node)")
	flag.IntVar(&o.pageSize, "page", 0, "keyset page size for the rebuild (0 = sitemap.DefaultPageSize)")
	flag.StringVar(&o.work, "work", "", "work directory (default: a new temporary directory, removed at the end)")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory and the PostgreSQL database")
	flag.StringVar(&o.profile, "profile", "", "write CPU and allocation profiles of the first Go runs into this directory")
	flag.StringVar(&o.jsonOut, "json", "", "also write every run as JSON to this file")
	flag.IntVar(&o.nodeGzip, "node-gzip", -1, "gzip level of the Node contender's children (-1 = zlib default 6, as its README; 1 = the Go writer's BestSpeed)")
	flag.StringVar(&o.nodeDir, "node-dir", "", "directory of the Node contender (default: bench/sitemap/node next to the sources)")
	flag.Parse()
	if o.salons <= 0 || o.rounds <= 0 {
		return errors.New("-salons and -rounds must be positive")
	}
	if !o.sqlite && !o.node && o.pg == "" {
		return errors.New("nothing to run")
	}
	if o.nodeDir == "" {
		_, file, _, _ := runtime.Caller(0)
		o.nodeDir = filepath.Join(filepath.Dir(file), "node")
	}
	if o.node {
		if _, err := os.Stat(filepath.Join(o.nodeDir, "node_modules", "sitemap", "package.json")); err != nil {
			return fmt.Errorf("npm sitemap not installed: run (cd %s && npm ci), or pass -node=false", o.nodeDir)
		}
	}
	if o.work == "" {
		d, err := os.MkdirTemp("", "atlas-bench-sitemap-")
		if err != nil {
			return err
		}
		o.work = d
	}
	if !o.keep {
		defer os.RemoveAll(o.work)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	ctx := context.Background()
	printEnv(o)

	// Seed.
	sqliteDir := filepath.Join(o.work, "db-sqlite")
	if o.sqlite || o.pg == "" {
		// The URL list for the writers comes from a SQLite rebuild unless
		// only PostgreSQL is benchmarked.
		if err := seedSQLite(ctx, sqliteDir, o.salons); err != nil {
			return err
		}
	}
	if o.pg != "" {
		drop, err := createPG(ctx, o.pg)
		if err != nil {
			return err
		}
		if !o.keep {
			defer drop()
		}
		if err := seedPG(ctx, o.pg, o.salons); err != nil {
			return err
		}
	}

	c := &children{exe: exe, o: o}
	// Warm-up rebuilds (reported, not part of the rounds); the list for the
	// writers comes from the first one.
	listSrc := ""
	if o.sqlite || o.pg == "" {
		if _, err := c.rebuild(0, "rebuild-sqlite (warm-up)", "", sqliteDir, filepath.Join(o.work, "out-sqlite")); err != nil {
			return err
		}
		listSrc = filepath.Join(o.work, "out-sqlite")
	}
	if o.pg != "" {
		if _, err := c.rebuild(0, "rebuild-pg (warm-up)", o.pg, "", filepath.Join(o.work, "out-pg")); err != nil {
			return err
		}
		if listSrc == "" {
			listSrc = filepath.Join(o.work, "out-pg")
		}
	}
	list := filepath.Join(o.work, "urls.ndjson")
	t := time.Now()
	n, err := exportList(listSrc, list)
	if err != nil {
		return err
	}
	fi, _ := os.Stat(list)
	fmt.Printf("exported %d URLs (%.1f MB NDJSON) in %v\n", n, float64(fi.Size())/1e6, time.Since(t).Round(time.Millisecond))

	for r := 1; r <= o.rounds; r++ {
		gw := filepath.Join(o.work, fmt.Sprintf("go-writer-%d", r))
		if _, err := c.write(r, gw, list, n); err != nil {
			return err
		}
		os.RemoveAll(gw)
		if o.node {
			nw := filepath.Join(o.work, fmt.Sprintf("node-writer-%d", r))
			if _, err := c.node(r, nw, list, n); err != nil {
				return err
			}
			os.RemoveAll(nw)
		}
		if o.sqlite {
			if _, err := c.rebuild(r, "rebuild-sqlite", "", sqliteDir, filepath.Join(o.work, "out-sqlite")); err != nil {
				return err
			}
		}
		if o.pg != "" {
			if _, err := c.rebuild(r, "rebuild-pg", o.pg, "", filepath.Join(o.work, "out-pg")); err != nil {
				return err
			}
		}
	}
	c.report(n)
	if o.jsonOut != "" {
		b, _ := json.MarshalIndent(c.runs, "", "  ")
		if err := os.WriteFile(o.jsonOut, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func seedSQLite(ctx context.Context, dir string, n int) error {
	t := time.Now()
	s, err := store.Open(ctx, "", dir)
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		return err
	}
	if err := seedData(ctx, s, n); err != nil {
		return fmt.Errorf("seed sqlite: %w", err)
	}
	fi, _ := os.Stat(filepath.Join(dir, "atlas.db"))
	fmt.Printf("seeded SQLite: %d salons in %v (%.0f MB file)\n", n, time.Since(t).Round(time.Millisecond), float64(fi.Size())/1e6)
	return nil
}

// createPG drops and creates the database named in dbURL, connecting to the
// "postgres" database of the same server, and returns a function that
// drops it.
func createPG(ctx context.Context, dbURL string) (drop func(), err error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return nil, err
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" || name == "postgres" || strings.ContainsAny(name, `"/`) {
		return nil, fmt.Errorf("-pg %q: want a dedicated database name", dbURL)
	}
	admin := *u
	admin.Path = "/postgres"
	db, err := sql.Open("pgx", admin.String())
	if err != nil {
		return nil, err
	}
	q := `"` + name + `"`
	if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+q+" WITH (FORCE)"); err != nil {
		db.Close()
		return nil, fmt.Errorf("drop database %s: %w", name, err)
	}
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+q); err != nil {
		db.Close()
		return nil, fmt.Errorf("create database %s: %w", name, err)
	}
	return func() {
		defer db.Close()
		if _, err := db.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+q+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(os.Stderr, "drop database %s: %v\n", name, err)
			return
		}
		fmt.Printf("dropped database %s\n", name)
	}, nil
}

func seedPG(ctx context.Context, dbURL string, n int) error {
	t := time.Now()
	s, err := store.Open(ctx, dbURL, "")
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		return err
	}
	if err := seedData(ctx, s, n); err != nil {
		return fmt.Errorf("seed postgres: %w", err)
	}
	var size string
	_ = s.DB().QueryRowContext(ctx, "SELECT pg_size_pretty(pg_database_size(current_database()))").Scan(&size)
	fmt.Printf("seeded PostgreSQL: %d salons in %v (%s database)\n", n, time.Since(t).Round(time.Millisecond), size)
	return nil
}

// children starts the measured child processes and keeps their runs.
type children struct {
	exe      string
	o        options
	runs     []Run
	profiled map[string]bool
}

func (c *children) profiles(name string, sp *Spec) {
	if c.o.profile == "" || c.profiled[name] {
		return
	}
	if c.profiled == nil {
		c.profiled = map[string]bool{}
	}
	c.profiled[name] = true
	os.MkdirAll(c.o.profile, 0o755)
	sp.CPUProfile = filepath.Join(c.o.profile, name+".cpu.pprof")
	sp.MemProfile = filepath.Join(c.o.profile, name+".allocs.pprof")
}

func (c *children) rebuild(round int, name, dbURL, dbDir, out string) (Run, error) {
	sp := Spec{Mode: "rebuild", DatabaseURL: dbURL, DBDir: dbDir, OutDir: out, PageSize: c.o.pageSize}
	if round > 0 {
		c.profiles(name, &sp)
	}
	r, err := c.goChild(round, name, sp, 0)
	if err == nil {
		r.DiskBytes, err = liveBytes(out)
		c.runs[len(c.runs)-1].DiskBytes = r.DiskBytes
	}
	return r, err
}

// liveBytes sums the files of the live generation under dataDir.
func liveBytes(dataDir string) (int64, error) {
	pub, err := sitemap.NewPublisher(dataDir, nil)
	if err != nil {
		return 0, err
	}
	live, err := pub.Live()
	if err != nil {
		return 0, err
	}
	return dirBytes(live.Dir)
}

func dirBytes(dir string) (int64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
	}
	return n, nil
}

func (c *children) write(round int, out, list string, want int64) (Run, error) {
	sp := Spec{Mode: "write", List: list, OutDir: out}
	c.profiles("go-writer", &sp)
	r, err := c.goChild(round, "go-writer", sp, want)
	if err == nil && round == 1 {
		err = checkCount(out, "sitemap-", want)
	}
	if err == nil {
		r.DiskBytes, err = dirBytes(out)
		c.runs[len(c.runs)-1].DiskBytes = r.DiskBytes
	}
	return r, err
}

func (c *children) goChild(round int, name string, sp Spec, want int64) (Run, error) {
	b, _ := json.Marshal(sp)
	return c.start(round, name, exec.Command(c.exe, "child", string(b)), want)
}

func (c *children) node(round int, out, list string, want int64) (Run, error) {
	args := []string{filepath.Join(c.o.nodeDir, "bench.js"), list, out, baseURL}
	if c.o.nodeGzip >= 0 {
		args = append(args, strconv.Itoa(c.o.nodeGzip))
	}
	cmd := exec.Command("node", args...)
	cmd.Dir = c.o.nodeDir
	r, err := c.start(round, "node-writer", cmd, want)
	if err == nil && round == 1 {
		err = checkCount(out, "sitemap-", want)
	}
	if err == nil {
		r.DiskBytes, err = dirBytes(out)
		c.runs[len(c.runs)-1].DiskBytes = r.DiskBytes
	}
	return r, err
}

func checkCount(dir, prefix string, want int64) error {
	got, err := countURLs(dir, prefix)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%s: %d <url> written, want %d", dir, got, want)
	}
	return nil
}

// timeBin is GNU time. Children run under it because the rusage the parent
// gets from wait4 is wrong for max RSS here: Go starts children with
// clone(CLONE_VM|CLONE_VFORK), and at execve Linux folds the high-water RSS
// of the mm being left, which is the parent's own (tens of MB after
// seeding), into the child's ru_maxrss. GNU time forks with a small mm of
// its own, so its report is the child's.
const timeBin = "/usr/bin/time"

func (c *children) start(round int, name string, cmd *exec.Cmd, want int64) (Run, error) {
	var stdout, stderr bytes.Buffer
	usage, dir := filepath.Join(c.o.work, "time.out"), cmd.Dir
	if _, err := os.Stat(timeBin); err == nil {
		cmd = exec.Command(timeBin, append([]string{"-f", "%M %U %S", "-o", usage, cmd.Path}, cmd.Args[1:]...)...)
	} else {
		usage = ""
	}
	cmd.Stdout, cmd.Stderr, cmd.Dir = &stdout, &stderr, dir
	r := Run{Round: round, Name: name, Load: loadavg()}
	t := time.Now()
	err := cmd.Run()
	r.Wall = time.Since(t).Seconds()
	if err != nil {
		return r, fmt.Errorf("%s: %w\n%s", name, err, stderr.String())
	}
	if usage != "" {
		b, err := os.ReadFile(usage)
		if err != nil {
			return r, err
		}
		var user, sys float64
		if _, err := fmt.Sscan(lastLine(string(b)), &r.MaxRSSKB, &user, &sys); err != nil {
			return r, fmt.Errorf("%s: %s output %q: %w", name, timeBin, b, err)
		}
		r.CPU = user + sys
	} else if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		// Without GNU time: includes the parent's RSS at the fork (see
		// timeBin), an upper bound.
		r.MaxRSSKB = ru.Maxrss
		r.CPU = tv(ru.Utime) + tv(ru.Stime)
	}
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &r.Result); err != nil {
		return r, fmt.Errorf("%s: result %q: %w", name, stdout.String(), err)
	}
	r.Seconds = r.Result.Seconds
	if want > 0 && r.Result.URLs != want {
		return r, fmt.Errorf("%s: %d URLs, want %d", name, r.Result.URLs, want)
	}
	c.runs = append(c.runs, r)
	fmt.Printf("round %d %-26s %7.2f s (process %6.2f s, CPU %6.2f s)  max RSS %6.1f MiB (VmHWM %6.1f)  %d URLs  load %s\n",
		round, name, r.Seconds, r.Wall, r.CPU, float64(r.MaxRSSKB)/1024, float64(r.Result.VmHWMKB)/1024, r.Result.URLs, r.Load)
	return r, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// report prints the runs as a Markdown table and the Go/Node ratios of
// each round.
func (c *children) report(n int64) {
	fmt.Printf("\n%d URLs\n\n", n)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 1, ' ', tabwriter.Debug)
	fmt.Fprintln(tw, "| round\t run\t time s\t process s\t CPU s\t max RSS MiB\t URLs/s\t on disk MB\t Go alloc MB\t loadavg\t")
	fmt.Fprintln(tw, "|---\t---\t---\t---\t---\t---\t---\t---\t---\t---\t")
	for _, r := range c.runs {
		alloc := "–"
		if r.Result.TotalAlloc > 0 {
			alloc = strconv.FormatFloat(float64(r.Result.TotalAlloc)/1e6, 'f', 0, 64)
		}
		fmt.Fprintf(tw, "| %d\t %s\t %.2f\t %.2f\t %.2f\t %.1f\t %.0fk\t %.1f\t %s\t %s\t\n", r.Round, r.Name, r.Seconds, r.Wall, r.CPU,
			float64(r.MaxRSSKB)/1024, float64(r.Result.URLs)/r.Seconds/1e3, float64(r.DiskBytes)/1e6, alloc, r.Load)
	}
	tw.Flush()
	fmt.Println()
	for round := 1; round <= c.o.rounds; round++ {
		var g, nd *Run
		for i := range c.runs {
			r := &c.runs[i]
			if r.Round != round {
				continue
			}
			switch r.Name {
			case "go-writer":
				g = r
			case "node-writer":
				nd = r
			}
		}
		if g != nil && nd != nil {
			fmt.Printf("round %d: node-writer / go-writer: time %.1fx, process %.1fx, CPU %.1fx, max RSS %.1fx\n", round,
				nd.Seconds/g.Seconds, nd.Wall/g.Wall, nd.CPU/g.CPU, float64(nd.MaxRSSKB)/float64(g.MaxRSSKB))
		}
	}
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// printEnv prints the machine and the versions in play.
func printEnv(o options) {
	fmt.Printf("bench/sitemap: %d salons, %d rounds, work dir %s\n", o.salons, o.rounds, o.work)
	fmt.Printf("machine: %d CPUs (%s), %s RAM, loadavg %s\n", runtime.NumCPU(), cpuModel(), memTotal(), loadavg())
	fmt.Printf("go: %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if o.node {
		v, _ := exec.Command("node", "--version").Output()
		var pkg struct{ Version string }
		if b, err := os.ReadFile(filepath.Join(o.nodeDir, "node_modules", "sitemap", "package.json")); err == nil {
			json.Unmarshal(b, &pkg)
		}
		level := "zlib default (6)"
		if o.nodeGzip >= 0 {
			level = strconv.Itoa(o.nodeGzip)
		}
		fmt.Printf("node: %s, npm sitemap %s, gzip level %s; Go writer: gzip.BestSpeed (1)\n", strings.TrimSpace(string(v)), pkg.Version, level)
	}
	if o.pg != "" {
		if v, err := exec.Command("psql", "--version").Output(); err == nil {
			fmt.Printf("postgres client: %s\n", strings.TrimSpace(string(v)))
		}
	}
	if v, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		fmt.Printf("commit: %s\n", strings.TrimSpace(string(v)))
	}
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

func memTotal() string {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return fmt.Sprintf("%.1f GiB", kb/(1<<20))
		}
	}
	return "?"
}
