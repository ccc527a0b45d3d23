package media

import (
	"errors"
	"fmt"

	"github.com/sevra/atlas/internal/media/imaging"
)

// Errors the HTTP layer maps to statuses (suggested: ErrTooLarge 413,
// ErrUnsupportedFormat 415, ErrTooManyPixels and ErrCorrupt 422,
// ErrNotFound 404).
var (
	// ErrTooLarge reports an upload over the configured byte limit.
	ErrTooLarge = errors.New("upload too large")
	// ErrUnsupportedFormat is imaging.ErrUnsupportedFormat.
	ErrUnsupportedFormat = imaging.ErrUnsupportedFormat
	// ErrTooManyPixels is imaging.ErrTooManyPixels.
	ErrTooManyPixels = imaging.ErrTooManyPixels
	// ErrCorrupt is imaging.ErrCorrupt.
	ErrCorrupt = imaging.ErrCorrupt
	// ErrNotFound reports an unknown media id.
	ErrNotFound = errors.New("media not found")
	// ErrPermanent marks a GenerateVariants failure that no retry can fix
	// (a bad file, a missing original, an unknown media id). The queue
	// adapter turns it into an unrecoverable job error; every other error
	// is transient and may be retried.
	ErrPermanent = errors.New("permanent media failure")
)

// isFileError reports whether err describes the input file itself.
func isFileError(err error) bool {
	return errors.Is(err, ErrUnsupportedFormat) || errors.Is(err, ErrTooManyPixels) ||
		errors.Is(err, ErrCorrupt) || errors.Is(err, ErrTooLarge)
}

// permanent wraps err so errors.Is(err, ErrPermanent) holds, keeping the
// original chain.
func permanent(err error) error {
	if errors.Is(err, ErrPermanent) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrPermanent, err)
}
