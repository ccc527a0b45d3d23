package media

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Temp files. Each Service keeps its temp files (uploads being received,
// originals being processed) in its own directory, <TempDir>/p-<random>,
// and holds an exclusive advisory lock (flock) on the directory's .lock
// file while it runs. The lock goes with the process, however it ends
// (SIGKILL included), so at start a Service removes every p-* directory
// whose lock it can take: those of processes that are gone. Directories
// of processes that still run (serve and worker sharing a data dir) are
// locked and kept. Files of the earlier flat layout (<TempDir>/upload-*,
// original-*) older than the process are removed too.

// processStart is when this process started (near enough: package init).
var processStart = time.Now()

// tempDirPrefix names each Service's own temp directory.
const tempDirPrefix = "p-"

// lockName is the lock file inside a Service's temp directory.
const lockName = ".lock"

// claimTempDir sweeps parent of stale temp files, then creates and locks
// this Service's own directory in it. It returns the directory, the
// release func (unlock and remove it) and how many stale entries it
// removed.
func claimTempDir(parent string) (string, func() error, int, error) {
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return "", nil, 0, fmt.Errorf("media temp dir: %w", err)
	}
	removed, err := sweepTempDir(parent)
	if err != nil {
		return "", nil, removed, err
	}
	dir, err := os.MkdirTemp(parent, tempDirPrefix+"*")
	if err != nil {
		return "", nil, removed, fmt.Errorf("media temp dir: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, removed, fmt.Errorf("media temp dir lock: %w", err)
	}
	if ok, err := tryLock(lock); err != nil || !ok {
		lock.Close()
		os.RemoveAll(dir)
		return "", nil, removed, fmt.Errorf("media temp dir lock %s: %v", dir, err)
	}
	release := func() error {
		err := os.RemoveAll(dir) // while locked: no sweeper removes it under us
		return errors.Join(err, lock.Close())
	}
	return dir, release, removed, nil
}

// sweepTempDir removes what dead processes left in parent.
func sweepTempDir(parent string) (int, error) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return 0, fmt.Errorf("media temp dir: %w", err)
	}
	removed := 0
	for _, e := range entries {
		name, p := e.Name(), filepath.Join(parent, e.Name())
		switch {
		case e.IsDir() && strings.HasPrefix(name, tempDirPrefix):
			if !deadDir(p) {
				continue
			}
		case e.Type().IsRegular() && (strings.HasPrefix(name, "upload-") || strings.HasPrefix(name, "original-")):
			info, err := e.Info()
			if err != nil || !info.ModTime().Before(processStart) {
				continue
			}
		default:
			continue
		}
		if err := os.RemoveAll(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, fmt.Errorf("remove stale temp %s: %w", p, err)
		}
		removed++
	}
	return removed, nil
}

// deadDir reports whether the process that owned dir is gone: its lock
// can be taken (or it never got one).
func deadDir(dir string) bool {
	if !canLock {
		return false
	}
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		// No lock file: a process that died between creating the
		// directory and its lock, or a copy; old enough, it is dead.
		info, err := os.Stat(dir)
		return err == nil && info.ModTime().Before(processStart.Add(-time.Minute))
	}
	if err != nil {
		return false
	}
	defer f.Close() // releases the lock taken below
	ok, err := tryLock(f)
	return err == nil && ok
}
