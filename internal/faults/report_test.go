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
	report.mu.Lock()
	defer report.mu.Unlock()
	report.rows = append(report.rows, r)
}

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
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].Scenario != rows[j].Scenario {
			return rows[i].Scenario < rows[j].Scenario
		}
		return rows[i].Backend < rows[j].Backend
	})
	var b strings.Builder
	mode := "short (CI default)"
	if long() {
		mode = "long (ATLAS_TEST_LONG=1)"
	}
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "Mode: %s. Run: %s on %s (%s/%s, %d CPUs, %s).\n\n", mode,
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), host, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	b.WriteString("| Scenario | Backend | Offered | Completed | Duplicated | Lost | Recovery (max) | Bound | Notes |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %d | %s | %s | %s |\n", r.Scenario, r.Backend,
			r.Offered, r.Completed, r.Duplicated, r.Lost, dur(r.Recovery), dur(r.Bound), r.Notes)
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
