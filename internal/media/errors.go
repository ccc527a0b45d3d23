package media

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sevra/atlas/internal/media/imaging"
)

// Errors the HTTP layer maps to statuses (suggested: ErrTooLarge 413,
// ErrUnsupportedFormat 415, ErrTooManyPixels and ErrCorrupt 422,
// ErrNotFound 404, ErrIncomplete 400).
var (
	// ErrTooLarge reports an upload over the configured byte limit.
	ErrTooLarge = errors.New("upload too large")
	// ErrUnsupportedFormat is imaging.ErrUnsupportedFormat.
	ErrUnsupportedFormat = imaging.ErrUnsupportedFormat
	// ErrTooManyPixels is imaging.ErrTooManyPixels.
	ErrTooManyPixels = imaging.ErrTooManyPixels
	// ErrCorrupt is imaging.ErrCorrupt.
	ErrCorrupt = imaging.ErrCorrupt
	// ErrIncomplete reports an upload whose body could not be read to its
	// end (a truncated or malformed multipart body, a client that went
	// away): the client's fault, 400.
	ErrIncomplete = errors.New("upload body incomplete")
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

// The failure reasons GET /api/v1/media/{id} may show. They are fixed
// sentences: an engine's error text can hold file paths, library
// internals or a stack trace, which belong in the logs and the failed job
// (the dashboard), never in a public answer.
const (
	reasonCorrupt     = "corrupt image: the file is truncated or malformed"
	reasonUnsupported = "unsupported format: the file is not an accepted image"
	reasonTooMany     = "too many pixels: the image is larger than allowed"
	reasonTooLarge    = "too large: the file is larger than allowed"
	reasonGeneric     = "processing failed"
)

// publicReason is the fixed sentence for a permanent failure's cause.
func publicReason(cause error) string {
	switch {
	case errors.Is(cause, ErrCorrupt):
		return reasonCorrupt
	case errors.Is(cause, ErrUnsupportedFormat):
		return reasonUnsupported
	case errors.Is(cause, ErrTooManyPixels):
		return reasonTooMany
	case errors.Is(cause, ErrTooLarge):
		return reasonTooLarge
	}
	return reasonGeneric
}

// publicText returns a stored failure reason when it is one of the public
// sentences (those above, or the queue adapter's "processing failed after
// N attempts" and the sync path's "processing failed; upload the file
// again"), else the generic one: rows written by older versions or by
// other callers of MarkFailed never leak their text.
func publicText(stored string) string {
	switch stored {
	case "", reasonCorrupt, reasonUnsupported, reasonTooMany, reasonTooLarge, reasonGeneric, reasonRetryUpload:
		return stored
	}
	if n, ok := strings.CutPrefix(stored, "processing failed after "); ok {
		if d, ok := strings.CutSuffix(n, " attempts"); ok && len(d) <= 4 && strings.Trim(d, "0123456789") == "" && d != "" {
			return stored
		}
	}
	return reasonGeneric
}

// reasonRetryUpload is recorded when in-request processing fails.
const reasonRetryUpload = "processing failed; upload the file again"
