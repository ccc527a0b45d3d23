package imaging

import (
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	xwebp "golang.org/x/image/webp"
)

// Header is what can be learnt about an image without decoding its pixels.
type Header struct {
	Format Format
	// Width and Height are the stored dimensions, before orientation.
	Width, Height int
	// Orientation is the EXIF orientation (1–8; 1 when absent). For AVIF
	// and HEIC it is derived from the irot property.
	Orientation int
}

// Oriented returns the dimensions as displayed, after orientation.
func (h Header) Oriented() (width, height int) {
	if h.Orientation >= 5 && h.Orientation <= 8 {
		return h.Height, h.Width
	}
	return h.Width, h.Height
}

// ReadHeader sniffs the format of the size bytes readable from r and reads
// the dimensions from the header alone: image.DecodeConfig for JPEG, PNG,
// GIF and WebP, the ISO-BMFF ispe property for AVIF and HEIC. It never
// decodes pixel data. Errors wrap ErrUnsupportedFormat or ErrCorrupt; I/O
// errors are returned as they are.
func ReadHeader(r io.ReaderAt, size int64) (Header, error) {
	head := make([]byte, min(size, SniffLen))
	if _, err := r.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		return Header{}, fmt.Errorf("read header: %w", err)
	}
	f, err := Sniff(head)
	if err != nil {
		return Header{}, err
	}
	h := Header{Format: f, Orientation: 1}
	sr := io.NewSectionReader(r, 0, size)
	var cfg image.Config
	switch f {
	case JPEG:
		cfg, err = jpeg.DecodeConfig(sr)
		if err == nil {
			h.Orientation = jpegOrientation(io.NewSectionReader(r, 0, size))
		}
	case PNG:
		cfg, err = png.DecodeConfig(sr)
	case GIF:
		cfg, err = gif.DecodeConfig(sr)
	case WebP:
		cfg, err = xwebp.DecodeConfig(sr)
	case AVIF, HEIC:
		var b bmffInfo
		b, err = readBMFF(r, size)
		cfg.Width, cfg.Height = b.width, b.height
		h.Orientation = b.orientation()
	}
	if err != nil {
		if errors.Is(err, ErrCorrupt) {
			return Header{}, err
		}
		return Header{}, fmt.Errorf("%w: %s header: %v", ErrCorrupt, f, err)
	}
	h.Width, h.Height = cfg.Width, cfg.Height
	if h.Width <= 0 || h.Height <= 0 {
		return Header{}, corruptf("%s header declares %d×%d", f, h.Width, h.Height)
	}
	return h, nil
}

// jpegOrientation scans the JPEG marker segments up to the first scan for
// an Exif APP1 segment and returns its IFD0 Orientation tag, or 1 when
// there is none or it cannot be read. A bad orientation never fails an
// upload: it is advisory metadata.
func jpegOrientation(r io.Reader) int {
	o := 1
	jpegSegments(r, func(marker byte, seg []byte) bool {
		if marker == 0xE1 && len(seg) > 6 && string(seg[:6]) == "Exif\x00\x00" {
			if v := exifOrientation(seg[6:]); v != 0 {
				o = v
				return false
			}
		}
		return true
	})
	return o
}

// jpegSegments calls fn with each marker segment of a JPEG stream before
// its first scan, until fn returns false or the stream ends or is
// malformed.
func jpegSegments(r io.Reader, fn func(marker byte, seg []byte) bool) {
	var buf [4]byte
	if _, err := io.ReadFull(r, buf[:2]); err != nil {
		return
	}
	for {
		if _, err := io.ReadFull(r, buf[:4]); err != nil {
			return
		}
		for buf[1] == 0xFF { // fill bytes
			buf[1], buf[2] = buf[2], buf[3]
			if _, err := io.ReadFull(r, buf[3:4]); err != nil {
				return
			}
		}
		if buf[0] != 0xFF {
			return
		}
		marker := buf[1]
		n := int(buf[2])<<8 | int(buf[3])
		if marker == 0xDA || marker == 0xD9 || n < 2 {
			return // start of scan or end of image
		}
		seg := make([]byte, n-2)
		if _, err := io.ReadFull(r, seg); err != nil {
			return
		}
		if !fn(marker, seg) {
			return
		}
	}
}

// exifOrientation reads tag 0x0112 from IFD0 of a TIFF-structured Exif
// block. It returns 0 when the block has no valid orientation.
func exifOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var u16 func([]byte) uint16
	var u32 func([]byte) uint32
	switch string(t[:2]) {
	case "II":
		u16 = func(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }
		u32 = func(b []byte) uint32 { return uint32(u16(b)) | uint32(u16(b[2:]))<<16 }
	case "MM":
		u16 = func(b []byte) uint16 { return uint16(b[1]) | uint16(b[0])<<8 }
		u32 = func(b []byte) uint32 { return uint32(u16(b[2:])) | uint32(u16(b))<<16 }
	default:
		return 0
	}
	if u16(t[2:]) != 42 {
		return 0
	}
	ifd := int64(u32(t[4:]))
	if ifd < 8 || ifd+2 > int64(len(t)) {
		return 0
	}
	count := int64(u16(t[ifd:]))
	for i := int64(0); i < count; i++ {
		e := ifd + 2 + i*12
		if e+12 > int64(len(t)) {
			return 0
		}
		if u16(t[e:]) == 0x0112 && u16(t[e+2:]) == 3 { // Orientation, SHORT
			if o := int(u16(t[e+8:])); o >= 1 && o <= 8 {
				return o
			}
			return 0
		}
	}
	return 0
}
