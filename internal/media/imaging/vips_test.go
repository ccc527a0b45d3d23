//go:build vips

package imaging

import (
	"os"
	"path/filepath"

	"github.com/davidbyttow/govips/v2/vips"
	"testing"
)

// TestMain owns the libvips engine shared by this package's vips tests:
// libvips starts once per process and cannot be restarted.
func TestMain(m *testing.M) {
	e, err := NewVipsEngine(Config{Concurrency: 1})
	if err != nil {
		panic(err)
	}
	testVips = e
	code := m.Run()
	e.Close()
	os.Exit(code)
}

// testVips is the engine started by TestMain.
var testVips *VipsEngine

func TestVipsEngine(t *testing.T) {
	t.Parallel()
	engineSuite(t, testVips)
}

func TestVipsBlocksOtherLoaders(t *testing.T) {
	t.Parallel()
	for name, data := range map[string]string{
		"x.ppm": "P3\n1 1\n255\n0 0 0\n",
		"x.svg": `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>`,
		"x.csv": "1,2,3\n",
	} {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		if img, err := vips.NewImageFromFile(p); err == nil {
			img.Close()
			t.Errorf("libvips loaded %s; its loader should be blocked", name)
		}
	}
	// The allowed loaders still work.
	if img, err := vips.NewImageFromFile(writeTemp(t, makePNG(t, 4, 4))); err != nil {
		t.Errorf("png blocked: %v", err)
	} else {
		img.Close()
	}
}

func BenchmarkVipsSharpShape(b *testing.B) { benchEngine(b, testVips, sharpShape) }

func BenchmarkVipsDefaultSet(b *testing.B) { benchEngine(b, testVips, Spec{}) }

func BenchmarkVipsSharpShapeParallel(b *testing.B) { benchParallel(b, testVips, sharpShape) }

// TestVipsMaterialize checks materialize's reach into govips' ImageRef: the
// in-memory image replaces the pipeline and can be encoded repeatedly.
func TestVipsMaterialize(t *testing.T) {
	t.Parallel()
	img, err := vips.LoadThumbnailFromFile(writeTemp(t, makePNG(t, 64, 48)), 32, 32, vips.InterestingNone, vips.SizeDown, vips.NewImportParams())
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if _, err := vipsImageField(img); err != nil {
		t.Fatal(err)
	}
	if err := materialize(img); err != nil {
		t.Fatal(err)
	}
	if img.Width() != 32 || img.Height() != 24 {
		t.Fatalf("materialised %d×%d, want 32×24", img.Width(), img.Height())
	}
	for range 2 {
		if _, err := exportVips(img, WebP, 80); err != nil {
			t.Fatal(err)
		}
	}
}
