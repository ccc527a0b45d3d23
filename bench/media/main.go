// Command media benchmarks Atlas's image pipeline (internal/media):
//
//  1. Variant throughput and peak memory: Atlas's generate-variants
//     handler (media.Service.GenerateVariants with the libvips engine,
//     build tag vips; the pure-Go engine too) against Sharp 0.35 in Node
//     (node/bench.js), both making the same variant set from the same
//     synthetic 12 MP JPEG with the same encoder settings and the same
//     number of images in flight. Every run is a child process of its own
//     (Atlas: this binary re-executed as "child-atlas"; Sharp: node), run
//     alternately A/B/A/B; the parent takes each child's max RSS from
//     wait4 and reads /proc/loadavg around it.
//  2. Upload latency: N sequential POST /api/v1/media of a ~5 MB JPEG
//     through the real handler chain on a loopback server, in async mode
//     (202 once the original is stored) and in sync mode (201 after the
//     variants are made in the request); p50/p99 and the reduction.
//
// Run it with ./run.sh (installs the pinned npm packages, then
// `go run -tags vips . "$@"`). Flags: see -h. Method and figures:
// docs/BENCHMARKS.md, section "Media".
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/sevra/atlas/internal/media/imaging"
)

func main() {
	if len(os.Args) > 2 {
		switch os.Args[1] {
		case "child-atlas":
			childAtlas(os.Args[2])
			return
		case "child-upload":
			childUpload(os.Args[2])
			return
		}
	}
	cfg := defaultConfig()
	flag.IntVar(&cfg.N, "n", cfg.N, "images per throughput run")
	flag.IntVar(&cfg.Conc, "conc", cfg.Conc, "images in flight at once, both sides (default: CPU count)")
	flag.IntVar(&cfg.Rounds, "rounds", cfg.Rounds, "A/B rounds (each runs every contender once, in order)")
	flag.StringVar(&cfg.Contenders, "contenders", cfg.Contenders, "throughput contenders, in run order: atlas-vips, sharp, atlas-pure, sharp-pureset (Sharp making the pure engine's set: no AVIF)")
	flag.StringVar(&cfg.Level, "level", cfg.Level, "Atlas side: handler (GenerateVariants: engine + storage + row) or engine (imaging.Engine.Process only)")
	flag.IntVar(&cfg.Uploads, "uploads", cfg.Uploads, "timed async uploads (0 skips the latency part)")
	flag.IntVar(&cfg.SyncUploads, "sync-uploads", cfg.SyncUploads, "timed sync uploads")
	flag.StringVar(&cfg.Dir, "dir", cfg.Dir, "scratch directory (fixture, outputs, databases)")
	flag.StringVar(&cfg.JSON, "json", "", "write the raw results to this file")
	flag.BoolVar(&cfg.Smoke, "smoke", false, "tiny run (small fixture, N=2, 3 uploads) that checks the harness; measures nothing")
	flag.Parse()
	if cfg.Smoke {
		cfg.smoke()
	}
	if err := run(cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

type config struct {
	N, Conc, Rounds      int
	Contenders, Level    string
	Uploads, SyncUploads int
	Dir, JSON            string
	Smoke                bool
	Fixture              fixtureSpec
	NodeDir              string
}

func defaultConfig() config {
	return config{N: 16, Conc: runtime.NumCPU(), Rounds: 2, Contenders: "atlas-vips,sharp,atlas-pure,sharp-pureset",
		Level: "handler", Uploads: 30, SyncUploads: 30, Dir: filepath.Join(os.TempDir(), "atlas-bench-media"),
		Fixture: photo12MP, NodeDir: "node"}
}

func (c *config) smoke() {
	c.N, c.Rounds, c.Uploads, c.SyncUploads = 2, 1, 3, 2
	c.Fixture = fixtureSpec{W: 1600, H: 1200, Quality: 90, Seed: 1}
}

// runResult is one throughput child's outcome.
type runResult struct {
	Round      int         `json:"round"`
	Contender  string      `json:"contender"`
	Child      childResult `json:"child"`
	MaxRSSKiB  int64       `json:"maxRSSKiB"` // wait4
	CPUSeconds float64     `json:"cpuSeconds"`
	Wall       float64     `json:"wallSeconds"` // whole process
	LoadBefore string      `json:"loadBefore"`
	LoadAfter  string      `json:"loadAfter"`
}

type uploadRun struct {
	Result     uploadResult `json:"result"`
	MaxRSSKiB  int64        `json:"maxRSSKiB"`
	LoadBefore string       `json:"loadBefore"`
	LoadAfter  string       `json:"loadAfter"`
}

type report struct {
	Machine    map[string]string `json:"machine"`
	Fixture    map[string]any    `json:"fixture"`
	Targets    []string          `json:"targets"`
	Runs       []runResult       `json:"runs"`
	Uploads    []uploadRun       `json:"uploads"`
	Config     config            `json:"config"`
	StartedAt  time.Time         `json:"startedAt"`
	FinishedAt time.Time         `json:"finishedAt"`
}

// nodeSpec is node/bench.js's argument.
type nodeSpec struct {
	Src     string         `json:"src"`
	OutDir  string         `json:"outDir"`
	N       int            `json:"n"`
	Conc    int            `json:"conc"`
	Warmup  int            `json:"warmup"`
	Targets []nodeTarget   `json:"targets"`
	Quality map[string]int `json:"quality"`
	Effort  map[string]int `json:"effort"`
}

type nodeTarget struct {
	Width  int    `json:"width"`
	Format string `json:"format"`
}

// targetsFor returns Atlas's variant set for a source w pixels wide, as
// an engine that encodes formats would make it (DefaultSpec).
func targetsFor(w int, formats ...imaging.Format) []nodeTarget {
	var out []nodeTarget
	for _, t := range imaging.DefaultSpec().Targets(w, func(f imaging.Format) bool { return slices.Contains(formats, f) }) {
		out = append(out, nodeTarget{Width: t.Width, Format: string(t.Format)})
	}
	return out
}

func run(cfg config, stdout io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return err
	}
	rep := report{Machine: machine(cfg.NodeDir), Config: cfg, StartedAt: time.Now()}
	fmt.Fprintf(os.Stderr, "machine: %v\n", rep.Machine)
	src, err := writeFixture(filepath.Join(cfg.Dir, "fixtures"), cfg.Fixture)
	if err != nil {
		return fmt.Errorf("fixture: %w", err)
	}
	st, _ := os.Stat(src)
	rep.Fixture = map[string]any{"path": src, "bytes": st.Size(), "width": cfg.Fixture.W, "height": cfg.Fixture.H,
		"quality": cfg.Fixture.Quality, "sha256": sha256File(src)}
	fmt.Fprintf(os.Stderr, "fixture: %v\n", rep.Fixture)

	q := imaging.DefaultSpec().Quality
	vipsSet := targetsFor(cfg.Fixture.W, imaging.JPEG, imaging.WebP, imaging.AVIF)
	pureSet := targetsFor(cfg.Fixture.W, imaging.JPEG, imaging.WebP)
	for _, t := range vipsSet {
		rep.Targets = append(rep.Targets, fmt.Sprintf("%dw.%s", t.Width, t.Format))
	}
	contenders := strings.Split(cfg.Contenders, ",")
	if cfg.N > 0 {
		for round := 1; round <= cfg.Rounds; round++ {
			for _, c := range contenders {
				out := filepath.Join(cfg.Dir, "run-"+c)
				os.RemoveAll(out)
				var cmd *exec.Cmd
				switch c {
				case "atlas-vips", "atlas-pure":
					engine := map[string]string{"atlas-vips": "libvips", "atlas-pure": "pure-go"}[c]
					spec, _ := json.Marshal(atlasSpec{Src: src, Dir: out, N: cfg.N, Conc: cfg.Conc, Warmup: 1, Engine: engine, Level: cfg.Level})
					cmd = exec.Command(exe, "child-atlas", string(spec))
				case "sharp", "sharp-pureset":
					set := vipsSet
					if c == "sharp-pureset" {
						set = pureSet
					}
					spec, _ := json.Marshal(nodeSpec{Src: src, OutDir: out, N: cfg.N, Conc: cfg.Conc, Warmup: 1, Targets: set,
						Quality: map[string]int{"jpeg": q[imaging.JPEG], "webp": q[imaging.WebP], "avif": q[imaging.AVIF]},
						Effort:  map[string]int{"webp": 4, "avif": 4}})
					cmd = exec.Command("node", "bench.js", string(spec))
					cmd.Dir = cfg.NodeDir
					cmd.Env = append(os.Environ(), fmt.Sprintf("UV_THREADPOOL_SIZE=%d", cfg.Conc))
				default:
					return fmt.Errorf("unknown contender %q", c)
				}
				r, err := runChild(cmd)
				os.RemoveAll(out)
				if err != nil {
					return fmt.Errorf("%s: %w", c, err)
				}
				r.Round, r.Contender = round, c
				rep.Runs = append(rep.Runs, r)
				fmt.Fprintf(os.Stderr, "round %d %-13s %6.3f img/s  %4d MiB peak RSS  cpu %.1fs  load %s → %s\n", round, c,
					float64(r.Child.Images)/r.Child.Seconds, r.MaxRSSKiB/1024, r.CPUSeconds, r.LoadBefore, r.LoadAfter)
			}
		}
	}
	if cfg.Uploads > 0 {
		engine := imaging.DefaultEngineName
		for _, m := range []struct {
			mode string
			n    int
		}{{"async", cfg.Uploads}, {"sync", cfg.SyncUploads}} {
			out := filepath.Join(cfg.Dir, "upload-"+m.mode)
			os.RemoveAll(out)
			spec, _ := json.Marshal(uploadSpec{Src: src, Dir: out, Mode: m.mode, N: m.n, Warmup: 1, Engine: engine})
			u, err := runUploadChild(exec.Command(exe, "child-upload", string(spec)))
			os.RemoveAll(out)
			if err != nil {
				return fmt.Errorf("upload %s: %w", m.mode, err)
			}
			rep.Uploads = append(rep.Uploads, u)
			p50, p99 := percentile(u.Result.MillisAll, 50), percentile(u.Result.MillisAll, 99)
			fmt.Fprintf(os.Stderr, "upload %-5s n=%d p50 %.1f ms p99 %.1f ms  load %s → %s\n", m.mode, m.n, p50, p99, u.LoadBefore, u.LoadAfter)
		}
	}
	rep.FinishedAt = time.Now()
	if cfg.JSON != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(cfg.JSON, b, 0o644); err != nil {
			return err
		}
	}
	writeReport(stdout, rep)
	return nil
}

// runChild runs a throughput child and parses its DONE line; max RSS and
// CPU time come from wait4.
func runChild(cmd *exec.Cmd) (runResult, error) {
	var r runResult
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	r.LoadBefore = loadavg()
	t0 := time.Now()
	err := cmd.Run()
	r.Wall = time.Since(t0).Seconds()
	r.LoadAfter = loadavg()
	if err != nil {
		return r, fmt.Errorf("%v\n%s", err, tail(stderr.String()))
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	r.MaxRSSKiB = ru.Maxrss
	r.CPUSeconds = tvSeconds(ru.Utime) + tvSeconds(ru.Stime)
	line, err := doneLine(stdout.String())
	if err != nil {
		return r, fmt.Errorf("%v\n%s", err, tail(stderr.String()))
	}
	return r, json.Unmarshal([]byte(line), &r.Child)
}

func runUploadChild(cmd *exec.Cmd) (uploadRun, error) {
	var u uploadRun
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	u.LoadBefore = loadavg()
	err := cmd.Run()
	u.LoadAfter = loadavg()
	if err != nil {
		return u, fmt.Errorf("%v\n%s", err, tail(stderr.String()))
	}
	u.MaxRSSKiB = cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
	line, err := doneLine(stdout.String())
	if err != nil {
		return u, fmt.Errorf("%v\n%s", err, tail(stderr.String()))
	}
	return u, json.Unmarshal([]byte(line), &u.Result)
}

func doneLine(out string) (string, error) {
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if l, ok := strings.CutPrefix(sc.Text(), "DONE "); ok {
			return l, nil
		}
	}
	return "", errors.New("child printed no DONE line")
}

func tvSeconds(tv syscall.Timeval) float64 { return float64(tv.Sec) + float64(tv.Usec)/1e6 }

func tail(s string) string {
	if len(s) > 4000 {
		return "…" + s[len(s)-4000:]
	}
	return s
}

// loadavg is /proc/loadavg's three load averages.
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

// percentile is the nearest-rank percentile of xs.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	k := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(k, len(s)-1))]
}
