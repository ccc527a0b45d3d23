package imaging

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Format names an image format by what its bytes are.
type Format string

// The formats Atlas accepts on upload. Variants are written as JPEG, WebP
// and AVIF only.
const (
	JPEG Format = "jpeg"
	PNG  Format = "png"
	WebP Format = "webp"
	GIF  Format = "gif"
	AVIF Format = "avif"
	HEIC Format = "heic"
)

// Ext returns the file extension used in storage keys, without the dot.
func (f Format) Ext() string {
	if f == JPEG {
		return "jpg"
	}
	return string(f)
}

// ContentType returns the MIME type of the format.
func (f Format) ContentType() string {
	return "image/" + string(f)
}

// SniffLen is how many leading bytes Sniff needs at most.
const SniffLen = 512

// Sniff identifies the format from the leading bytes of a file (at least
// SniffLen of them when the file is that long). It trusts nothing but the
// bytes: JPEG SOI marker, PNG signature, RIFF/WEBP, GIF87a/89a, and for
// AVIF/HEIC the ISO-BMFF ftyp box brands. Anything else is
// ErrUnsupportedFormat.
func Sniff(b []byte) (Format, error) {
	switch {
	case len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		return JPEG, nil
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return PNG, nil
	case len(b) >= 16 && string(b[0:4]) == "RIFF" && string(b[8:12]) == "WEBP" && string(b[12:15]) == "VP8":
		return WebP, nil
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		return GIF, nil
	case len(b) >= 12 && string(b[4:8]) == "ftyp":
		return sniffFtyp(b)
	}
	return "", fmt.Errorf("%w: unrecognised leading bytes", ErrUnsupportedFormat)
}

// sniffFtyp reads the major and compatible brands of a leading ftyp box.
func sniffFtyp(b []byte) (Format, error) {
	size := int(binary.BigEndian.Uint32(b[0:4]))
	if size < 16 || size%4 != 0 {
		return "", corruptf("ftyp box size %d", size)
	}
	if size > len(b) {
		size = len(b) - len(b)%4 // brands past the sniff window are ignored
	}
	brands := []string{string(b[8:12])}
	for off := 16; off+4 <= size; off += 4 {
		brands = append(brands, string(b[off:off+4]))
	}
	isHEIC := false
	for _, br := range brands {
		switch br {
		case "avif", "avis":
			return AVIF, nil
		case "heic", "heix", "heim", "heis", "hevc", "hevx":
			isHEIC = true
		}
	}
	if isHEIC {
		return HEIC, nil
	}
	return "", fmt.Errorf("%w: ISO-BMFF file with brands %q", ErrUnsupportedFormat, brands)
}
