package imaging

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestCheckJPEGComplete(t *testing.T) {
	t.Parallel()
	full := makeJPEG(t, 300, 200, 6)
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		data []byte
		ok   bool
	}{
		{"whole", full, true},
		{"trailer after EOI", append(append([]byte{}, full...), "camera trailer"...), true},
		{"cut in the scan", full[:len(full)/2], false},
		{"cut before the scan", full[:40], false},
		{"EOI bytes dropped", full[:len(full)-2], false},
		// An EOI split across the reader's 64 KiB chunks.
		{"EOI across a chunk boundary", straddle(64<<10-1, true), true},
		{"FF at a chunk boundary, no EOI", straddle(64<<10-1, false), false},
		{"EOI at a chunk start", straddle(64<<10, true), true},
	} {
		p := filepath.Join(dir, tc.name+".jpg")
		os.WriteFile(p, tc.data, 0o600)
		err := CheckJPEGComplete(p)
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrCorrupt)) {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
}

// straddle is a JPEG-shaped byte string (SOI, SOS, scan bytes) whose
// final 0xFF sits at offset ff, followed by D9 (EOI) when eoi is set, else
// by a stuffed 00.
func straddle(ff int, eoi bool) []byte {
	b := make([]byte, ff+2)
	for i := range b {
		b[i] = 0x55
	}
	copy(b, []byte{0xFF, 0xD8, 0xFF, 0xDA})
	b[ff] = 0xFF
	if eoi {
		b[ff+1] = 0xD9
	} else {
		b[ff+1] = 0x00
	}
	return b
}
