package imaging

import (
	"encoding/binary"
	"errors"
	"io"
)

// maxMetaBox bounds how much of an AVIF/HEIC meta box is read: real ones
// are a few kilobytes; anything larger is treated as hostile.
const maxMetaBox = 1 << 20

// bmffInfo is what the AVIF/HEIC header parser extracts.
type bmffInfo struct {
	width, height int
	irot          int // anticlockwise quarter turns of the primary item
}

// orientation maps irot onto the equivalent EXIF orientation.
func (b bmffInfo) orientation() int {
	switch b.irot {
	case 1:
		return 8
	case 2:
		return 3
	case 3:
		return 6
	}
	return 1
}

// box is one parsed ISO-BMFF box: its type and payload.
type box struct {
	typ  string
	body []byte
}

// readBMFF finds the top-level meta box and reads the primary item's image
// spatial extent (ispe) and rotation (irot) from it. When the primary item
// cannot be resolved it falls back to the largest ispe, which errs on the
// side of the pixel cap.
func readBMFF(r io.ReaderAt, size int64) (bmffInfo, error) {
	var off int64
	for off+8 <= size {
		var hdr [16]byte
		if _, err := r.ReadAt(hdr[:8], off); err != nil {
			return bmffInfo{}, corruptf("box header at %d: %v", off, err)
		}
		boxSize := int64(binary.BigEndian.Uint32(hdr[0:4]))
		typ := string(hdr[4:8])
		hlen := int64(8)
		switch boxSize {
		case 0:
			boxSize = size - off
		case 1:
			if _, err := r.ReadAt(hdr[8:16], off+8); err != nil {
				return bmffInfo{}, corruptf("large box header at %d: %v", off, err)
			}
			boxSize = int64(binary.BigEndian.Uint64(hdr[8:16]))
			hlen = 16
		}
		if boxSize < hlen || boxSize > size-off {
			return bmffInfo{}, corruptf("box %q at %d has size %d", typ, off, boxSize)
		}
		if typ == "meta" {
			if boxSize-hlen > maxMetaBox {
				return bmffInfo{}, corruptf("meta box of %d bytes", boxSize)
			}
			body := make([]byte, boxSize-hlen)
			if _, err := r.ReadAt(body, off+hlen); err != nil && !errors.Is(err, io.EOF) {
				return bmffInfo{}, corruptf("meta box: %v", err)
			}
			return parseMeta(body)
		}
		off += boxSize
	}
	return bmffInfo{}, corruptf("no meta box")
}

// children splits a payload into boxes. Malformed sizes end the list.
func children(b []byte) []box {
	var out []box
	for len(b) >= 8 {
		n := uint64(binary.BigEndian.Uint32(b[0:4]))
		typ := string(b[4:8])
		h := uint64(8)
		switch n {
		case 0:
			n = uint64(len(b))
		case 1:
			if len(b) < 16 {
				return out
			}
			n, h = binary.BigEndian.Uint64(b[8:16]), 16
		}
		if n < h || n > uint64(len(b)) {
			return out
		}
		out = append(out, box{typ: typ, body: b[h:n]})
		b = b[n:]
	}
	return out
}

// parseMeta walks meta → pitm, iprp → ipco, ipma.
func parseMeta(meta []byte) (bmffInfo, error) {
	if len(meta) < 4 {
		return bmffInfo{}, corruptf("short meta box")
	}
	var (
		primary    uint32
		hasPrimary bool
		props      []box
		assoc      = map[uint32][]int{}
	)
	for _, c := range children(meta[4:]) { // meta is a FullBox
		switch c.typ {
		case "pitm":
			if len(c.body) >= 6 && c.body[0] == 0 {
				primary, hasPrimary = uint32(binary.BigEndian.Uint16(c.body[4:])), true
			} else if len(c.body) >= 8 {
				primary, hasPrimary = binary.BigEndian.Uint32(c.body[4:]), true
			}
		case "iprp":
			for _, p := range children(c.body) {
				switch p.typ {
				case "ipco":
					props = children(p.body)
				case "ipma":
					parseIPMA(p.body, assoc)
				}
			}
		}
	}
	var info bmffInfo
	found := false
	if hasPrimary {
		for _, idx := range assoc[primary] {
			if idx < 1 || idx > len(props) {
				continue
			}
			p := props[idx-1]
			switch p.typ {
			case "ispe":
				if w, h, ok := parseISPE(p.body); ok {
					info.width, info.height, found = w, h, true
				}
			case "irot":
				if len(p.body) >= 1 {
					info.irot = int(p.body[0] & 3)
				}
			}
		}
	}
	if !found {
		var best int64 = -1
		for _, p := range props {
			if w, h, ok := parseISPE(p.body); ok && p.typ == "ispe" && int64(w)*int64(h) > best {
				info.width, info.height, best, found = w, h, int64(w)*int64(h), true
			}
		}
	}
	if !found {
		return bmffInfo{}, corruptf("no ispe property")
	}
	return info, nil
}

// parseISPE reads an ispe FullBox payload.
func parseISPE(b []byte) (w, h int, ok bool) {
	if len(b) < 12 {
		return 0, 0, false
	}
	wu, hu := binary.BigEndian.Uint32(b[4:8]), binary.BigEndian.Uint32(b[8:12])
	if wu > 1<<30 || hu > 1<<30 {
		return 0, 0, false
	}
	return int(wu), int(hu), true
}

// parseIPMA fills item → 1-based property indexes from an ipma FullBox.
func parseIPMA(b []byte, out map[uint32][]int) {
	if len(b) < 8 {
		return
	}
	version, flags := b[0], b[3]
	n := binary.BigEndian.Uint32(b[4:8])
	b = b[8:]
	for i := uint32(0); i < n; i++ {
		var item uint32
		if version < 1 {
			if len(b) < 2 {
				return
			}
			item, b = uint32(binary.BigEndian.Uint16(b)), b[2:]
		} else {
			if len(b) < 4 {
				return
			}
			item, b = binary.BigEndian.Uint32(b), b[4:]
		}
		if len(b) < 1 {
			return
		}
		count := int(b[0])
		b = b[1:]
		for j := 0; j < count; j++ {
			var idx int
			if flags&1 != 0 {
				if len(b) < 2 {
					return
				}
				idx, b = int(binary.BigEndian.Uint16(b)&0x7FFF), b[2:]
			} else {
				if len(b) < 1 {
					return
				}
				idx, b = int(b[0]&0x7F), b[1:]
			}
			out[item] = append(out[item], idx)
		}
	}
}
