package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/sevra/atlas/internal/media/imaging"
	"github.com/sevra/atlas/internal/media/storage"
)

// Limits bound what Receive accepts.
type Limits struct {
	// MaxBytes is the largest accepted upload. Default 20 MiB.
	MaxBytes int64
	// MaxPixels caps width×height as declared by the header. Default
	// 50,000,000, or the engine's own default when it has one (the pure
	// engine: imaging.PureMaxPixels, 16,000,000); negative disables.
	MaxPixels int64
	// Check, when set, is the engine's own check of an upload within the
	// limits above (the pure engine's CheckDecode refuses images it
	// cannot decode within its memory budget); r holds the whole file.
	Check func(r io.ReaderAt, h imaging.Header) error
}

// Default limits.
const (
	DefaultMaxBytes  = 20 << 20
	DefaultMaxPixels = 50_000_000
)

// withDefaults fills zero limits.
func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxPixels == 0 {
		l.MaxPixels = DefaultMaxPixels
	}
	return l
}

// Upload is an accepted upload waiting in a temporary file.
type Upload struct {
	// TempPath is the file holding the upload; the caller owns it.
	TempPath string
	Format   imaging.Format
	// Width and Height as stored (before EXIF orientation).
	Width, Height int
	Bytes         int64
}

// Receive streams r (a multipart file part) into a new temporary file in
// dir, never holding the body in memory. It rejects, and removes the file
// on any error:
//   - bodies over lim.MaxBytes: ErrTooLarge (detected as soon as the limit
//     is crossed, without reading the rest);
//   - content that is not JPEG, PNG, WebP, GIF, AVIF or HEIC by its magic
//     bytes, whatever its name or Content-Type says: ErrUnsupportedFormat
//     (judged from the first bytes, before the rest is read);
//   - headers declaring more than lim.MaxPixels: ErrTooManyPixels, read
//     from the header alone, before any decode; so is what lim.Check
//     refuses;
//   - empty, truncated or malformed headers, zero dimensions: ErrCorrupt.
func Receive(ctx context.Context, dir string, r io.Reader, lim Limits) (up Upload, err error) {
	lim = lim.withDefaults()
	head := make([]byte, imaging.SniffLen)
	src := &readErrs{r: r}
	n, err := io.ReadFull(src, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return Upload{}, fmt.Errorf("%w: %w", ErrIncomplete, err)
	}
	head = head[:n]
	if n == 0 {
		return Upload{}, fmt.Errorf("%w: empty upload", ErrCorrupt)
	}
	if _, err := imaging.Sniff(head); err != nil {
		return Upload{}, err
	}
	f, err := os.CreateTemp(dir, "upload-*")
	if err != nil {
		return Upload{}, fmt.Errorf("create temp file: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close temp file: %w", cerr)
		}
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(head); err != nil {
		return Upload{}, fmt.Errorf("write temp file: %w", err)
	}
	// One byte past the limit tells an oversized body from one exactly at it.
	rest := io.LimitReader(storage.ContextReader(ctx, src), lim.MaxBytes-int64(n)+1)
	copied, err := io.Copy(f, rest)
	if err != nil {
		if src.err != nil { // the body, not the disk
			return Upload{}, fmt.Errorf("%w: %w", ErrIncomplete, src.err)
		}
		return Upload{}, fmt.Errorf("write temp file: %w", err)
	}
	size := int64(n) + copied
	if size > lim.MaxBytes {
		return Upload{}, fmt.Errorf("%w: over %d bytes", ErrTooLarge, lim.MaxBytes)
	}
	h, err := imaging.ReadHeader(f, size)
	if err != nil {
		return Upload{}, err
	}
	if err := imaging.CheckPixels(h.Width, h.Height, lim.MaxPixels); err != nil {
		return Upload{}, err
	}
	if lim.Check != nil {
		if err := lim.Check(f, h); err != nil {
			return Upload{}, err
		}
	}
	return Upload{TempPath: f.Name(), Format: h.Format, Width: h.Width, Height: h.Height, Bytes: size}, nil
}

// readErrs remembers the first read error of r other than io.EOF, so a
// failed copy can tell a broken request body from a failed disk write.
type readErrs struct {
	r   io.Reader
	err error
}

func (e *readErrs) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}
