package imaging

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// benchSource writes, once per process, a 2725×2225 q90 JPEG (the source
// size of Sharp's published benchmark) with photo-like detail: smooth
// gradients plus deterministic noise, so the encoder has work to do.
var benchSource = sync.OnceValues(func() (string, error) {
	const w, h = 2725, 2225
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(1, 2))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			n := uint8(rng.IntN(24))
			img.SetRGBA(x, y, color.RGBA{uint8(x*255/w) + n, uint8(y*255/h) + n, uint8((x+y)%256)/2 + n, 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "atlas-media-bench-")
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, "2725x2225.jpg")
	return p, os.WriteFile(p, buf.Bytes(), 0o600)
})

// sharpShape is Sharp's benchmark: JPEG 2725×2225 → 720×588 JPEG q80.
var sharpShape = Spec{Widths: []int{720}, Formats: []Format{JPEG}, AVIFSmallest: -1}

// benchEngine runs e on the benchmark source with spec; it reports ops/s.
func benchEngine(b *testing.B, e Engine, spec Spec) {
	src, err := benchSource()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := e.Process(ctx, src, spec); err != nil { // warm up (wazero compile, libvips init)
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		res, err := e.Process(ctx, src, spec)
		if err != nil {
			b.Fatal(err)
		}
		if len(spec.Widths) == 1 && (res.Outputs[0].Width != 720 || res.Outputs[0].Height != 588) {
			b.Fatalf("output %d×%d", res.Outputs[0].Width, res.Outputs[0].Height)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

func BenchmarkPureSharpShape(b *testing.B) { benchEngine(b, NewPureEngine(nil), sharpShape) }

func BenchmarkPureDefaultSet(b *testing.B) { benchEngine(b, NewPureEngine(nil), Spec{}) }

// benchParallel is benchEngine with GOMAXPROCS concurrent operations, the
// way Sharp's benchmark keeps every core busy.
func benchParallel(b *testing.B, e Engine, spec Spec) {
	src, err := benchSource()
	if err != nil {
		b.Fatal(err)
	}
	if _, err := e.Process(context.Background(), src, spec); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.Process(context.Background(), src, spec); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

func BenchmarkPureSharpShapeParallel(b *testing.B) { benchParallel(b, NewPureEngine(nil), sharpShape) }
