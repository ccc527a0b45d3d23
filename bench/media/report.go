package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// machine describes the host and the library versions in use.
func machine(nodeDir string) map[string]string {
	m := map[string]string{"nproc": fmt.Sprint(runtime.NumCPU()), "go": runtime.Version(), "goarch": runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m["cpu"] = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		l, _, _ := strings.Cut(string(b), "\n")
		m["mem"] = strings.Join(strings.Fields(l)[1:], " ")
	}
	if out, err := exec.Command("pkg-config", "--modversion", "vips").Output(); err == nil {
		m["libvips (Atlas, system)"] = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("node", "--version").Output(); err == nil {
		m["node"] = strings.TrimSpace(string(out))
	}
	if b, err := os.ReadFile(filepath.Join(nodeDir, "node_modules", "sharp", "package.json")); err == nil {
		var p struct{ Version string }
		json.Unmarshal(b, &p)
		m["sharp"] = p.Version
	}
	return m
}

func sha256File(p string) string {
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil))
}

// writeReport prints the results as Markdown: one row per run, in run
// order, then per-round ratios, then the upload latencies.
func writeReport(w io.Writer, rep report) {
	fmt.Fprintf(w, "Machine: %s × %s, %s RAM; %s; libvips %s (Atlas); node %s, sharp %s",
		rep.Machine["nproc"], rep.Machine["cpu"], rep.Machine["mem"], rep.Machine["go"],
		rep.Machine["libvips (Atlas, system)"], rep.Machine["node"], rep.Machine["sharp"])
	for _, r := range rep.Runs {
		if v := r.Child.Versions; v != nil {
			fmt.Fprintf(w, " (its libvips %s, aom %s, libwebp %s, mozjpeg %s, libheif %s)", v["vips"], v["aom"], v["webp"], v["mozjpeg"], v["heif"])
			break
		}
	}
	fmt.Fprintf(w, ".\nFixture: %v×%v q%v JPEG, %v bytes, sha256 %s.\nVariant set (%d): %s.\n\n",
		rep.Fixture["width"], rep.Fixture["height"], rep.Fixture["quality"], rep.Fixture["bytes"], rep.Fixture["sha256"],
		len(rep.Targets), strings.Join(rep.Targets, " "))
	if len(rep.Runs) > 0 {
		fmt.Fprintf(w, "N=%d images per run, %d in flight, level %s, run order as listed.\n\n", rep.Config.N, rep.Config.Conc, rep.Config.Level)
		fmt.Fprintln(w, "| Round | Contender | Outputs/image | images/s | s/image (wall÷N) | CPU s/image | Peak RSS MiB | loadavg before → after |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
		for _, r := range rep.Runs {
			c := r.Child
			fmt.Fprintf(w, "| %d | %s | %d | %.3f | %.2f | %.2f | %d | %s → %s |\n", r.Round, r.Contender, c.Outputs/max(1, c.Images),
				float64(c.Images)/c.Seconds, c.Seconds/float64(c.Images), r.CPUSeconds/float64(c.Images+1), r.MaxRSSKiB/1024, r.LoadBefore, r.LoadAfter)
		}
		fmt.Fprintln(w)
		rounds := map[int]map[string]runResult{}
		for _, r := range rep.Runs {
			if rounds[r.Round] == nil {
				rounds[r.Round] = map[string]runResult{}
			}
			rounds[r.Round][r.Contender] = r
		}
		for round := 1; round <= rep.Config.Rounds; round++ {
			rr := rounds[round]
			for _, pair := range [][2]string{{"atlas-vips", "sharp"}, {"atlas-pure", "sharp-pureset"}} {
				a, okA := rr[pair[0]]
				b, okB := rr[pair[1]]
				if !okA || !okB {
					continue
				}
				ta, tb := float64(a.Child.Images)/a.Child.Seconds, float64(b.Child.Images)/b.Child.Seconds
				fmt.Fprintf(w, "- round %d: %s / %s throughput = %.2f×; peak RSS %d vs %d MiB (%.2f×)\n", round, pair[0], pair[1],
					ta/tb, a.MaxRSSKiB/1024, b.MaxRSSKiB/1024, float64(a.MaxRSSKiB)/float64(b.MaxRSSKiB))
			}
		}
		fmt.Fprintln(w)
	}
	if len(rep.Uploads) > 0 {
		fmt.Fprintf(w, "Upload latency, POST /api/v1/media, %v-byte JPEG, sequential:\n\n", rep.Uploads[0].Result.FileBytes)
		fmt.Fprintln(w, "| Mode | Engine | Uploads | Answer | p50 ms | p99 ms | max ms | variants | async drain s | Peak RSS MiB | loadavg before → after |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|")
		p50 := map[string]float64{}
		p99 := map[string]float64{}
		for _, u := range rep.Uploads {
			r := u.Result
			p50[r.Mode], p99[r.Mode] = percentile(r.MillisAll, 50), percentile(r.MillisAll, 99)
			drain := "–"
			if r.DrainSeconds > 0 {
				drain = fmt.Sprintf("%.1f", r.DrainSeconds)
			}
			fmt.Fprintf(w, "| %s | %s | %d | %d | %.1f | %.1f | %.1f | %d | %s | %d | %s → %s |\n", r.Mode, r.Engine, len(r.MillisAll), r.Status,
				p50[r.Mode], p99[r.Mode], percentile(r.MillisAll, 100), r.Variants, drain, u.MaxRSSKiB/1024, u.LoadBefore, u.LoadAfter)
		}
		if s, a := p50["sync"], p50["async"]; s > 0 && a > 0 {
			fmt.Fprintf(w, "\n- p50 reduction async vs sync: %.1f%% (%.0f× faster); p99 reduction: %.1f%%\n", 100*(1-a/s), s/a, 100*(1-p99["async"]/p99["sync"]))
		}
	}
}
