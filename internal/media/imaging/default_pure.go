//go:build !vips

package imaging

// DefaultEngineName names the engine OpenDefault returns in this build.
const DefaultEngineName = "pure-go"

// OpenDefault returns the engine selected at build time. This build
// (without the vips tag) returns the pure-Go engine; build with -tags vips
// for libvips. Close the engine when done.
func OpenDefault(cfg Config) (CloseableEngine, error) {
	return NewPureEngine(cfg.Logger), nil
}
