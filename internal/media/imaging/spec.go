package imaging

import (
	"context"
	"slices"
)

// Spec describes the variant set to produce from one source image.
type Spec struct {
	// Widths are the target widths in pixels. Default 320, 640, 960, 1280,
	// 1920. A width larger than the (oriented) source is skipped: images
	// are never upscaled. When the source is narrower than every width, a
	// single variant set at the source's own width is produced.
	Widths []int
	// Formats are written at every width. Default WebP and JPEG.
	Formats []Format
	// AVIFSmallest adds AVIF for that many of the smallest produced
	// widths (AVIF encoding is expensive). Default 2; negative disables.
	AVIFSmallest int
	// Quality per output format. Defaults match Sharp: JPEG 80, WebP 80,
	// AVIF 50.
	Quality map[Format]int
	// MaxPixels caps width×height as declared by the header, checked
	// before decoding. Default 50,000,000; negative disables.
	MaxPixels int64
}

// DefaultSpec returns the default variant set (see Spec's fields).
func DefaultSpec() Spec {
	return Spec{
		Widths:       []int{320, 640, 960, 1280, 1920},
		Formats:      []Format{WebP, JPEG},
		AVIFSmallest: 2,
		Quality:      map[Format]int{JPEG: 80, WebP: 80, AVIF: 50},
		MaxPixels:    50_000_000,
	}
}

// withDefaults fills zero fields from DefaultSpec.
func (s Spec) withDefaults() Spec {
	d := DefaultSpec()
	if len(s.Widths) == 0 {
		s.Widths = d.Widths
	}
	if len(s.Formats) == 0 {
		s.Formats = d.Formats
	}
	if s.AVIFSmallest == 0 {
		s.AVIFSmallest = d.AVIFSmallest
	}
	if s.MaxPixels == 0 {
		s.MaxPixels = d.MaxPixels
	}
	q := map[Format]int{}
	for f, v := range d.Quality {
		q[f] = v
	}
	for f, v := range s.Quality {
		if v > 0 {
			q[f] = v
		}
	}
	s.Quality = q
	return s
}

// Target is one variant to produce.
type Target struct {
	Width  int
	Format Format
}

// Targets lists the variants for a source srcWidth pixels wide (after
// orientation), restricted to the formats the engine can encode, in
// descending width order. Widths are deduplicated and never exceed
// srcWidth.
func (s Spec) Targets(srcWidth int, canEncode func(Format) bool) []Target {
	s = s.withDefaults()
	var widths []int
	for _, w := range s.Widths {
		if w > 0 && w <= srcWidth && !slices.Contains(widths, w) {
			widths = append(widths, w)
		}
	}
	if len(widths) == 0 && srcWidth > 0 {
		widths = []int{srcWidth}
	}
	slices.Sort(widths)
	var out []Target
	for i := len(widths) - 1; i >= 0; i-- {
		for _, f := range s.Formats {
			if canEncode(f) {
				out = append(out, Target{Width: widths[i], Format: f})
			}
		}
		if i < s.AVIFSmallest && canEncode(AVIF) && !slices.Contains(s.Formats, AVIF) {
			out = append(out, Target{Width: widths[i], Format: AVIF})
		}
	}
	return out
}

// Output is one encoded variant.
type Output struct {
	Width, Height int
	Format        Format
	Data          []byte
}

// Result is what an Engine produces from one source file.
type Result struct {
	// Width and Height of the source as displayed (after orientation).
	Width, Height int
	// Outputs in descending width order.
	Outputs []Output
	// Placeholder is a BlurHash (4×3 components) of the image, computed
	// from the smallest variant.
	Placeholder string
}

// Engine turns one source image into a variant set. Implementations decode
// the source once, auto-orient it, convert it to sRGB, strip metadata and
// never upscale. Errors that describe the file wrap ErrUnsupportedFormat,
// ErrTooManyPixels or ErrCorrupt; other errors (I/O, context) are
// transient. Engines are safe for concurrent use.
type Engine interface {
	// Name identifies the engine in logs and benchmarks ("pure-go", "libvips").
	Name() string
	// CanDecode reports whether the engine can read format f.
	CanDecode(f Format) bool
	// CanEncode reports whether the engine can write format f.
	CanEncode(f Format) bool
	// Process reads the image file at src and encodes spec's variants.
	Process(ctx context.Context, src string, spec Spec) (Result, error)
}
