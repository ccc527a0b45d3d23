package imaging

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
)

// CheckJPEGComplete returns ErrCorrupt when the JPEG file at path ends
// before its first image does: no EOI marker (FF D9) after the first
// start-of-scan. Entropy-coded data cannot contain FF D9 (0xFF bytes are
// stuffed as FF 00), so this finds truncation exactly; bytes after the EOI
// (camera trailers, MPF images) are allowed. libvips' shrink-on-load JPEG
// path reports a truncated file only as a warning, even with fail=TRUE
// (seen with libvips 8.14: the variants come out grey at the bottom), so
// the vips engine runs this first. It reads the file once, sequentially.
func CheckJPEGComplete(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open source: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	var prev byte
	sawSOS := false
	for {
		b, err := r.ReadByte()
		if errors.Is(err, io.EOF) {
			if sawSOS {
				return corruptf("jpeg ends before its end-of-image marker (truncated)")
			}
			return corruptf("jpeg has no image data (truncated)")
		}
		if err != nil {
			return fmt.Errorf("read source: %w", err)
		}
		if prev == 0xFF {
			switch {
			case b == 0xDA:
				sawSOS = true
			case b == 0xD9 && sawSOS:
				return nil
			}
		}
		prev = b
	}
}
