package media

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"os"
	"testing"
	"testing/iotest"

	"github.com/sevra/atlas/internal/media/imaging"
)

// testJPEG encodes a w×h gradient.
func testJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetRGBA(x, y, color.RGBA{uint8(x), uint8(y), uint8(x + y), 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pngHeader is a PNG signature and IHDR declaring w×h with no pixel data.
func pngHeader(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	chunk := append([]byte("IHDR"), append(ihdr, 8, 2, 0, 0, 0)...)
	b := binary.BigEndian.AppendUint32([]byte("\x89PNG\r\n\x1a\n"), 13)
	b = append(b, chunk...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(chunk))
}

// dirEntries counts the files left in dir.
func dirEntries(t testing.TB, dir string) int {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

func TestReceive(t *testing.T) {
	t.Parallel()
	jpg := testJPEG(t, 64, 48)
	tests := []struct {
		name    string
		body    io.Reader
		lim     Limits
		wantErr error
		format  imaging.Format
	}{
		{name: "jpeg", body: bytes.NewReader(jpg), format: imaging.JPEG},
		{name: "one byte at a time", body: iotest.OneByteReader(bytes.NewReader(jpg)), format: imaging.JPEG},
		{name: "exactly at the limit", body: bytes.NewReader(jpg), lim: Limits{MaxBytes: int64(len(jpg))}, format: imaging.JPEG},
		{name: "one byte over", body: bytes.NewReader(jpg), lim: Limits{MaxBytes: int64(len(jpg)) - 1}, wantErr: ErrTooLarge},
		{name: "limit below sniff length", body: bytes.NewReader(jpg), lim: Limits{MaxBytes: 100}, wantErr: ErrTooLarge},
		{name: "empty", body: bytes.NewReader(nil), wantErr: ErrCorrupt},
		{name: "html named .jpg", body: bytes.NewReader([]byte("<html><script>alert(1)</script></html>")), wantErr: ErrUnsupportedFormat},
		{name: "truncated jpeg", body: bytes.NewReader(jpg[:30]), wantErr: ErrCorrupt},
		{name: "decompression bomb", body: bytes.NewReader(pngHeader(14000, 14000)), wantErr: ErrTooManyPixels},
		{name: "custom pixel cap", body: bytes.NewReader(jpg), lim: Limits{MaxPixels: 1000}, wantErr: ErrTooManyPixels},
		{name: "zero height", body: bytes.NewReader(pngHeader(10, 0)), wantErr: ErrCorrupt},
		{name: "reader error", body: iotest.ErrReader(errors.New("connection reset")), wantErr: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			up, err := Receive(context.Background(), dir, tc.body, tc.lim)
			if tc.format == "" {
				if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if n := dirEntries(t, dir); n != 0 {
					t.Fatalf("%d temp files left after an error", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(up.TempPath)
			if err != nil || !bytes.Equal(got, jpg) {
				t.Fatalf("temp file differs from the upload (%v)", err)
			}
			if up.Format != tc.format || up.Width != 64 || up.Height != 48 || up.Bytes != int64(len(jpg)) {
				t.Fatalf("upload = %+v", up)
			}
		})
	}
}

func TestReceiveStopsReadingPastLimit(t *testing.T) {
	t.Parallel()
	// An endless body: Receive must stop at the limit, not read it all.
	body := io.MultiReader(bytes.NewReader(testJPEG(t, 8, 8)), zeros{})
	_, err := Receive(context.Background(), t.TempDir(), body, Limits{MaxBytes: 1 << 20})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v", err)
	}
}

// zeros is an endless reader.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func FuzzReceive(f *testing.F) {
	f.Add(testJPEG(f, 4, 4))
	f.Add(pngHeader(100, 100))
	f.Add([]byte("GIF89a\x01\x00\x01\x00"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		up, err := Receive(context.Background(), dir, bytes.NewReader(data), Limits{MaxBytes: 1 << 16, MaxPixels: 1 << 20})
		if err != nil {
			if !isFileError(err) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		os.Remove(up.TempPath)
		if up.Width <= 0 || up.Height <= 0 || int64(up.Width)*int64(up.Height) > 1<<20 {
			t.Fatalf("accepted %+v", up)
		}
	})
}
