//go:build unix

package media

import (
	"errors"
	"os"
	"syscall"
)

// canLock: flock(2) tells a live process's temp directory from a dead one's.
const canLock = true

// tryLock takes an exclusive flock on f without waiting; false when
// another open file holds it.
func tryLock(f *os.File) (bool, error) {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}
