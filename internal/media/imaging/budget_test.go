package imaging

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"slices"
	"testing"

	"github.com/gen2brain/webp"
)

func TestCapTargetsBoundsTheVariantArea(t *testing.T) {
	pure := (&PureEngine{}).CanEncode // JPEG and WebP: two targets a width
	cases := []struct {
		name   string
		ow, oh int
		widths []int // distinct widths kept, descending
	}{
		{"landscape 4000×3000: all", 4000, 3000, []int{1920, 1280, 960, 640, 320}},
		{"portrait 3000×4000: 1920×2560 fits", 3000, 4000, []int{1920, 1280, 960, 640, 320}},
		{"2:3 portrait 2000×3000: 1920×2880 fits", 2000, 3000, []int{1920, 1280, 960, 640, 320}},
		{"tall 1920×8333: 1920 and 1280 wide are over 5.5 MP", 1920, 8333, []int{960, 640, 320}},
		{"300×50000: none fits, so 182 wide (182×30333)", 300, 50000, []int{182}},
	}
	for _, c := range cases {
		got := capTargets(Spec{}.Targets(c.ow, pure), c.ow, c.oh)
		var widths []int
		for _, tg := range got {
			if !slices.Contains(widths, tg.Width) {
				widths = append(widths, tg.Width)
			}
		}
		if !slices.Equal(widths, c.widths) {
			t.Errorf("%s: widths %v, want %v", c.name, widths, c.widths)
		}
		// JPEG at every width; WebP too, except over wasmMaxWebPPixels
		// (1280×1920) when the encoder is the WebAssembly build.
		for _, w := range c.widths {
			area := int64(w) * int64(variantHeight(w, c.ow, c.oh))
			wantWebP := webp.Dynamic() == nil || area <= 1280*1920
			if slices.Contains(got, Target{w, JPEG}) != true || slices.Contains(got, Target{w, WebP}) != wantWebP {
				t.Errorf("%s: width %d: targets %v, want JPEG and WebP %v", c.name, w, got, wantWebP)
			}
		}
	}
}

// jpegFrameOnly is a JPEG stream of a start-of-frame segment (marker sof,
// 3 components with the given sampling factors) and an empty scan: enough
// for headers and decode estimates, not for decoding.
func jpegFrameOnly(sof byte, w, h int, sampling ...byte) []byte {
	b := []byte{0xFF, 0xD8, 0xFF, sof, 0, 17, 8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), 3}
	for i, s := range sampling {
		b = append(b, byte(i+1), s, 0)
	}
	b = append(b, 0xFF, 0xDA, 0, 12, 3, 1, 0, 2, 0x11, 3, 0x11, 0, 63, 0) // start of scan, no data
	return append(b, 0xFF, 0xD9)
}

func TestJPEGDecodeBytes(t *testing.T) {
	var baseline bytes.Buffer // Go's encoder: baseline, 4:2:0
	if err := jpeg.Encode(&baseline, image.NewRGBA(image.Rect(0, 0, 100, 100)), nil); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		data    []byte
		want    int64
		refused bool
	}{
		// 7×7 MCUs of 16×16: 4 Y blocks and 1 each of Cb and Cr, 64 bytes a block.
		{"baseline 4:2:0 100×100", baseline.Bytes(), 7 * 7 * 6 * 64, false},
		// 500×375 MCUs of 8×8, 3 blocks each, 64 + 256 bytes a block.
		{"progressive 4:4:4 4000×3000", jpegFrameOnly(0xC2, 4000, 3000, 0x11, 0x11, 0x11), 500 * 375 * 3 * 320, true},
		{"progressive 4:2:0 4000×4000", jpegFrameOnly(0xC2, 4000, 4000, 0x22, 0x11, 0x11), 250 * 250 * 6 * 320, false},
		{"baseline 4:4:4 4000×4000", jpegFrameOnly(0xC0, 4000, 4000, 0x11, 0x11, 0x11), 500 * 500 * 3 * 64, false},
	}
	e := NewPureEngine(nil)
	for _, c := range cases {
		if got := jpegDecodeBytes(bytes.NewReader(c.data)); got != c.want {
			t.Errorf("%s: %d bytes, want %d", c.name, got, c.want)
		}
		r := bytes.NewReader(c.data)
		hdr, err := ReadHeader(r, int64(len(c.data)))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		err = e.CheckDecode(r, hdr)
		if refused := errors.Is(err, ErrTooManyPixels); refused != c.refused || (err != nil && !refused) {
			t.Errorf("%s: CheckDecode = %v, want refused %v", c.name, err, c.refused)
		}
	}
}
