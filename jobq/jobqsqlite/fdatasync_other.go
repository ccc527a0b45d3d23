//go:build !linux

package jobqsqlite

import "os"

// fdatasync flushes f to the disk (os.File.Sync: fsync, or F_FULLFSYNC on
// macOS).
func fdatasync(f *os.File) error { return f.Sync() }
