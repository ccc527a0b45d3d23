//go:build vips

package imaging

/*
#cgo pkg-config: vips
#include <vips/vips.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

// atlas_tune_malloc sets glibc malloc options for libvips' large, short-
// lived pixel and encoder buffers. A value <= 0 leaves that option alone.
//
// arenas caps the malloc arenas. glibc gives each thread that mallocs its
// own arena (up to 8 per CPU); libvips' worker threads, running on
// whichever OS threads Go schedules cgo calls on, scatter and fragment
// large buffers over many arenas.
//
// mmap_threshold fixes the size from which malloc serves a request with
// its own mmap, returned to the kernel on free. Setting it disables glibc's
// dynamic threshold, which rises to the size of each large mmapped block
// freed (up to 32 MiB) so that later pixel buffers come from the arenas,
// where freed ones stay resident and fragment.
//
// Measured in bench/media (4000x3000 JPEG, 2 images at once on 2 CPUs,
// N=8, peak RSS from wait4, materialising with vips_image_copy_memory):
// 189-198 MiB with 2 arenas and the dynamic threshold, 149-164 MiB with 2
// arenas and a fixed 128 KiB threshold, 154-158 MiB with that threshold
// and glibc's default arenas (16 here), for about 0.35 s more system time
// over 22 s of CPU. Before the fixed threshold, the arena cap alone took
// the engine from 324 to 207 MiB (with a PNG round-trip for
// materialising); the threshold now does most of that work. The cap is
// kept because glibc's default grows with the CPU count (not measured
// beyond 2 CPUs). Sharp's and libvips'
// documentation recommend jemalloc or MALLOC_ARENA_MAX; this is glibc
// tuning applied by the engine. No-op on other C libraries.
static void atlas_tune_malloc(int arenas, int mmap_threshold) {
#if defined(__GLIBC__)
	if (arenas > 0)
		mallopt(M_ARENA_MAX, arenas);
	if (mmap_threshold > 0)
		mallopt(M_MMAP_THRESHOLD, mmap_threshold);
#endif
}

// atlas_block_loaders refuses every libvips loader except the formats Atlas
// accepts. vips_block_untrusted_set covers the loaders libvips itself marks
// untrusted (ImageMagick, PDF, SVG, ...); the per-class blocks go further.
static void atlas_block_loaders(void) {
	vips_block_untrusted_set(TRUE);
	vips_operation_block_set("VipsForeignLoad", TRUE);
	vips_operation_block_set("VipsForeignLoadJpeg", FALSE);
	vips_operation_block_set("VipsForeignLoadPng", FALSE);
	vips_operation_block_set("VipsForeignLoadWebp", FALSE);
	vips_operation_block_set("VipsForeignLoadHeif", FALSE);
	vips_operation_block_set("VipsForeignLoadNsgif", FALSE);
}
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"sync"
	"unsafe"

	"github.com/davidbyttow/govips/v2/vips"
)

// vipsState tracks libvips' process-wide lifecycle: libvips (and govips)
// can be started once per process and cannot be restarted after Shutdown.
// This is the one package-level variable, mirroring that C-side state.
var vipsState struct {
	sync.Mutex
	users   int
	stopped bool
}

// VipsEngine is the libvips engine (build tag vips), through govips v2. It
// loads each source once with vips_thumbnail (shrink-on-load for JPEG and
// WebP, auto-rotation from EXIF), converts to sRGB, strips metadata,
// derives every smaller width from that one decoded image, and writes JPEG
// (q80), WebP (q80) and AVIF (q50). Only the JPEG, PNG, WebP, HEIF/AVIF and
// GIF loaders may run; every other libvips loader is blocked.
type VipsEngine struct {
	log    *slog.Logger
	closed sync.Once
}

// NewVipsEngine starts libvips (once per process) and returns an engine.
// The caller owns it and must Close it; libvips is shut down when the last
// engine is closed, after which it cannot be started again in this process.
func NewVipsEngine(cfg Config) (*VipsEngine, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	vipsState.Lock()
	defer vipsState.Unlock()
	if vipsState.stopped {
		return nil, errors.New("libvips was shut down and cannot be restarted in this process")
	}
	if vipsState.users == 0 {
		vips.LoggingSettings(func(domain string, level vips.LogLevel, msg string) {
			switch {
			case level <= vips.LogLevelCritical:
				log.Error(msg, "domain", domain)
			case level <= vips.LogLevelWarning:
				log.Warn(msg, "domain", domain)
			default:
				log.Debug(msg, "domain", domain)
			}
		}, vips.LogLevelWarning)
		conc := cfg.Concurrency
		if conc <= 0 {
			conc = 1
		}
		tuneMalloc()
		vips.Startup(&vips.Config{ConcurrencyLevel: conc, MaxCacheFiles: 0, MaxCacheMem: 0, MaxCacheSize: 0})
		C.atlas_block_loaders()
	}
	vipsState.users++
	return &VipsEngine{log: log}, nil
}

// tuneMalloc applies atlas_tune_malloc with mallocTuning (malloc.go): 2
// arenas and a fixed 128 KiB mmap threshold (glibc's initial one), each
// unless the operator set it through its MALLOC_* variable or
// GLIBC_TUNABLES.
func tuneMalloc() {
	arenas, threshold := mallocTuning(os.Getenv)
	C.atlas_tune_malloc(C.int(arenas), C.int(threshold))
}

// Close releases the engine; the last Close shuts libvips down.
func (e *VipsEngine) Close() error {
	e.closed.Do(func() {
		vipsState.Lock()
		defer vipsState.Unlock()
		vipsState.users--
		if vipsState.users == 0 {
			vipsState.stopped = true
			vips.Shutdown()
		}
	})
	return nil
}

// Name implements Engine.
func (e *VipsEngine) Name() string { return "libvips" }

// CanDecode implements Engine: every accepted format (HEIC only when
// Debian's libheif has an HEVC decoder, as libheif1 does via libde265).
func (e *VipsEngine) CanDecode(f Format) bool {
	switch f {
	case JPEG, PNG, WebP, GIF, AVIF, HEIC:
		return true
	}
	return false
}

// CanEncode implements Engine: JPEG, WebP and AVIF.
func (e *VipsEngine) CanEncode(f Format) bool { return f == JPEG || f == WebP || f == AVIF }

// Process implements Engine.
func (e *VipsEngine) Process(ctx context.Context, src string, spec Spec) (Result, error) {
	spec = spec.withDefaults()
	hdr, err := headerOfFile(src)
	if err != nil {
		return Result{}, err
	}
	if err := CheckPixels(hdr.Width, hdr.Height, spec.MaxPixels); err != nil {
		return Result{}, err
	}
	ow, oh := hdr.Oriented()
	targets := spec.Targets(ow, e.CanEncode)
	if len(targets) == 0 {
		return Result{}, fmt.Errorf("%w: no variants to produce", ErrUnsupportedFormat)
	}
	if hdr.Format == JPEG {
		// Shrink-on-load turns truncation into a warning; refuse it first.
		if err := CheckJPEGComplete(src); err != nil {
			return Result{}, err
		}
	}
	params := vips.NewImportParams() // fail=true: truncated input is an error, not grey pixels
	// One decode, shrunk on load to the largest target and auto-rotated.
	base, err := vips.LoadThumbnailFromFile(src, targets[0].Width, 10_000_000, vips.InterestingNone, vips.SizeDown, params)
	if err != nil {
		return Result{}, fmt.Errorf("%w: libvips load %s: %v", ErrCorrupt, hdr.Format, err)
	}
	defer base.Close()
	if err := base.ToColorSpace(vips.InterpretationSRGB); err != nil {
		return Result{}, fmt.Errorf("%w: to sRGB: %v", ErrCorrupt, err)
	}
	if err := base.RemoveMetadata(); err != nil {
		return Result{}, fmt.Errorf("remove metadata: %w", err)
	}
	if len(targets) > 1 {
		// vips_thumbnail reads its source sequentially, so the pipeline can
		// be evaluated once only. Materialise the shrunk image so every
		// variant derives from the same decoded pixels.
		if err := materialize(base); err != nil {
			return Result{}, err
		}
	}
	res := Result{Width: ow, Height: oh}
	// Each width is derived from the previous, larger one (a reduction of
	// at most 3× per step here, 1.5× for the default widths), and is
	// materialised in memory when it is encoded more than once or feeds a
	// smaller width, so each resize runs once. Measured with libvips 8.14
	// on a 4000×3000 JPEG: resizing the 1920 px base straight to 320 px
	// costs about 100 ms per evaluation, and a lazy variant is evaluated
	// again by every encoder; the cascade cut the resizing of the default
	// set from about 450 ms to about 110 ms. Heights are computed from the
	// oriented source size (as the pure engine does), so the cascade's
	// rounding cannot drift.
	cur := base
	defer func() {
		if cur != base {
			cur.Close()
		}
	}()
	for i := 0; i < len(targets); {
		w := targets[i].Width
		n := 1
		for i+n < len(targets) && targets[i+n].Width == w {
			n++
		}
		if cur.Width() != w {
			next, err := resizeVips(cur, w, max(1, (oh*w+ow/2)/ow), n > 1 || i+n < len(targets))
			if err != nil {
				return Result{}, err
			}
			if cur != base {
				cur.Close()
			}
			cur = next
		}
		for end := i + n; i < end; i++ {
			if err := ctx.Err(); err != nil {
				return Result{}, err
			}
			data, err := exportVips(cur, targets[i].Format, spec.Quality[targets[i].Format])
			if err != nil {
				return Result{}, err
			}
			res.Outputs = append(res.Outputs, Output{Width: cur.Width(), Height: cur.Height(), Format: targets[i].Format, Data: data})
		}
	}
	// The smallest variant's encoded bytes are re-read (a few kilobytes):
	// base may be a sequential pipeline that cannot be evaluated again.
	if res.Placeholder, err = vipsPlaceholder(res.Outputs[len(res.Outputs)-1].Data); err != nil {
		return Result{}, err
	}
	return res, nil
}

// resizeVips returns src resized to exactly w×h (h is computed from the
// source's aspect ratio by the caller), materialised in memory when keep
// is set (it will be read more than once).
func resizeVips(src *vips.ImageRef, w, h int, keep bool) (*vips.ImageRef, error) {
	img, err := src.Copy()
	if err != nil {
		return nil, fmt.Errorf("copy: %w", err)
	}
	if err := img.ThumbnailWithSize(w, h, vips.InterestingNone, vips.SizeForce); err != nil {
		img.Close()
		return nil, fmt.Errorf("%w: resize to %d: %v", ErrCorrupt, w, err)
	}
	if !keep {
		return img, nil
	}
	if err := materialize(img); err != nil {
		img.Close()
		return nil, err
	}
	return img, nil
}

// materialize replaces img's pipeline with its evaluated pixels in memory
// (vips_image_copy_memory), so that it can be read more than once and in
// any order. img must not be in use by another goroutine.
func materialize(img *vips.ImageRef) error {
	field, err := vipsImageField(img)
	if err != nil {
		return err
	}
	mem := C.vips_image_copy_memory((*C.VipsImage)(*field))
	if mem == nil {
		return fmt.Errorf("%w: decode: %s", ErrCorrupt, vipsError())
	}
	C.g_object_unref(C.gpointer(*field))
	*field = unsafe.Pointer(mem)
	return nil
}

// vipsImageField returns the address of ref's *C.VipsImage. govips keeps
// it in the unexported field ImageRef.image and has no copy_memory of its
// own; the field is looked up by reflection and its type checked against
// this package's C.VipsImage, so a govips that renames or retypes it makes
// materialize fail (and the tests with it) rather than corrupt memory.
func vipsImageField(ref *vips.ImageRef) (*unsafe.Pointer, error) {
	f, ok := reflect.TypeFor[vips.ImageRef]().FieldByName("image")
	want := reflect.TypeFor[C.VipsImage]()
	if !ok || f.Type.Kind() != reflect.Pointer || f.Type.Elem().Name() != want.Name() || f.Type.Elem().Size() != want.Size() {
		return nil, errors.New("govips: vips.ImageRef has no field image *C.VipsImage")
	}
	return (*unsafe.Pointer)(unsafe.Add(unsafe.Pointer(ref), f.Offset)), nil
}

// vipsError returns and clears libvips' error buffer.
func vipsError() string {
	msg := C.vips_error_buffer_copy()
	defer C.g_free(C.gpointer(msg))
	return strings.TrimSpace(C.GoString(msg))
}

// headerOfFile reads the header of the file at path.
func headerOfFile(path string) (Header, error) {
	f, err := os.Open(path)
	if err != nil {
		return Header{}, fmt.Errorf("open source: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Header{}, fmt.Errorf("stat source: %w", err)
	}
	return ReadHeader(f, st.Size())
}

// exportVips encodes img as f without metadata.
func exportVips(img *vips.ImageRef, f Format, quality int) ([]byte, error) {
	var data []byte
	var err error
	switch f {
	case JPEG:
		if img.HasAlpha() {
			if img, err = img.Copy(); err != nil {
				return nil, fmt.Errorf("copy: %w", err)
			}
			defer img.Close()
			if err := img.Flatten(&vips.Color{R: 255, G: 255, B: 255}); err != nil {
				return nil, fmt.Errorf("flatten: %w", err)
			}
		}
		data, _, err = img.ExportJpeg(&vips.JpegExportParams{Quality: quality, StripMetadata: true, OptimizeCoding: true})
	case WebP:
		data, _, err = img.ExportWebp(&vips.WebpExportParams{Quality: quality, StripMetadata: true, ReductionEffort: 4})
	case AVIF:
		data, _, err = img.ExportAvif(&vips.AvifExportParams{Quality: quality, StripMetadata: true, Effort: 4, Bitdepth: 8})
	default:
		return nil, fmt.Errorf("%w: libvips engine does not write %s", ErrUnsupportedFormat, f)
	}
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", f, err)
	}
	return data, nil
}

// vipsPlaceholder computes the BlurHash of an encoded variant from a 32 px
// thumbnail of it.
func vipsPlaceholder(encoded []byte) (string, error) {
	small, err := vips.NewThumbnailWithSizeFromBuffer(encoded, placeholderSide, placeholderSide, vips.InterestingNone, vips.SizeDown)
	if err != nil {
		return "", fmt.Errorf("placeholder thumbnail: %w", err)
	}
	defer small.Close()
	png, _, err := small.ExportPng(&vips.PngExportParams{StripMetadata: true, Compression: 1})
	if err != nil {
		return "", fmt.Errorf("placeholder export: %w", err)
	}
	pimg, err := decodePNG(png)
	if err != nil {
		return "", err
	}
	return Placeholder(pimg)
}

// decodePNG decodes an in-memory PNG.
func decodePNG(b []byte) (image.Image, error) {
	img, err := decode(bytesReader(b), PNG)
	if err != nil {
		return nil, fmt.Errorf("placeholder decode: %w", err)
	}
	return img, nil
}
