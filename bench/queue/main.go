// Command queue benchmarks Atlas's jobq (Redis and SQLite backends) against
// BullMQ (Node), Asynq and River (PostgreSQL and SQLite) on one machine in
// one run, and prints one table.
//
//	cd bench/queue && (cd node && npm ci) && go run . [-smoke] [-n 100000] [-out ../../docs/BENCHMARKS.md]
//
// Every contender runs each scenario in a child process of its own (the Go
// contenders are this binary re-executed as "child"; BullMQ is node
// node/bench.js), so the child's CPU time and max RSS, and the Redis or
// PostgreSQL server's CPU time, are read around the measured phase only.
package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 2 && os.Args[1] == "child" {
		childMain(os.Args[2])
		return
	}
	cfg := defaultConfig()
	flag.BoolVar(&cfg.Smoke, "smoke", false, "small, quick run (CI)")
	flag.IntVar(&cfg.N, "n", 100000, "burn-down and bulk-add jobs per run")
	flag.IntVar(&cfg.NAdd, "nadd", 20000, "single-add jobs per run")
	flag.IntVar(&cfg.NSmall, "nsmall", 2000, "jobs in the delayed and retry scenarios")
	flag.Float64Var(&cfg.SteadySecs, "steady", 60, "steady run length, seconds")
	flag.StringVar(&cfg.Rates, "rate", "half,1000", `steady offered rates, jobs/s, comma-separated; "half" = half of jobq-redis's burn-down peak (c=max, removed) in this run; every contender gets the same rate`)
	flag.StringVar(&cfg.Contenders, "contenders", strings.Join(allContenders, ","), "comma-separated contenders")
	flag.StringVar(&cfg.Scenarios, "scenarios", "add,bulk,burn,steady,delayed,idle,retry", "comma-separated scenarios")
	flag.StringVar(&cfg.Concs, "conc", "1,10,100", "concurrencies for add, bulk and burn")
	flag.StringVar(&cfg.Redis, "redis", "own", `"own": start a redis-server with AOF everysec on a free port; else host:port of a running one (its DBs are FLUSHed)`)
	flag.IntVar(&cfg.RedisDB, "redis-db", 0, "Redis DB to use (with -redis host:port)")
	flag.StringVar(&cfg.PG, "pg", "postgres://postgres@127.0.0.1:5432/atlas_bench", "PostgreSQL URL for River (database created if missing; empty skips river-pg)")
	flag.StringVar(&cfg.Out, "out", "", "markdown file whose Queue section receives the results (e.g. ../../docs/BENCHMARKS.md)")
	flag.StringVar(&cfg.JSON, "json", "", "write raw results as JSON to this file")
	flag.StringVar(&cfg.Profile, "profile", "", "directory for CPU profiles of the jobq children (burn removed, steady)")
	flag.Float64Var(&cfg.Timeout, "timeout", 0, "per-run timeout, seconds (default 300, smoke 60)")
	flag.IntVar(&cfg.Rounds, "rounds", 1, "runs of each contender per scenario, interleaved; the table shows per row the run with the median jobs/s, with client and server CPU the medians over the rounds")
	flag.Parse()
	if cfg.Smoke {
		cfg.applySmoke()
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 300
		if cfg.Smoke {
			cfg.Timeout = 60
		}
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench/queue:", err)
		os.Exit(1)
	}
}

var allContenders = []string{"jobq-redis", "jobq-sqlite", "bullmq", "asynq", "river-pg", "river-sqlite"}

// Config is the whole run's configuration.
type Config struct {
	Smoke                         bool
	N, NAdd, NSmall, RedisDB      int
	Rates                         string
	SteadySecs, Timeout           float64
	Contenders, Scenarios, Concs  string
	Redis, PG, Out, JSON, Profile string
	DelayMin, DelayMax            int
	Attempts, BackoffMS, Batch    int
	Rounds                        int
	smokeFlags                    string
}

func defaultConfig() *Config {
	return &Config{DelayMin: 500, DelayMax: 3000, Attempts: 3, BackoffMS: 100, Batch: 100}
}

func (c *Config) applySmoke() {
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	def := func(name string, p *int, v int) {
		if !set[name] {
			*p = v
		}
	}
	def("n", &c.N, 2000)
	def("nadd", &c.NAdd, 300)
	def("nsmall", &c.NSmall, 100)
	if !set["rate"] {
		c.Rates = "300"
	}
	if !set["steady"] {
		c.SteadySecs = 3
	}
	if !set["conc"] {
		c.Concs = "10"
	}
	c.DelayMin, c.DelayMax = 200, 1000
}

// Run is one contender × one scenario, measured.
type Run struct {
	Contender string           `json:"contender"`
	Scenario  string           `json:"scenario"`
	Conc      int              `json:"conc"`
	Keep      bool             `json:"keep"`
	N         int              `json:"n"`
	Rate      int              `json:"rate,omitempty"`
	Half      bool             `json:"half,omitempty"` // Rate is half of jobq-redis's peak
	Res       Result           `json:"result"`
	ChildCPU  float64          `json:"childCPU"`  // seconds, measured phase
	ServerCPU float64          `json:"serverCPU"` // seconds, measured phase; -1 = none
	MaxRSSKB  int64            `json:"maxRSSKB"`
	Cmds      int64            `json:"redisCmds"` // Redis command calls in the phase; -1 = n/a
	CmdStats  map[string]int64 `json:"redisCmdStats,omitempty"`
	LoadAvg   string           `json:"loadavg"`
	// Rates holds the jobs/s of every round when the run has several
	// rounds (this Run is then the median one).
	Rates []float64 `json:"rates,omitempty"`
}

func (r *Run) rate() float64 {
	if r.Res.Seconds <= 0 {
		return 0
	}
	return float64(r.Res.Jobs) / r.Res.Seconds
}

func (r *Run) ok() bool { return r.Res.Err == "" && r.Res.Note != "n/a" }

type env struct {
	cfg       *Config
	exe       string
	dir       string // bench/queue
	tmp       string
	redis     *redisServer
	pgOK      bool
	pgVersion string
	runs      []*Run
	bench     map[string]float64 // redis-benchmark ops/s
	started   time.Time
	loadStart string
}

func run(cfg *Config) error {
	e := &env{cfg: cfg, started: time.Now(), loadStart: loadavg()}
	var err error
	if e.exe, err = os.Executable(); err != nil {
		return err
	}
	if e.dir, err = os.Getwd(); err != nil {
		return err
	}
	if e.tmp, err = os.MkdirTemp("", "atlas-bench-queue-"); err != nil {
		return err
	}
	defer os.RemoveAll(e.tmp)
	contenders := splitList(cfg.Contenders)
	needRedis := false
	for _, c := range contenders {
		if c == "jobq-redis" || c == "bullmq" || c == "asynq" {
			needRedis = true
		}
	}
	if needRedis {
		if e.redis, err = startRedis(cfg.Redis, cfg.RedisDB, e.tmp); err != nil {
			return err
		}
		defer e.redis.stop()
		logf("redis %s at %s (%s), pid %d", e.redis.version, e.redis.addr, e.redis.mode, e.redis.pid)
		e.bench = e.redis.benchmark()
		logf("redis-benchmark: %v", e.bench)
	}
	for _, c := range contenders {
		if c == "river-pg" && cfg.PG != "" {
			if e.pgVersion, err = preparePG(cfg.PG); err != nil {
				logf("PostgreSQL unavailable, river-pg skipped: %v", err)
			} else {
				e.pgOK = true
			}
		}
	}
	if slicesContains(contenders, "bullmq") {
		if _, err := os.Stat(filepath.Join(e.dir, "node", "node_modules", "bullmq")); err != nil {
			return fmt.Errorf("bullmq not installed: run (cd node && npm ci) first")
		}
	}
	concs := []int{}
	for _, s := range splitList(cfg.Concs) {
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("-conc: %w", err)
		}
		concs = append(concs, n)
	}
	maxConc := concs[len(concs)-1]
	rounds := max(cfg.Rounds, 1)
	for _, sc := range splitList(cfg.Scenarios) {
		for _, spec := range e.plan(sc, concs, maxConc) {
			// rounds interleave the contenders: A B C A B C ...
			all := map[string][]*Run{}
			for range rounds {
				for _, c := range contenders {
					if c == "river-pg" && !e.pgOK {
						continue
					}
					s := spec
					s.Contender = c
					all[c] = append(all[c], e.runOne(s))
				}
			}
			for _, c := range contenders {
				if rs := all[c]; len(rs) > 0 {
					e.runs = append(e.runs, medianRun(rs))
				}
			}
		}
	}
	loadEnd := loadavg()
	report := e.report(contenders, loadEnd)
	fmt.Println()
	fmt.Println(report)
	if cfg.JSON != "" {
		b, _ := json.MarshalIndent(e.runs, "", "  ")
		if err := os.WriteFile(cfg.JSON, b, 0o644); err != nil {
			return err
		}
	}
	if cfg.Out != "" {
		if err := writeSection(cfg.Out, report); err != nil {
			return err
		}
		logf("wrote %s", cfg.Out)
	}
	for _, r := range e.runs {
		if r.Res.Err != "" {
			return fmt.Errorf("%d run(s) failed (see table)", countFailed(e.runs))
		}
	}
	return nil
}

// medianRun returns the run with the median jobs/s of rs (the lower
// middle one for an even count), with its client and server CPU replaced
// by their medians over rs and the rates of all rounds attached. A
// failed round makes the result that failed run, so failures show.
func medianRun(rs []*Run) *Run {
	if len(rs) == 1 {
		return rs[0]
	}
	for _, r := range rs {
		if r.Res.Err != "" {
			return r
		}
	}
	sorted := slices.Clone(rs)
	slices.SortFunc(sorted, func(a, b *Run) int { return cmp.Compare(a.rate(), b.rate()) })
	m := *sorted[(len(sorted)-1)/2]
	med := func(f func(r *Run) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	m.ChildCPU = med(func(r *Run) float64 { return r.ChildCPU })
	m.ServerCPU = med(func(r *Run) float64 { return r.ServerCPU })
	m.Rates = nil
	for _, r := range rs {
		m.Rates = append(m.Rates, r.rate())
	}
	return &m
}

func countFailed(runs []*Run) int {
	n := 0
	for _, r := range runs {
		if r.Res.Err != "" {
			n++
		}
	}
	return n
}

// plan lists the specs of scenario sc (contender left blank).
func (e *env) plan(sc string, concs []int, maxConc int) []Spec {
	c := e.cfg
	base := Spec{Scenario: sc, Queue: "bench", Timeout: c.Timeout, Batch: c.Batch, Attempts: 1}
	small := func(conc, n int) int {
		if conc == 1 && !c.Smoke {
			return max(n/10, 100)
		}
		return n
	}
	var out []Spec
	switch sc {
	case "add":
		for _, k := range concs {
			s := base
			s.Conc, s.N = k, small(k, c.NAdd)
			out = append(out, s)
		}
	case "bulk":
		for _, k := range concs {
			s := base
			s.Conc, s.N = k, small(k, c.N)
			out = append(out, s)
		}
	case "burn":
		keeps := []bool{false, true}
		for _, keep := range keeps {
			for _, k := range concs {
				s := base
				s.Conc, s.N, s.Keep = k, small(k, c.N), keep
				out = append(out, s)
			}
		}
	case "steady":
		for _, rate := range splitList(c.Rates) {
			s := base
			s.Conc, s.Seconds = maxConc, c.SteadySecs
			s.Rate, _ = strconv.Atoi(rate) // "half": 0, resolved when it runs
			s.Timeout = c.SteadySecs*1.5 + 30
			out = append(out, s)
		}
	case "delayed":
		s := base
		s.Conc, s.N, s.DelayMin, s.DelayMax = min(10, maxConc), c.NSmall, c.DelayMin, c.DelayMax
		out = append(out, s)
	case "idle":
		// Few delayed jobs, spread over the delay window, for 8 idle
		// workers of concurrency 1: counts Redis script calls per job.
		s := base
		s.Conc, s.Workers, s.N, s.DelayMin, s.DelayMax = 1, 8, max(c.NSmall/10, 20), c.DelayMin, c.DelayMax
		out = append(out, s)
	case "retry":
		s := base
		s.Conc, s.N, s.Attempts, s.BackoffMS = min(10, maxConc), c.NSmall, c.Attempts, c.BackoffMS
		out = append(out, s)
	}
	return out
}

func (e *env) runOne(s Spec) *Run {
	r := &Run{Contender: s.Contender, Scenario: s.Scenario, Conc: s.Conc, Keep: s.Keep, N: s.N, ServerCPU: -1, Cmds: -1}
	if s.Scenario == "steady" {
		if s.Rate == 0 {
			s.Rate = e.autoRate()
			r.Half = true
		}
		r.Rate = s.Rate
	}
	// River has no remove-on-complete: completed rows stay until its
	// cleaner deletes them (24 h by default), so it runs only "kept".
	if strings.HasPrefix(s.Contender, "river") && s.Scenario == "burn" && !s.Keep {
		r.Res = Result{Note: "n/a"}
		logf("%-12s %-7s c=%-3d keep=%-5v n/a (River always retains completed jobs)", s.Contender, s.Scenario, s.Conc, s.Keep)
		return r
	}
	if s.Scenario == "idle" && s.Contender != "jobq-redis" && s.Contender != "bullmq" {
		r.Res = Result{Note: "n/a"}
		logf("%-12s %-7s n/a (the idle-workers scenario compares jobq Redis with BullMQ)", s.Contender, s.Scenario)
		return r
	}
	if s.Contender == "asynq" && s.Scenario == "bulk" {
		r.Res = Result{Note: "n/a"}
		logf("%-12s %-7s c=%-3d n/a (Asynq has no batch enqueue)", s.Contender, s.Scenario, s.Conc)
		return r
	}
	var server func() float64
	switch s.Contender {
	case "jobq-redis", "bullmq", "asynq":
		s.RedisAddr, s.RedisDB = e.redis.addr, e.redis.db
		if err := e.redis.flush(); err != nil {
			r.Res.Err = "flush: " + err.Error()
			return r
		}
		server = func() float64 { return procCPU(e.redis.pid) }
	case "river-pg":
		s.PGURL = e.cfg.PG
		server = pgCPU
	case "jobq-sqlite", "river-sqlite":
		s.SQLite = filepath.Join(e.tmp, fmt.Sprintf("%s-%d.db", s.Contender, len(e.runs)))
	}
	if e.cfg.Profile != "" && strings.HasPrefix(s.Contender, "jobq") &&
		((s.Scenario == "burn" && !s.Keep) || s.Scenario == "steady") {
		_ = os.MkdirAll(e.cfg.Profile, 0o755)
		s.Profile, _ = filepath.Abs(filepath.Join(e.cfg.Profile, fmt.Sprintf("%s-%s-c%d-r%d.pprof", s.Contender, s.Scenario, s.Conc, s.Rate)))
	}
	spec, _ := json.Marshal(s)
	var cmd *exec.Cmd
	if s.Contender == "bullmq" {
		cmd = exec.Command("node", filepath.Join(e.dir, "node", "bench.js"), string(spec))
	} else {
		cmd = exec.Command(e.exe, "child", string(spec))
	}
	cmd.SysProcAttr = dieWithParent()
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		r.Res.Err = err.Error()
		return r
	}
	lines := bufio.NewReader(stdout)
	readLine := func() (string, error) {
		for {
			l, err := lines.ReadString('\n')
			if err != nil {
				return "", err
			}
			l = strings.TrimSpace(l)
			if l == "READY" || strings.HasPrefix(l, "DONE ") {
				return l, nil
			}
			fmt.Fprintln(os.Stderr, "child:", l)
		}
	}
	finish := func() {
		stdin.Close()
		_, _ = io.Copy(io.Discard, lines)
		_ = cmd.Wait()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.MaxRSSKB = ru.Maxrss
		}
	}
	l, err := readLine()
	if err != nil || l != "READY" {
		r.Res.Err = fmt.Sprintf("child did not get ready: %v", err)
		finish()
		return r
	}
	r.LoadAvg = loadavg()
	var srv0 float64
	if server != nil {
		srv0 = server()
	}
	if e.redis != nil && s.RedisAddr != "" {
		_ = e.redis.resetStats()
	}
	cpu0 := procCPU(cmd.Process.Pid)
	_, _ = io.WriteString(stdin, "GO\n")
	l, err = readLine()
	cpu1 := procCPU(cmd.Process.Pid)
	if server != nil {
		r.ServerCPU = server() - srv0
	}
	if e.redis != nil && s.RedisAddr != "" {
		if st, err := e.redis.commandStats(); err == nil {
			r.CmdStats = st
			r.Cmds = 0
			for k, v := range st {
				if k != "info" && k != "config|resetstat" && k != "config" && !strings.HasPrefix(k, "usec:") {
					r.Cmds += v
				}
			}
		}
	}
	r.ChildCPU = cpu1 - cpu0
	if err != nil {
		r.Res.Err = fmt.Sprintf("child died: %v", err)
	} else if err := json.Unmarshal([]byte(strings.TrimPrefix(l, "DONE ")), &r.Res); err != nil {
		r.Res.Err = "bad result: " + err.Error()
	}
	finish()
	logf("%-12s %-7s c=%-3d keep=%-5v %s", s.Contender, s.Scenario, s.Conc, s.Keep, r.summary())
	return r
}

func (r *Run) summary() string {
	if r.Res.Note == "n/a" {
		return "n/a"
	}
	s := fmt.Sprintf("%d jobs in %.2fs = %.0f/s, cpu %.2fs", r.Res.Jobs, r.Res.Seconds, r.rate(), r.ChildCPU)
	if r.ServerCPU >= 0 {
		s += fmt.Sprintf(" + server %.2fs", r.ServerCPU)
	}
	if r.Cmds >= 0 && r.Res.Jobs > 0 {
		s += fmt.Sprintf(", %.1f cmds/job", float64(r.Cmds)/float64(r.Res.Jobs))
	}
	if r.Res.Lat != nil {
		s += fmt.Sprintf(", p50 %.2fms p99 %.2fms p999 %.2fms", r.Res.Lat["p50"], r.Res.Lat["p99"], r.Res.Lat["p999"])
	}
	s += fmt.Sprintf(", rss %d MB", r.MaxRSSKB/1024)
	if r.Res.Note != "" {
		s += " [" + r.Res.Note + "]"
	}
	if r.Res.Err != "" {
		s += " ERROR: " + r.Res.Err
	}
	return s
}

// autoRate is half of jobq-redis's burn-down rate at the highest
// concurrency without retention in this run, rounded down to 100.
func (e *env) autoRate() int {
	best := 0.0
	bestConc := 0
	for _, r := range e.runs {
		if r.Contender == "jobq-redis" && r.Scenario == "burn" && !r.Keep && r.ok() && r.Conc >= bestConc {
			best, bestConc = r.rate(), r.Conc
		}
	}
	if best == 0 {
		return 5000
	}
	return max(100, int(best/2/100)*100)
}

func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+2:])
	// fields after ")": state(0) ppid(1) … utime(11) stime(12)
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ is 100 on Linux
}

// pgCPU sums the CPU time of every live postgres process (postmaster,
// backends, background workers). Backends that exit in the phase are lost;
// the benchmark's connections live through it.
func pgCPU() float64 {
	ents, _ := os.ReadDir("/proc")
	total := 0.0
	for _, d := range ents {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
			continue
		}
		total += procCPU(pid)
	}
	return total
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func modVersion(path string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "?"
	}
	for _, d := range bi.Deps {
		if d.Path == path {
			return d.Version
		}
	}
	return "?"
}

var _ = errors.New
var _ = context.Background
var _ = math.Inf
