package imaging

import (
	"context"
	"fmt"
	"image"
	"io"
	"math"
	"runtime/debug"

	"github.com/gen2brain/webp"
	"golang.org/x/image/draw"
	"golang.org/x/sync/semaphore"
)

// The pure engine decodes the whole image into memory (Go's decoders have
// no shrink-on-load), so its memory follows the pixels, not the file
// size: a 143 KB PNG of 7000×7000 16-bit pixels decodes to 392 MB. These
// bounds keep a process within a fixed budget whatever is uploaded:
//
//   - PureMaxPixels, the pure engine's default pixel limit (the libvips
//     engine keeps media.DefaultMaxPixels, 50 MP): 16 MP, a 4900×3265
//     photo. media.New applies it when no limit is configured.
//   - PureMaxDecodeBytes (CheckDecode): an image whose decode alone would
//     take more is refused at upload.
//   - PureDecodeBudget, the memory that may be held at once by all the
//     engine's Process calls together (the decode, the kernel's scratch,
//     the WebP encoder's working memory): a call waits until its estimate
//     fits, so concurrency (media workers, shadow runs) cannot multiply
//     the peak. An image larger than the whole budget runs alone; with
//     the default widths, any image with a 1920-wide variant does.
//   - PureMaxVariantPixels: no variant larger than 1920×2880; with the
//     WebAssembly libwebp, no WebP variant larger than 1280×1920
//     (wasmMaxWebPPixels).
//   - The decode is dropped after the first scale and, when large, its
//     pages go back to the OS at once (releaseDecode), and glibc's malloc
//     is tuned so the WebP encoder's freed C memory does too
//     (malloc_linux.go).
//
// Measured with these defaults (TestUploadPeakMemory, docs/BENCHMARKS.md):
// about 205 MB peak RSS from 49 MB idle (217–237 MB with the WebAssembly
// libwebp).
const (
	PureMaxPixels    = 16_000_000
	PureDecodeBudget = 200 << 20
)

// DefaultMaxPixels is the pixel limit media.New uses with this engine
// when none is configured: PureMaxPixels.
func (e *PureEngine) DefaultMaxPixels() int64 { return PureMaxPixels }

// decodeBytes estimates the memory a decode of hdr's image takes: 8 bytes
// a pixel for 16-bit PNGs (RGBA64), jpegDecodeBytes for JPEGs, else 4
// (RGBA, or less).
func decodeBytes(r io.ReaderAt, hdr Header) int64 {
	per := int64(4)
	switch hdr.Format {
	case PNG:
		var ihdr [2]byte // bit depth, colour type: bytes 24 and 25 of the file
		if _, err := r.ReadAt(ihdr[:], 24); err != nil || ihdr[0] == 16 {
			per = 8
		}
	case JPEG:
		if n := jpegDecodeBytes(io.NewSectionReader(r, 0, 1<<62)); n > 0 {
			return n
		}
	}
	return per * int64(hdr.Width) * int64(hdr.Height)
}

// jpegDecodeBytes is what image/jpeg allocates to decode the JPEG stream
// r, from its frame header (0 when there is none): 64 bytes for each 8×8
// block of each component's plane, and for a progressive JPEG another 256
// for the block's coefficients, which it keeps for the whole image until
// the last scan. A 16 MP progressive JPEG without chroma subsampling takes
// 240 MB that way, a baseline one 48 MB.
func jpegDecodeBytes(r io.Reader) int64 {
	var n int64
	jpegSegments(r, func(marker byte, seg []byte) bool {
		if marker < 0xC0 || marker > 0xCF || marker == 0xC4 || marker == 0xC8 || marker == 0xCC || len(seg) < 6 {
			return true // not a start of frame
		}
		h, w, nc := int64(seg[1])<<8|int64(seg[2]), int64(seg[3])<<8|int64(seg[4]), int(seg[5])
		if len(seg) < 6+3*nc || nc == 0 {
			return false
		}
		var hmax, vmax int64 = 1, 1
		for i := range nc {
			hmax = max(hmax, int64(seg[7+3*i]>>4))
			vmax = max(vmax, int64(seg[7+3*i]&15))
		}
		mcux, mcuy := (w+8*hmax-1)/(8*hmax), (h+8*vmax-1)/(8*vmax)
		per := int64(64)
		if marker == 0xC2 || marker == 0xC6 || marker == 0xCA || marker == 0xCE { // progressive
			per += 256
		}
		for i := range nc {
			n += mcux * mcuy * int64(seg[7+3*i]>>4) * int64(seg[7+3*i]&15) * per
		}
		return false
	})
	return n
}

// PureMaxDecodeBytes is the most memory one decode may take in the pure
// engine (decodeBytes): 128 MiB, which a 16-bit PNG at the 16 MP pixel
// limit fits (128 MB). Only progressive JPEGs with little or no chroma
// subsampling reach it within the pixel limit (Go's decoder keeps every
// coefficient: 15 bytes a pixel at 4:4:4, so about 8.9 MP); the engine
// refuses them with ErrTooManyPixels rather than exceed its budget.
const PureMaxDecodeBytes = 128 << 20

// acquire waits until n decoded bytes fit in the budget (at most the whole
// budget: a larger image runs alone) and returns the release func.
func acquire(ctx context.Context, sem *semaphore.Weighted, n int64) (func(), error) {
	n = min(max(n, 1), PureDecodeBudget)
	if err := sem.Acquire(ctx, n); err != nil {
		return nil, fmt.Errorf("wait for decode memory: %w", err)
	}
	return func() { sem.Release(n) }, nil
}

// maxKernelTemp bounds the scratch a Catmull-Rom scale may allocate:
// x/image/draw's separable kernels keep a float64 RGBA (32 bytes) for
// every destination column of every source row (123 MB for a 1920-wide
// variant of a 2000-row image). Past it the step scales with
// ApproxBiLinear, which needs none; after boxShrink the remaining ratio is
// under 2, where bilinear sampling loses little (the box already
// averaged). In practice the largest default width (1920) of a large
// photo takes this path; smaller widths keep Catmull-Rom.
const maxKernelTemp = 48 << 20

// kernelTemp is the scratch a kernel scale from src rows to dw columns
// takes.
func kernelTemp(dw, srcRows int) int64 { return 32 * int64(dw) * int64(srcRows) }

// boxShrink averages k×k blocks of src into a new RGBA image (the
// shrink-on-load that Go's decoders lack, done right after decoding): the
// source is read k rows at a time through a small buffer, so it costs the
// output plus one band. Edge pixels that do not fill a block are dropped
// (at most k−1 rows and columns of a much larger image).
func boxShrink(src image.Image, k int) *image.RGBA {
	b := src.Bounds()
	ow, oh := b.Dx()/k, b.Dy()/k
	out := image.NewRGBA(image.Rect(0, 0, ow, oh))
	band := image.NewRGBA(image.Rect(0, 0, ow*k, k))
	sums := make([]uint32, 4*ow)
	n := uint32(k * k)
	for oy := range oh {
		draw.Draw(band, band.Bounds(), src, image.Pt(b.Min.X, b.Min.Y+oy*k), draw.Src)
		clear(sums)
		for y := range k {
			row := band.Pix[y*band.Stride : y*band.Stride+4*ow*k]
			for x := range ow * k {
				o := 4 * (x / k)
				sums[o] += uint32(row[4*x])
				sums[o+1] += uint32(row[4*x+1])
				sums[o+2] += uint32(row[4*x+2])
				sums[o+3] += uint32(row[4*x+3])
			}
		}
		dst := out.Pix[oy*out.Stride : oy*out.Stride+4*ow]
		for i, s := range sums {
			dst[i] = uint8((s + n/2) / n)
		}
	}
	return out
}

// PureMaxVariantPixels bounds the area of one variant the pure engine
// makes: 1920×2880, the largest default width of a 2:3 portrait. The
// encoders' memory follows the variant's area (the WebP encoder, for a
// translucent image, about 25 bytes a pixel at its peak), and a tall
// image would otherwise make a variant as large as itself (a 1920×8333
// PNG, within the pixel limit, peaked at 325 MB). Widths whose variant
// is larger are not made; when none fits, one variant is made at the
// widest width that does (capTargets). The libvips engine has no such cap.
const PureMaxVariantPixels = 1920 * 2880

// variantHeight is the height of the w-wide variant of an ow×oh image.
func variantHeight(w, ow, oh int) int { return max(1, (oh*w+ow/2)/ow) }

// capTargets drops the targets whose variant of an ow×oh image exceeds
// PureMaxVariantPixels (or, for WebP with the WebAssembly encoder,
// wasmMaxWebPPixels); when that drops them all, it makes the smallest
// width's formats at the widest width that fits instead.
func capTargets(targets []Target, ow, oh int) []Target {
	var out []Target
	for _, t := range targets {
		area := int64(t.Width) * int64(variantHeight(t.Width, ow, oh))
		if area <= PureMaxVariantPixels && (t.Format != WebP || area <= wasmWebPPixels()) {
			out = append(out, t)
		}
	}
	if len(out) > 0 || len(targets) == 0 {
		return out
	}
	w := max(1, int(isqrt(int64(PureMaxVariantPixels)*int64(ow)/int64(oh))))
	for w > 1 && int64(w)*int64(variantHeight(w, ow, oh)) > PureMaxVariantPixels {
		w--
	}
	last := targets[len(targets)-1].Width
	for _, t := range targets {
		if t.Width == last && (t.Format != WebP || int64(w)*int64(variantHeight(w, ow, oh)) <= wasmWebPPixels()) {
			out = append(out, Target{Width: w, Format: t.Format})
		}
	}
	return out
}

// isqrt is the integer square root of n ≥ 0.
func isqrt(n int64) int64 {
	r := int64(math.Sqrt(float64(n)))
	for r*r > n {
		r--
	}
	for (r+1)*(r+1) <= n {
		r++
	}
	return r
}

// webpEncodeBytes estimates the working memory of the WebP encoder for
// the largest of targets (of an ow×oh image): 30 bytes a pixel, above the
// measured 25 for a translucent image through the system's libwebp (a
// 1920×1920 encode peaks about 93 MB above its input; 108 MB through the
// WebAssembly build).
func webpEncodeBytes(targets []Target, ow, oh int) int64 {
	if len(targets) == 0 || ow == 0 {
		return 0
	}
	w := targets[0].Width // descending
	return 30 * int64(w) * int64(variantHeight(w, ow, oh))
}

// freeAbove is the decode size past which releaseDecode returns the
// freed pages to the OS at once.
const freeAbove = 32 << 20

// releaseDecode returns the memory of a dropped decode of n bytes to the
// OS when it is large: otherwise the garbage collector keeps the freed
// pages resident for a while (under the soft memory limit), and the WebP
// encoder's C allocations, which the Go heap cannot reuse, would come on
// top of them. The cost, a forced collection, is small next to decoding
// such an image.
func releaseDecode(n int64) {
	if n > freeAbove {
		debug.FreeOSMemory()
	}
}

// CheckDecode refuses, with an error wrapping ErrTooManyPixels, an image
// whose decode would take more than PureMaxDecodeBytes (decodeBytes);
// r holds the whole file. media.Receive calls it at upload time, and
// Process again before decoding.
func (e *PureEngine) CheckDecode(r io.ReaderAt, hdr Header) error {
	if n := decodeBytes(r, hdr); n > PureMaxDecodeBytes {
		return fmt.Errorf("%w: this %d×%d %s takes %d MB to decode with the pure-Go engine, over its %d MB (a progressive JPEG keeps every coefficient; build with -tags vips, or save it as baseline)",
			ErrTooManyPixels, hdr.Width, hdr.Height, hdr.Format, n>>20, PureMaxDecodeBytes>>20)
	}
	return nil
}

// wasmMaxWebPPixels bounds a WebP variant's area when the encoder is the
// WebAssembly build of libwebp (no system libwebp, or -tags nodynamic):
// its linear memory is a Go allocation that wazero grows by copying, so a
// translucent 1920×1920 encode alone took the process to 265 MB. Larger
// variants are made in JPEG only.
const wasmMaxWebPPixels = 1280 * 1920

// wasmWebPPixels is the WebP variant area bound in force:
// wasmMaxWebPPixels with the WebAssembly encoder, else none.
func wasmWebPPixels() int64 {
	if webp.Dynamic() != nil {
		return wasmMaxWebPPixels
	}
	return math.MaxInt64
}
