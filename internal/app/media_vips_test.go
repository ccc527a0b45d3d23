//go:build vips

package app_test

import (
	"os"
	"testing"

	"github.com/sevra/atlas/internal/media/imaging"
)

// TestMain holds one libvips engine for the whole package: libvips starts
// once per process and cannot be restarted after its last engine closes,
// and these tests open and close engines (through run() or their rigs).
func TestMain(m *testing.M) {
	e, err := imaging.NewVipsEngine(imaging.Config{})
	if err != nil {
		panic(err)
	}
	code := m.Run()
	e.Close()
	os.Exit(code)
}
