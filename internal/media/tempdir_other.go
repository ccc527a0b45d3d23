//go:build !unix

package media

import "os"

// canLock: no advisory lock here, so no directory is ever swept (any may
// be in use); only the flat layout's old files are.
const canLock = false

// tryLock succeeds: a Service's own claim needs no lock where none exists.
func tryLock(*os.File) (bool, error) { return true, nil }
