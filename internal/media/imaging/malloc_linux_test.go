package imaging

import (
	"bufio"
	"bytes"
	"image"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/gen2brain/webp"
)

// vmRSS is this process's resident set size in bytes.
func vmRSS(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// TestPureEngineWebPEncodesGiveMemoryBack checks tuneWebPMalloc: after
// translucent 1920×1920 WebP encodes through the system's libwebp (about
// 93 MB of C memory each at its peak), the process holds little more than
// before. With glibc's dynamic mmap threshold about 47 MB stayed resident.
func TestPureEngineWebPEncodesGiveMemoryBack(t *testing.T) {
	if err := webp.Dynamic(); err != nil {
		t.Skipf("libwebp is not loaded dynamically (%v): the encoder allocates in the Go heap", err)
	}
	if os.Getenv("MALLOC_MMAP_THRESHOLD_") != "" || os.Getenv("GLIBC_TUNABLES") != "" {
		t.Skip("the operator's malloc settings win over the engine's")
	}
	NewPureEngine(nil) // applies the tuning
	img := image.NewRGBA(image.Rect(0, 0, 1920, 1920))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
		if i%4 == 3 {
			img.Pix[i] = byte(i / 4 % 200) // translucent: the alpha plane is encoded too
		}
	}
	debug.FreeOSMemory()
	before := vmRSS(t)
	for range 3 {
		var buf bytes.Buffer
		if err := webp.Encode(&buf, img, webp.Options{Quality: 80}); err != nil {
			t.Fatal(err)
		}
	}
	debug.FreeOSMemory()
	if grew := vmRSS(t) - before; grew > 20<<20 {
		t.Errorf("RSS grew %d MB over 3 WebP encodes; want under 20 MB", grew>>20)
	}
}
