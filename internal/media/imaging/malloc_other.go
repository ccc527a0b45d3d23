//go:build !linux

package imaging

// tuneWebPMalloc does nothing outside Linux (malloc_linux.go).
func tuneWebPMalloc() {}
