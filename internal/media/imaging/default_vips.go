//go:build vips

package imaging

import "bytes"

// DefaultEngineName names the engine OpenDefault returns in this build.
const DefaultEngineName = "libvips"

// OpenDefault returns the engine selected at build time. This build (tag
// vips) starts libvips; the caller must Close the engine.
func OpenDefault(cfg Config) (CloseableEngine, error) {
	return NewVipsEngine(cfg)
}

// bytesReader wraps b for decoders.
func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
