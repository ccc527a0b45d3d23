package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

const (
	beginMark = "<!-- bench/queue: generated results begin -->"
	endMark   = "<!-- bench/queue: generated results end -->"
)

var displayName = map[string]string{
	"jobq-redis":   "jobq Redis",
	"jobq-sqlite":  "jobq SQLite",
	"bullmq":       "BullMQ (Node)",
	"asynq":        "Asynq",
	"river-pg":     "River PG",
	"river-sqlite": "River SQLite",
}

func (e *env) find(contender string, k rowKey) *Run {
	for _, r := range e.runs {
		if r.Contender == contender && r.Scenario == k.sc && r.Conc == k.conc && r.Keep == k.keep && r.Half == k.half {
			return r
		}
	}
	return nil
}

type rowKey struct {
	sc   string
	conc int
	keep bool
	half bool
}

func (e *env) rowKeys() []rowKey {
	var keys []rowKey
	seen := map[rowKey]bool{}
	for _, r := range e.runs {
		k := rowKey{r.Scenario, r.Conc, r.Keep, r.Half}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return keys
}

func (k rowKey) label(e *env) string {
	switch k.sc {
	case "add":
		return fmt.Sprintf("single add, c=%d (jobs/s)", k.conc)
	case "bulk":
		return fmt.Sprintf("bulk add ×%d, c=%d (jobs/s)", e.cfg.Batch, k.conc)
	case "burn":
		ret := "removed on complete"
		if k.keep {
			ret = "kept"
		}
		return fmt.Sprintf("burn-down, c=%d, %s (jobs/s)", k.conc, ret)
	case "steady":
		rate, how := 0, ""
		for _, r := range e.runs {
			if r.Scenario == "steady" && r.Half == k.half {
				rate = r.Rate
			}
		}
		if k.half {
			how = " (half of jobq Redis's peak)"
		}
		return fmt.Sprintf("steady %d/s%s for %gs, c=%d: enqueue→start p50 / p99 / p999 ms (done/s)", rate, how, e.cfg.SteadySecs, k.conc)
	case "delayed":
		return fmt.Sprintf("delayed %d–%d ms, c=%d: lateness p50 / p99 ms", e.cfg.DelayMin, e.cfg.DelayMax, k.conc)
	case "idle":
		return fmt.Sprintf("delayed %d–%d ms, 8 idle workers (c=1 each): Redis script calls (EVALSHA/FCALL) per job; lateness p99 ms", e.cfg.DelayMin, e.cfg.DelayMax)
	case "retry":
		return fmt.Sprintf("retries: %d attempts, fixed %d ms backoff, c=%d: jobs/s; retry lateness p50 / p99 ms", e.cfg.Attempts, e.cfg.BackoffMS, k.conc)
	}
	return k.sc
}

func num(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func (r *Run) cell() string {
	if r == nil {
		return ""
	}
	if r.Res.Note == "n/a" {
		return "n/a"
	}
	if r.Res.Err != "" && r.Res.Jobs == 0 {
		return "failed¹"
	}
	mark := ""
	if r.Res.Err != "" {
		mark = "¹"
	}
	switch r.Scenario {
	case "steady":
		if r.Res.Lat == nil {
			return "failed¹"
		}
		return fmt.Sprintf("%s / %s / %s (%.0f)%s", num(r.Res.Lat["p50"]), num(r.Res.Lat["p99"]), num(r.Res.Lat["p999"]), r.rate(), mark)
	case "delayed":
		if r.Res.Lat == nil {
			return "failed¹"
		}
		return fmt.Sprintf("%s / %s%s", num(r.Res.Lat["p50"]), num(r.Res.Lat["p99"]), mark)
	case "idle":
		if r.Cmds < 0 || r.Res.Jobs == 0 {
			return "failed¹"
		}
		s := fmt.Sprintf("%.2f", r.scriptCallsPerJob())
		if r.Res.Lat != nil {
			s += fmt.Sprintf("; %s", num(r.Res.Lat["p99"]))
		}
		return s + mark
	case "retry":
		s := fmt.Sprintf("%.0f", r.rate())
		if r.Res.Lat != nil {
			s += fmt.Sprintf("; %s / %s", num(r.Res.Lat["p50"]), num(r.Res.Lat["p99"]))
		}
		return s + mark
	}
	return fmt.Sprintf("%.0f%s", r.rate(), mark)
}

// scriptCalls sums the Lua script and function calls of r's phase.
func (r *Run) scriptCalls() (calls, usec int64) {
	for _, k := range []string{"evalsha", "eval", "evalsha_ro", "eval_ro", "fcall", "fcall_ro"} {
		calls += r.CmdStats[k]
		usec += r.CmdStats["usec:"+k]
	}
	return calls, usec
}

func (r *Run) scriptCallsPerJob() float64 {
	c, _ := r.scriptCalls()
	return float64(c) / float64(r.Res.Jobs)
}

// ratio is a's throughput ÷ b's, for throughput rows, and a's script calls
// per job ÷ b's for the idle-workers row.
func ratio(a, b *Run) string {
	if a == nil || b == nil || !a.ok() || !b.ok() || b.rate() == 0 || a.Scenario == "steady" || a.Scenario == "delayed" {
		return "—"
	}
	if a.Scenario == "idle" {
		if b.Cmds < 0 || b.scriptCallsPerJob() == 0 {
			return "—"
		}
		return fmt.Sprintf("%.2f×", a.scriptCallsPerJob()/b.scriptCallsPerJob())
	}
	return fmt.Sprintf("%.2f×", a.rate()/b.rate())
}

// lifeCost is the server CPU seconds per 10,000 jobs over a job's whole
// life: single add at c=100 plus burn-down at c=100, removed on complete
// (-1 when either run is missing or failed, or has no server).
func (e *env) lifeCost(contender string) float64 {
	add := e.find(contender, rowKey{sc: "add", conc: 100})
	burn := e.find(contender, rowKey{sc: "burn", conc: 100})
	if add == nil || burn == nil || !add.ok() || !burn.ok() || add.ServerCPU < 0 || burn.ServerCPU < 0 ||
		add.Res.Jobs == 0 || burn.Res.Jobs == 0 {
		return -1
	}
	return 10000 * (add.ServerCPU/float64(add.Res.Jobs) + burn.ServerCPU/float64(burn.Res.Jobs))
}

func (e *env) report(contenders []string, loadEnd string) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	maxLoad := 0.0
	for _, s := range append([]string{e.loadStart, loadEnd}, runLoads(e.runs)...) {
		if f := strings.Fields(s); len(f) > 0 {
			v, _ := strconv.ParseFloat(f[0], 64)
			maxLoad = max(maxLoad, v)
		}
	}
	mode := "full run"
	if e.cfg.Smoke {
		mode = "smoke run (small N: not a measurement)"
	}
	w("### Results: %s, %s\n\n", mode, e.started.UTC().Format("2006-01-02 15:04 UTC"))
	if maxLoad > 1.5 {
		w("**Load:** the 1-minute load average reached %.2f on 2 cores during the run "+
			"(the contender and its server count toward it, and any other work on the machine adds to it), "+
			"so absolute figures are noisy; ratios come from the same run, "+
			"with contenders interleaved scenario by scenario.\n\n", maxLoad)
	}
	w("Command: `cd bench/queue && (cd node && npm ci) && go run . %s`; took %s; load average (1/5/15 min) %s at start, %s at end.\n\n",
		strings.Join(os.Args[1:], " "), time.Since(e.started).Round(time.Second), e.loadStart, loadEnd)
	w("Machine: %s.\n\n", machine())
	w("Versions: %s.\n\n", e.versions())
	if e.redis != nil {
		w("Redis: %s %s. Physical limit for context, `redis-benchmark -q -n 100000 -t set,lpush` (50 clients, no pipelining) on the same server: SET %.0f ops/s, LPUSH %.0f ops/s.\n\n",
			e.redis.version, e.redis.mode, e.bench["SET"], e.bench["LPUSH"])
	}

	// Headline table.
	hasPair := func(a, b string) bool { return slicesContains(contenders, a) && slicesContains(contenders, b) }
	type rc struct{ a, b, label string }
	var ratios []rc
	for _, p := range []rc{{"jobq-redis", "bullmq", "jobq Redis ÷ BullMQ"}, {"jobq-redis", "asynq", "jobq Redis ÷ Asynq"},
		{"jobq-redis", "river-pg", "jobq Redis ÷ River PG"}, {"jobq-sqlite", "river-sqlite", "jobq SQLite ÷ River SQLite"}} {
		if hasPair(p.a, p.b) {
			ratios = append(ratios, p)
		}
	}
	w("| scenario |")
	for _, c := range contenders {
		w(" %s |", displayName[c])
	}
	for _, p := range ratios {
		w(" %s |", p.label)
	}
	w("\n|---|")
	for range len(contenders) + len(ratios) {
		w("---:|")
	}
	w("\n")
	for _, k := range e.rowKeys() {
		w("| %s |", k.label(e))
		for _, c := range contenders {
			w(" %s |", e.find(c, k).cell())
		}
		for _, p := range ratios {
			a, bb := e.find(p.a, k), e.find(p.b, k)
			w(" %s |", ratio(a, bb))
		}
		w("\n")
	}
	// A job's whole life: the Redis CPU of one single add (c=100) plus one
	// burn-down completion (c=100, removed on complete), per 10k jobs.
	if slicesContains(contenders, "jobq-redis") && e.lifeCost("jobq-redis") >= 0 {
		w("| whole life: Redis CPU s per 10k (single add c=100 + burn-down c=100 removed; lower is better) |")
		for _, c := range contenders {
			if v := e.lifeCost(c); v >= 0 {
				w(" %.2f |", v)
			} else {
				w(" — |")
			}
		}
		for _, p := range ratios {
			a, bb := e.lifeCost(p.a), e.lifeCost(p.b)
			if a >= 0 && bb > 0 {
				w(" %.2f× |", a/bb)
			} else {
				w(" — |")
			}
		}
		w("\n")
	}
	w("\n")
	var errs []string
	for _, r := range e.runs {
		if r.Res.Err != "" {
			errs = append(errs, fmt.Sprintf("%s %s c=%d keep=%v: %s", r.Contender, r.Scenario, r.Conc, r.Keep, r.Res.Err))
		}
	}
	if len(errs) > 0 {
		w("¹ Failed or incomplete (figure over the jobs done):\n\n")
		for _, s := range errs {
			w("- %s\n", s)
		}
		w("\n")
	}

	// Cost table.
	w("Cost of each run: CPU seconds per 10,000 jobs of the contender's process (worker, plus the producer where the scenario has one) and of the Redis or PostgreSQL server (— for the in-process SQLite contenders), the contender process's max RSS, Redis commands per job (INFO commandstats, all calls including those made inside Lua scripts ÷ jobs), Lua script calls (EVALSHA/EVAL/FCALL, i.e. roughly the round trips) per job, and the microseconds Redis spent inside scripts per job.\n\n")
	w("| scenario | c | retention | contender | jobs/s | client CPU s/10k | server CPU s/10k | max RSS MB | Redis cmds/job | Lua calls/job | µs in Lua/job | load 1m |\n")
	w("|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range e.runs {
		if r.Res.Note == "n/a" || r.Res.Jobs == 0 {
			continue
		}
		ret := "removed"
		if r.Keep || strings.HasPrefix(r.Contender, "river") {
			ret = "kept"
		}
		per := 10000 / float64(r.Res.Jobs)
		srv, cmds, lua, luaUS := "—", "—", "—", "—"
		if r.ServerCPU >= 0 {
			srv = fmt.Sprintf("%.2f", r.ServerCPU*per)
		}
		if r.Cmds >= 0 {
			cmds = fmt.Sprintf("%.1f", float64(r.Cmds)/float64(r.Res.Jobs))
			calls, us := r.scriptCalls()
			lua = fmt.Sprintf("%.2f", float64(calls)/float64(r.Res.Jobs))
			luaUS = fmt.Sprintf("%.1f", float64(us)/float64(r.Res.Jobs))
		}
		load := strings.Fields(r.LoadAvg + " ?")[0]
		sc := r.Scenario
		if sc == "steady" {
			sc = fmt.Sprintf("steady %d/s", r.Rate)
		}
		w("| %s | %d | %s | %s | %.0f | %.2f | %s | %d | %s | %s | %s | %s |\n", sc, r.Conc, ret, displayName[r.Contender],
			r.rate(), r.ChildCPU*per, srv, r.MaxRSSKB/1024, cmds, lua, luaUS, load)
	}
	w("\n")
	if e.cfg.Rounds > 1 {
		w("Rounds: %d per contender and scenario, the contenders interleaved (A B C A B C …). Each row above is the round with the median jobs/s; its client and server CPU are the medians over the rounds (so the whole-life row is a sum of medians). Jobs/s of every round:\n\n", e.cfg.Rounds)
		w("| scenario | c | retention | contender | jobs/s per round |\n|---|---:|---|---|---|\n")
		for _, r := range e.runs {
			if len(r.Rates) == 0 {
				continue
			}
			ret := "removed"
			if r.Keep || strings.HasPrefix(r.Contender, "river") {
				ret = "kept"
			}
			rates := make([]string, len(r.Rates))
			for i, v := range r.Rates {
				rates[i] = fmt.Sprintf("%.0f", v)
			}
			w("| %s | %d | %s | %s | %s |\n", r.Scenario, r.Conc, ret, displayName[r.Contender], strings.Join(rates, ", "))
		}
		w("\n")
	}
	return b.String()
}

func runLoads(runs []*Run) []string {
	var out []string
	for _, r := range runs {
		out = append(out, r.LoadAvg)
	}
	return out
}

func machine() string {
	cpu := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := "?"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				kb, _ := strconv.ParseFloat(strings.Fields(v)[0], 64)
				mem = fmt.Sprintf("%.1f GiB RAM", kb/1024/1024)
			}
		}
	}
	return fmt.Sprintf("%d CPUs (nproc), %s, %s, %s/%s", runtime.NumCPU(), cpu, mem, runtime.GOOS, runtime.GOARCH)
}

func (e *env) versions() string {
	v := []string{"Go " + strings.TrimPrefix(runtime.Version(), "go")}
	if out, err := exec.Command("git", "-C", e.dir, "rev-parse", "--short", "HEAD").Output(); err == nil {
		dirty := ""
		if st, err := exec.Command("git", "-C", e.dir, "status", "--porcelain", "--", "../../jobq").Output(); err == nil && len(st) > 0 {
			dirty = " with uncommitted jobq changes in the work tree"
		}
		v = append(v, "jobq at "+strings.TrimSpace(string(out))+dirty)
	}
	if b, err := os.ReadFile(filepath.Join(e.dir, "node", "node_modules", "bullmq", "package.json")); err == nil {
		var p struct{ Version string }
		_ = json.Unmarshal(b, &p)
		v = append(v, "BullMQ "+p.Version)
	}
	if b, err := os.ReadFile(filepath.Join(e.dir, "node", "node_modules", "ioredis", "package.json")); err == nil {
		var p struct{ Version string }
		_ = json.Unmarshal(b, &p)
		v = append(v, "ioredis "+p.Version)
	}
	if out, err := exec.Command("node", "--version").Output(); err == nil {
		v = append(v, "Node "+strings.TrimPrefix(strings.TrimSpace(string(out)), "v"))
	}
	v = append(v, "Asynq "+modVersion("github.com/hibiken/asynq"), "River "+modVersion("github.com/riverqueue/river"),
		"pgx "+modVersion("github.com/jackc/pgx/v5"), "go-redis "+modVersion("github.com/redis/go-redis/v9"),
		"modernc.org/sqlite "+modVersion("modernc.org/sqlite"))
	if e.redis != nil {
		v = append(v, "Redis "+e.redis.version)
	}
	if e.pgVersion != "" {
		v = append(v, "PostgreSQL "+e.pgVersion)
	}
	return strings.Join(v, ", ")
}

// writeSection puts report between the generated-results markers of the
// "## Queue" section of path, creating the section (at the end) or the
// markers (at the section's end) when missing. Text outside the markers is
// kept.
func writeSection(path, report string) error {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	doc := string(b)
	block := beginMark + "\n\n" + report + endMark + "\n"
	if i := strings.Index(doc, beginMark); i >= 0 {
		if j := strings.Index(doc, endMark); j > i {
			doc = doc[:i] + block + doc[j+len(endMark)+1:]
			return os.WriteFile(path, []byte(doc), 0o644)
		}
	}
	i := strings.Index(doc, "\n## Queue\n")
	if i < 0 {
		if !strings.HasSuffix(doc, "\n") && doc != "" {
			doc += "\n"
		}
		doc += "\n## Queue\n\n" + block
		return os.WriteFile(path, []byte(doc), 0o644)
	}
	rest := doc[i+len("\n## Queue\n"):]
	j := strings.Index(rest, "\n## ")
	if j < 0 {
		j = len(rest)
	}
	sec := strings.TrimRight(rest[:j], "\n") + "\n\n" + block
	doc = doc[:i] + "\n## Queue\n" + sec + rest[j:]
	return os.WriteFile(path, []byte(doc), 0o644)
}
