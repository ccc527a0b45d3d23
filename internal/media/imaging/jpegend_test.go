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
	} {
		p := filepath.Join(dir, tc.name+".jpg")
		os.WriteFile(p, tc.data, 0o600)
		err := CheckJPEGComplete(p)
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrCorrupt)) {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
}
