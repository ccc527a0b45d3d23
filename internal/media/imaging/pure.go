package imaging

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"os"

	"github.com/gen2brain/webp"
	"golang.org/x/image/draw"
	xwebp "golang.org/x/image/webp"
	"golang.org/x/sync/semaphore"
)

// PureEngine is the pure-Go engine: no cgo, no system libraries. It decodes
// JPEG, PNG, GIF (first frame) and WebP with the standard library and
// golang.org/x/image, scales with x/image/draw's Catmull-Rom kernel,
// applies EXIF orientation itself, and writes JPEG (image/jpeg) and lossy
// WebP (github.com/gen2brain/webp: libwebp compiled to WebAssembly, run by
// wazero; it uses the system's libwebp.so through purego instead when one
// is installed, unless built with -tags nodynamic). It cannot decode or
// encode AVIF or HEIC.
//
// Known gaps compared with the libvips engine: there is no shrink-on-load
// (the full image is decoded, then scaled, which is several times slower
// on large JPEGs and takes memory by the pixel: see budget.go for the
// bounds, which also make it skip variants over 1920×2880 (WebP ones over
// 1280×1920 with the WebAssembly libwebp) and refuse
// progressive JPEGs without chroma subsampling over about 8.9 MP), and
// embedded ICC profiles are ignored (pixels are taken
// as sRGB). Metadata is stripped because every variant is re-encoded from
// pixels.
type PureEngine struct {
	log *slog.Logger
	mem *semaphore.Weighted // PureDecodeBudget (budget.go)
}

// NewPureEngine returns a pure-Go engine. A nil logger discards.
func NewPureEngine(log *slog.Logger) *PureEngine {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tuneWebPMalloc()
	return &PureEngine{log: log, mem: semaphore.NewWeighted(PureDecodeBudget)}
}

// Name implements Engine.
func (e *PureEngine) Name() string { return "pure-go" }

// CanDecode implements Engine: JPEG, PNG, GIF and WebP.
func (e *PureEngine) CanDecode(f Format) bool { return f == JPEG || f == PNG || f == GIF || f == WebP }

// CanEncode implements Engine: JPEG and WebP.
func (e *PureEngine) CanEncode(f Format) bool { return f == JPEG || f == WebP }

// Close implements io.Closer; the pure engine holds no resources.
func (e *PureEngine) Close() error { return nil }

// Process implements Engine.
func (e *PureEngine) Process(ctx context.Context, src string, spec Spec) (Result, error) {
	spec = spec.withDefaults()
	f, err := os.Open(src)
	if err != nil {
		return Result{}, fmt.Errorf("open source: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Result{}, fmt.Errorf("stat source: %w", err)
	}
	hdr, err := ReadHeader(f, st.Size())
	if err != nil {
		return Result{}, err
	}
	if err := CheckPixels(hdr.Width, hdr.Height, spec.MaxPixels); err != nil {
		return Result{}, err
	}
	if err := e.CheckDecode(f, hdr); err != nil {
		return Result{}, err
	}
	// Held for the whole call: the decoded pixels, the kernel's scratch
	// and the WebP encoder's working memory for the largest variant
	// (budget.go).
	ow, oh := hdr.Oriented()
	targets := capTargets(spec.Targets(ow, e.CanEncode), ow, oh)
	release, err := acquire(ctx, e.mem, decodeBytes(f, hdr)+maxKernelTemp+webpEncodeBytes(targets, ow, oh))
	if err != nil {
		return Result{}, err
	}
	defer release()
	releaseDecode(decodeBytes(f, hdr)) // what earlier calls left resident, before this one's decode
	img, err := decode(io.NewSectionReader(f, 0, st.Size()), hdr.Format)
	if err != nil {
		return Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	res := Result{Width: ow, Height: oh}
	swap := hdr.Orientation >= 5
	var cur image.Image = img
	var smallest *image.RGBA
	for i := 0; i < len(targets); {
		w := targets[i].Width
		h := variantHeight(w, ow, oh)
		sw, sh := w, h // stored (pre-orientation) dimensions
		if swap {
			sw, sh = h, w
		}
		if k := cur.Bounds().Dx() / sw; k >= 2 {
			// Shrink on load: average k×k blocks first, so the kernel
			// scale below reads at most 2× its output and the full-size
			// decode can be freed.
			cur = boxShrink(cur, k)
		}
		scaled := image.NewRGBA(image.Rect(0, 0, sw, sh))
		switch cb := cur.Bounds(); {
		case cb.Dx() == sw && cb.Dy() == sh:
			draw.Draw(scaled, scaled.Bounds(), cur, cb.Min, draw.Src)
		case kernelTemp(sw, cb.Dy()) > maxKernelTemp:
			draw.ApproxBiLinear.Scale(scaled, scaled.Bounds(), cur, cb, draw.Src, nil)
		default:
			draw.CatmullRom.Scale(scaled, scaled.Bounds(), cur, cb, draw.Src, nil)
		}
		cur = scaled // the next, smaller width scales from this one
		if img != nil {
			// The full-size decode is garbage from here on; hand its
			// pages back before the encoders (libwebp allocates outside
			// the Go heap) add their own (budget.go).
			img = nil
			releaseDecode(decodeBytes(f, hdr))
		}
		disp := orient(scaled, hdr.Orientation)
		smallest = disp
		for ; i < len(targets) && targets[i].Width == w; i++ {
			if err := ctx.Err(); err != nil {
				return Result{}, err
			}
			data, err := encodePure(disp, targets[i].Format, spec.Quality[targets[i].Format])
			if err != nil {
				return Result{}, err
			}
			res.Outputs = append(res.Outputs, Output{Width: w, Height: h, Format: targets[i].Format, Data: data})
		}
	}
	if smallest != nil {
		if res.Placeholder, err = Placeholder(smallest); err != nil {
			return Result{}, err
		}
	}
	e.log.DebugContext(ctx, "variants encoded", "engine", e.Name(), "src_format", hdr.Format,
		"width", ow, "height", oh, "outputs", len(res.Outputs))
	return res, nil
}

// decode decodes the whole image. Decoder failures are ErrCorrupt (or
// ErrUnsupportedFormat for valid files using features Go cannot decode).
func decode(r io.Reader, f Format) (image.Image, error) {
	var img image.Image
	var err error
	switch f {
	case JPEG:
		img, err = jpeg.Decode(r)
	case PNG:
		img, err = png.Decode(r)
	case GIF:
		img, err = gif.Decode(r)
	case WebP:
		img, err = xwebp.Decode(r)
	default:
		return nil, fmt.Errorf("%w: the pure-Go engine cannot decode %s (build with -tags vips)", ErrUnsupportedFormat, f)
	}
	if err != nil {
		var ju jpeg.UnsupportedError
		var pu png.UnsupportedError
		if errors.As(err, &ju) || errors.As(err, &pu) {
			return nil, fmt.Errorf("%w: %s: %v", ErrUnsupportedFormat, f, err)
		}
		return nil, fmt.Errorf("%w: decode %s: %v", ErrCorrupt, f, err)
	}
	return img, nil
}

// encodePure encodes img as f. JPEG has no alpha, so translucent images
// are flattened onto white first.
func encodePure(img *image.RGBA, f Format, quality int) ([]byte, error) {
	var buf bytes.Buffer
	switch f {
	case JPEG:
		var src image.Image = img
		if !img.Opaque() {
			flat := image.NewRGBA(img.Bounds())
			draw.Draw(flat, flat.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
			draw.Draw(flat, flat.Bounds(), img, img.Bounds().Min, draw.Over)
			src = flat
		}
		if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: quality}); err != nil {
			return nil, fmt.Errorf("encode jpeg: %w", err)
		}
	case WebP:
		if err := webp.Encode(&buf, img, webp.Options{Quality: quality, Method: webp.DefaultMethod}); err != nil {
			return nil, fmt.Errorf("encode webp: %w", err)
		}
	default:
		return nil, fmt.Errorf("%w: the pure-Go engine cannot encode %s", ErrUnsupportedFormat, f)
	}
	return buf.Bytes(), nil
}
