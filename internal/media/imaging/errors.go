package imaging

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every one of them describes the input file, not the
// machine: retrying cannot help, so callers treat them as permanent.
var (
	// ErrUnsupportedFormat reports content that is not one of the accepted
	// image formats (judged by its bytes, never by name or Content-Type), or a
	// format the running engine cannot decode.
	ErrUnsupportedFormat = errors.New("unsupported image format")
	// ErrTooManyPixels reports an image whose header declares more pixels
	// than allowed. It is detected before any pixel is decoded.
	ErrTooManyPixels = errors.New("image has too many pixels")
	// ErrCorrupt reports a file that claims an accepted format but cannot be
	// parsed or decoded: truncated, zero-sized, or otherwise malformed.
	ErrCorrupt = errors.New("corrupt image")
)

// PixelLimitError is the typed form of ErrTooManyPixels.
type PixelLimitError struct {
	Width, Height int
	Max           int64
}

// Error implements error.
func (e *PixelLimitError) Error() string {
	return fmt.Sprintf("image has too many pixels: %d×%d is over the %d pixel limit", e.Width, e.Height, e.Max)
}

// Unwrap makes errors.Is(err, ErrTooManyPixels) hold.
func (e *PixelLimitError) Unwrap() error { return ErrTooManyPixels }

// corruptf returns an error wrapping ErrCorrupt.
func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// CheckPixels returns a *PixelLimitError when width×height exceeds max, and
// ErrCorrupt for non-positive dimensions. A max of zero or less disables the
// pixel cap.
func CheckPixels(width, height int, max int64) error {
	if width <= 0 || height <= 0 {
		return corruptf("zero or negative dimensions %d×%d", width, height)
	}
	if max > 0 && int64(width)*int64(height) > max {
		return &PixelLimitError{Width: width, Height: height, Max: max}
	}
	return nil
}
