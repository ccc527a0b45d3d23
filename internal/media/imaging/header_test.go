package imaging

import (
	"bytes"
	"errors"
	"testing"
)

func TestReadHeader(t *testing.T) {
	t.Parallel()
	jpg := makeJPEG(t, 40, 30, 0)
	tests := []struct {
		name    string
		data    []byte
		format  Format
		w, h, o int
		wantErr error
	}{
		{name: "jpeg", data: jpg, format: JPEG, w: 40, h: 30, o: 1},
		{name: "jpeg exif 6", data: makeJPEG(t, 40, 30, 6), format: JPEG, w: 40, h: 30, o: 6},
		{name: "png", data: makePNG(t, 17, 9), format: PNG, w: 17, h: 9, o: 1},
		{name: "png bomb header only", data: pngBomb(14000, 14000), format: PNG, w: 14000, h: 14000, o: 1},
		{name: "avif primary ispe", data: makeHEIF("avif", 4000, 3000, 0), format: AVIF, w: 4000, h: 3000, o: 1},
		{name: "heic rotated", data: makeHEIF("heic", 4000, 3000, 3), format: HEIC, w: 4000, h: 3000, o: 6},
		{name: "gif", data: []byte("GIF89a\x0a\x00\x05\x00\x00\x00\x00"), format: GIF, w: 10, h: 5, o: 1},
		{name: "empty", data: nil, wantErr: ErrUnsupportedFormat},
		{name: "text", data: []byte("hello, I am an image.jpg"), wantErr: ErrUnsupportedFormat},
		{name: "svg", data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), wantErr: ErrUnsupportedFormat},
		{name: "mp4 brand", data: mkbox("ftyp", []byte("isom\x00\x00\x00\x00mp41")), wantErr: ErrUnsupportedFormat},
		{name: "truncated jpeg", data: jpg[:20], wantErr: ErrCorrupt},
		{name: "png zero width", data: pngBomb(0, 10), wantErr: ErrCorrupt},
		{name: "avif without meta", data: mkbox("ftyp", []byte("avif\x00\x00\x00\x00mif1")), wantErr: ErrCorrupt},
		{name: "avif bad box size", data: append(mkbox("ftyp", []byte("avif\x00\x00\x00\x00")), 0xFF, 0xFF, 0xFF, 0xFF, 'm', 'e', 't', 'a'), wantErr: ErrCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, err := ReadHeader(bytes.NewReader(tc.data), int64(len(tc.data)))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Format != tc.format || h.Width != tc.w || h.Height != tc.h || h.Orientation != tc.o {
				t.Fatalf("header = %+v, want %s %d×%d o%d", h, tc.format, tc.w, tc.h, tc.o)
			}
		})
	}
}

func TestCheckPixels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		w, h int
		max  int64
		want error
	}{
		{100, 100, 10000, nil},
		{100, 101, 10000, ErrTooManyPixels},
		{14000, 14000, 50_000_000, ErrTooManyPixels},
		{0, 10, 100, ErrCorrupt},
		{1 << 30, 1 << 30, -1, nil},
	}
	for _, tc := range tests {
		if err := CheckPixels(tc.w, tc.h, tc.max); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("CheckPixels(%d, %d, %d) = %v, want %v", tc.w, tc.h, tc.max, err, tc.want)
		}
	}
	var pe *PixelLimitError
	if err := CheckPixels(3, 3, 8); !errors.As(err, &pe) || pe.Width != 3 {
		t.Errorf("want a *PixelLimitError, got %v", err)
	}
}

func TestSpecTargets(t *testing.T) {
	t.Parallel()
	all := func(Format) bool { return true }
	noAVIF := func(f Format) bool { return f != AVIF }
	tests := []struct {
		name  string
		src   int
		can   func(Format) bool
		want  []int // widths, in order, one per target
		nAVIF int
	}{
		{"large", 4000, all, []int{1920, 1920, 1280, 1280, 960, 960, 640, 640, 640, 320, 320, 320}, 2},
		{"no upscale", 1000, all, []int{960, 960, 640, 640, 640, 320, 320, 320}, 2},
		{"tiny source keeps own width", 200, noAVIF, []int{200, 200}, 0},
		{"exactly 320", 320, noAVIF, []int{320, 320}, 0},
	}
	for _, tc := range tests {
		got := DefaultSpec().Targets(tc.src, tc.can)
		var widths []int
		nAVIF := 0
		for _, tg := range got {
			widths = append(widths, tg.Width)
			if tg.Format == AVIF {
				nAVIF++
			}
		}
		if len(widths) != len(tc.want) || nAVIF != tc.nAVIF {
			t.Errorf("%s: targets %v (avif %d), want widths %v (avif %d)", tc.name, got, nAVIF, tc.want, tc.nAVIF)
			continue
		}
		for i := range widths {
			if widths[i] != tc.want[i] {
				t.Errorf("%s: targets %v, want widths %v", tc.name, got, tc.want)
				break
			}
		}
	}
}

// FuzzReadHeader feeds arbitrary bytes to the sniffer and header parsers:
// they must not panic, must not report success with non-positive
// dimensions, and must classify every failure.
func FuzzReadHeader(f *testing.F) {
	f.Add(makeJPEG(f, 8, 4, 6))
	f.Add(makePNG(f, 5, 5))
	f.Add(pngBomb(14000, 14000))
	f.Add(makeHEIF("avif", 100, 50, 1))
	f.Add(makeHEIF("heic", 1, 1, 0))
	f.Add([]byte("GIF89a\x0a\x00\x05\x00\x00\x00\x00"))
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBPVP8 "))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ReadHeader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedFormat) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if h.Width <= 0 || h.Height <= 0 || h.Orientation < 1 || h.Orientation > 8 {
			t.Fatalf("bad header %+v", h)
		}
		if _, err := Sniff(data); err != nil {
			t.Fatalf("ReadHeader succeeded but Sniff failed: %v", err)
		}
	})
}
