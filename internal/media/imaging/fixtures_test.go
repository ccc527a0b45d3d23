package imaging

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"
)

// gradient returns a w×h image whose left half is red-ish and right half
// blue-ish, so orientation can be checked on the output.
func gradient(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.RGBA{R: uint8(255 * x / max(1, w-1)), G: uint8(255 * y / max(1, h-1)), B: 128, A: 255}
			if x < w/2 {
				c.R, c.B = 255, 0
			} else {
				c.R, c.B = 0, 255
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

// makeJPEG encodes a gradient as JPEG, with an Exif orientation when o > 0.
func makeJPEG(t testing.TB, w, h, o int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, gradient(w, h), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if o == 0 {
		return b
	}
	return append(append(append([]byte{}, b[:2]...), exifSegment(o)...), b[2:]...)
}

// exifSegment returns a big-endian APP1 Exif segment holding orientation o.
func exifSegment(o int) []byte {
	tiff := []byte("MM\x00\x2a\x00\x00\x00\x08")
	tiff = binary.BigEndian.AppendUint16(tiff, 1)      // one IFD0 entry
	tiff = binary.BigEndian.AppendUint16(tiff, 0x0112) // Orientation
	tiff = binary.BigEndian.AppendUint16(tiff, 3)      // SHORT
	tiff = binary.BigEndian.AppendUint32(tiff, 1)
	tiff = binary.BigEndian.AppendUint16(tiff, uint16(o))
	tiff = append(tiff, 0, 0, 0, 0, 0, 0) // value padding, next IFD
	payload := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xFF, 0xE1}
	seg = binary.BigEndian.AppendUint16(seg, uint16(len(payload)+2))
	return append(seg, payload...)
}

// makePNG encodes a w×h gradient PNG.
func makePNG(t testing.TB, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, gradient(w, h)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pngBomb returns a valid PNG signature and IHDR declaring w×h, followed by
// no image data: a decompression bomb's header.
func pngBomb(w, h uint32) []byte {
	b := []byte("\x89PNG\r\n\x1a\n")
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(len(ihdr)))
	chunk := append([]byte("IHDR"), ihdr...)
	b = append(b, chunk...)
	return binary.BigEndian.AppendUint32(b, crc32IEEE(chunk))
}

// mkbox builds an ISO-BMFF box.
func mkbox(typ string, body ...[]byte) []byte {
	var payload []byte
	for _, b := range body {
		payload = append(payload, b...)
	}
	out := binary.BigEndian.AppendUint32(nil, uint32(8+len(payload)))
	return append(append(out, typ...), payload...)
}

// makeHEIF returns an ftyp + meta skeleton with brand whose primary item
// (id 1) has an ispe of w×h and a second, thumbnail ispe of 64×48.
func makeHEIF(brand string, w, h uint32, irot byte) []byte {
	full := []byte{0, 0, 0, 0}
	ispe := func(w, h uint32) []byte {
		b := binary.BigEndian.AppendUint32(append([]byte{}, full...), w)
		return mkbox("ispe", binary.BigEndian.AppendUint32(b, h))
	}
	ipco := mkbox("ipco", ispe(64, 48), ispe(w, h), mkbox("irot", []byte{irot}))
	// ipma v0, flags 0: item 1 → props 2 and 3 (essential bit on 3); item 2 → prop 1.
	ipma := mkbox("ipma", full, []byte{0, 0, 0, 2, 0, 1, 2, 2, 0x83, 0, 2, 1, 1})
	meta := mkbox("meta", full, mkbox("hdlr", full, []byte("\x00\x00\x00\x00pict")),
		mkbox("pitm", full, []byte{0, 1}), mkbox("iprp", ipco, ipma))
	ftyp := mkbox("ftyp", []byte(brand), []byte{0, 0, 0, 0}, []byte("mif1"), []byte(brand))
	return append(append(ftyp, meta...), mkbox("mdat", []byte("not really pixels"))...)
}

func crc32IEEE(b []byte) uint32 { return crc32.ChecksumIEEE(b) }
