package jobqsqlite

import (
	"os"
	"syscall"
)

// fdatasync flushes f's data (and the metadata needed to read it back,
// such as its size) to the disk, as SQLite's own WAL syncs do on Linux.
func fdatasync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			serr = syscall.Fdatasync(int(fd))
			if serr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return serr
}
