package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/sevra/atlas/internal/media/imaging"
)

// TestMain lets the test binary serve as the Atlas children (the harness
// re-executes os.Executable() with "child-atlas" or "child-upload").
func TestMain(m *testing.M) {
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
	os.Exit(m.Run())
}

// TestSmoke runs the whole harness with a 1600×1200 fixture, N=2 and 3
// uploads (about 30 s on 2 busy cores): every contender, both upload
// modes. It checks the harness and measures nothing. It needs node/npm
// (it runs npm ci when node_modules is missing), so it runs only with
// ATLAS_BENCH_SMOKE=1:
//
//	ATLAS_BENCH_SMOKE=1 go test -tags vips -run Smoke -v ./bench/media
func TestSmoke(t *testing.T) {
	if os.Getenv("ATLAS_BENCH_SMOKE") != "1" {
		t.Skip("set ATLAS_BENCH_SMOKE=1 to run the media benchmark smoke run")
	}
	if _, err := os.Stat(filepath.Join("node", "node_modules", "sharp")); err != nil {
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = "node"
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("npm ci: %v", err)
		}
	}
	cfg := defaultConfig()
	cfg.smoke()
	cfg.Dir = t.TempDir()
	if imaging.DefaultEngineName != "libvips" {
		cfg.Contenders = "atlas-pure,sharp-pureset"
	}
	out, err := os.CreateTemp(t.TempDir(), "report-*.md")
	if err != nil {
		t.Fatal(err)
	}
	if err := run(cfg, out); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out.Name())
	t.Logf("\n%s", b)
}

func TestFixtureDeterministic(t *testing.T) {
	a := synthPhoto(64, 48, 7)
	b := synthPhoto(64, 48, 7)
	if string(a.Pix) != string(b.Pix) {
		t.Fatal("synthPhoto is not deterministic")
	}
}
