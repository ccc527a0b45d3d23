package faults

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// long reports whether the scenarios run at full size (ATLAS_TEST_LONG=1).
func long() bool { return os.Getenv("ATLAS_TEST_LONG") == "1" }

// pick returns short in the default mode and full with ATLAS_TEST_LONG=1.
func pick[T any](short, full T) T {
	if long() {
		return full
	}
	return short
}

// row is one scenario's accounting.
type row struct {
	Scenario   string
	Backend    string
	Offered    int
	Completed  int
	Duplicated int
	Lost       int
	// Recovery is the longest time from a fault to work resuming (0: not
	// applicable).
	Recovery time.Duration
	// Bound is the recovery time the scenario asserts (0: none).
	Bound time.Duration
	Notes string
	// Mode and Result are filled in by record.
	Mode, Result, Date string
}

var report struct {
	mu   sync.Mutex
	rows []row
}

// record adds a scenario's accounting to the report and the test log.
func record(t testing.TB, r row) {
	t.Helper()
	t.Logf("accounting %s/%s: offered %d, completed %d, duplicated %d, lost %d, recovery %s (bound %s); %s",
		r.Scenario, r.Backend, r.Offered, r.Completed, r.Duplicated, r.Lost, r.Recovery, r.Bound, r.Notes)
	r.Mode = pick("short", "long")
	r.Result = "pass"
	if t.Failed() {
		r.Result = "FAIL"
	}
	r.Date = time.Now().UTC().Format("2006-01-02")
	report.mu.Lock()
	defer report.mu.Unlock()
	report.rows = append(report.rows, r)
}

// tableHeader starts the generated table.
const tableHeader = "| Scenario | Backend | Mode | Date | Checks | Offered | Completed | Duplicated | Lost | Recovery (max) | Bound | Notes |\n" +
	"|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---|\n"

// Markers around the generated table in docs/RELIABILITY.md.
const (
	tableBegin = "<!-- faults:table:begin (written by ATLAS_FAULTS_REPORT=1 go test ./internal/faults/; do not edit) -->"
	tableEnd   = "<!-- faults:table:end -->"
)

// writeReport replaces the generated table in docs/RELIABILITY.md with
// this run's rows.
func writeReport() error {
	report.mu.Lock()
	rows := append([]row(nil), report.rows...)
	report.mu.Unlock()
	host, _ := os.Hostname()
	var b strings.Builder
	fmt.Fprintf(&b, "Machine: %s (%s/%s, %d CPUs, %s), shared with other builds and tests while it ran.\n\n",
		host, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	b.WriteString(tableHeader)
	fresh := map[string]bool{}
	var lines []string
	for _, r := range rows {
		key := "| " + r.Scenario + " | " + r.Backend + " | " + r.Mode + " |"
		fresh[key] = true
		lines = append(lines, fmt.Sprintf("%s %s | %s | %d | %d | %d | %d | %s | %s | %s |", key, r.Date, r.Result,
			r.Offered, r.Completed, r.Duplicated, r.Lost, dur(r.Recovery), dur(r.Bound), r.Notes))
	}
	path := filepath.Join("..", "..", "docs", "RELIABILITY.md")
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	i, j := bytes.Index(old, []byte(tableBegin)), bytes.Index(old, []byte(tableEnd))
	if i < 0 || j < i {
		return fmt.Errorf("%s: no table markers", path)
	}
	// keep rows of scenarios (and modes) this run did not produce
	for _, line := range strings.Split(string(old[i+len(tableBegin):j]), "\n") {
		cells := strings.Split(line, " | ")
		if !strings.HasPrefix(line, "| ") || len(cells) < 4 || strings.HasPrefix(line, tableHeader[:20]) || strings.HasPrefix(line, "|---") {
			continue
		}
		if key := strings.Join(cells[:3], " | ") + " |"; !fresh[key] {
			lines = append(lines, line)
		}
	}
	sort.Strings(lines)
	b.WriteString(strings.Join(lines, "\n"))
	b.WriteString("\n")
	var out bytes.Buffer
	out.Write(old[:i+len(tableBegin)])
	out.WriteString("\n")
	out.WriteString(b.String())
	out.Write(old[j:])
	return os.WriteFile(path, out.Bytes(), 0o644)
}

func dur(d time.Duration) string {
	if d == 0 {
		return "–"
	}
	if d < time.Second {
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}

func TestMain(m *testing.M) {
	if childMain() {
		return
	}
	code := m.Run()
	if os.Getenv("ATLAS_FAULTS_REPORT") == "1" {
		if err := writeReport(); err != nil {
			fmt.Fprintln(os.Stderr, "faults report:", err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}
