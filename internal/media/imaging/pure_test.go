package imaging

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"

	xwebp "golang.org/x/image/webp"
)

// writeTemp writes data to a file in t's temp dir and returns its path.
func writeTemp(t testing.TB, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// decodeOutput sniffs and decodes an encoded variant.
func decodeOutput(t testing.TB, o Output) image.Image {
	t.Helper()
	f, err := Sniff(o.Data)
	if err != nil || f != o.Format {
		t.Fatalf("output claims %s, sniffed %s (%v)", o.Format, f, err)
	}
	var img image.Image
	switch f {
	case JPEG:
		img, err = jpeg.Decode(bytes.NewReader(o.Data))
	case WebP:
		img, err = xwebp.Decode(bytes.NewReader(o.Data))
	default:
		return nil
	}
	if err != nil {
		t.Fatalf("decode %s output: %v", f, err)
	}
	if b := img.Bounds(); b.Dx() != o.Width || b.Dy() != o.Height {
		t.Fatalf("%s output is %v, claims %d×%d", f, b, o.Width, o.Height)
	}
	return img
}

// engineSuite is run against every engine compiled into the build.
func engineSuite(t *testing.T, e Engine) {
	t.Run("widths and formats", func(t *testing.T) {
		t.Parallel()
		src := writeTemp(t, makeJPEG(t, 1000, 500, 0))
		res, err := e.Process(context.Background(), src, Spec{Widths: []int{320, 640, 1920}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Width != 1000 || res.Height != 500 {
			t.Fatalf("source %d×%d, want 1000×500", res.Width, res.Height)
		}
		seen := map[int]map[Format]bool{}
		for _, o := range res.Outputs {
			if o.Width > 1000 {
				t.Errorf("upscaled to %d", o.Width)
			}
			decodeOutput(t, o)
			if seen[o.Width] == nil {
				seen[o.Width] = map[Format]bool{}
			}
			seen[o.Width][o.Format] = true
		}
		for _, w := range []int{320, 640} {
			if !seen[w][JPEG] || !seen[w][WebP] || seen[w][AVIF] != e.CanEncode(AVIF) {
				t.Errorf("width %d formats %v", w, seen[w])
			}
		}
		if len(seen) != 2 {
			t.Errorf("widths %v, want 320 and 640 only", seen)
		}
		if len(res.Placeholder) < 20 {
			t.Errorf("placeholder %q", res.Placeholder)
		}
	})
	t.Run("exif orientation 6 makes a landscape portrait", func(t *testing.T) {
		t.Parallel()
		src := writeTemp(t, makeJPEG(t, 400, 200, 6))
		res, err := e.Process(context.Background(), src, Spec{Widths: []int{100}, Formats: []Format{JPEG}, AVIFSmallest: -1})
		if err != nil {
			t.Fatal(err)
		}
		if res.Width != 200 || res.Height != 400 || len(res.Outputs) != 1 {
			t.Fatalf("result %d×%d with %d outputs", res.Width, res.Height, len(res.Outputs))
		}
		o := res.Outputs[0]
		if o.Width != 100 || o.Height != 200 {
			t.Fatalf("output %d×%d, want 100×200", o.Width, o.Height)
		}
		// The source's left half is red; rotated 90° clockwise it becomes the top.
		img := decodeOutput(t, o)
		r, _, b, _ := img.At(50, 20).RGBA()
		if r < b {
			t.Errorf("top of the rotated image is not red: r=%d b=%d", r>>8, b>>8)
		}
		if _, err := ReadHeader(bytes.NewReader(o.Data), int64(len(o.Data))); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(o.Data, []byte("Exif")) {
			t.Error("output kept Exif metadata")
		}
	})
	t.Run("small png keeps its size", func(t *testing.T) {
		t.Parallel()
		src := writeTemp(t, makePNG(t, 64, 48))
		res, err := e.Process(context.Background(), src, Spec{})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Outputs {
			if o.Width != 64 || o.Height != 48 {
				t.Errorf("%s %d×%d, want the source size", o.Format, o.Width, o.Height)
			}
		}
	})
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"truncated", makeJPEG(t, 300, 300, 0)[:400], ErrCorrupt},
		{"bomb", pngBomb(14000, 14000), ErrTooManyPixels},
		{"not an image", []byte("#!/bin/sh\nrm -rf /\n"), ErrUnsupportedFormat},
	} {
		t.Run("hostile "+tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := e.Process(context.Background(), writeTemp(t, tc.data), Spec{})
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("missing file is not permanent", func(t *testing.T) {
		t.Parallel()
		_, err := e.Process(context.Background(), filepath.Join(t.TempDir(), "nope"), Spec{})
		if err == nil || errors.Is(err, ErrCorrupt) || errors.Is(err, ErrUnsupportedFormat) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestPureEngine(t *testing.T) {
	t.Parallel()
	engineSuite(t, NewPureEngine(nil))
}

func TestOrient(t *testing.T) {
	t.Parallel()
	src := image.NewRGBA(image.Rect(0, 0, 3, 2)) // pixel (x,y) has R = 10x+y
	for y := 0; y < 2; y++ {
		for x := 0; x < 3; x++ {
			src.Pix[src.PixOffset(x, y)] = uint8(10*x + y)
		}
	}
	// For each orientation: the displayed pixel at (0,0) and the size.
	tests := []struct {
		o, w, h int
		at00    uint8
	}{
		{1, 3, 2, 0}, {2, 3, 2, 20}, {3, 3, 2, 21}, {4, 3, 2, 1},
		{5, 2, 3, 0}, {6, 2, 3, 1}, {7, 2, 3, 21}, {8, 2, 3, 20},
	}
	for _, tc := range tests {
		d := orient(src, tc.o)
		if d.Bounds().Dx() != tc.w || d.Bounds().Dy() != tc.h || d.Pix[0] != tc.at00 {
			t.Errorf("orientation %d: %v with (0,0)=%d, want %d×%d with %d", tc.o, d.Bounds(), d.Pix[0], tc.w, tc.h, tc.at00)
		}
	}
}
