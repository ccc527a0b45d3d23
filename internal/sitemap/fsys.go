package sitemap

import (
	"io"
	"io/fs"
	"os"
)

// fileSystem is the part of the OS a Publisher uses to make a generation
// durable and to switch the local live pointer: creating and fsyncing
// files, fsyncing directories, and the rename. It is a seam for the test
// that records the order of syncs and the switch (see
// TestCommitSyncsBeforeSwitch); production uses osFS.
type fileSystem interface {
	// OpenFile is os.OpenFile.
	OpenFile(name string, flag int, perm fs.FileMode) (syncWriter, error)
	// OpenDir opens a directory for Sync (os.Open).
	OpenDir(name string) (syncer, error)
	// Rename is os.Rename.
	Rename(oldpath, newpath string) error
}

// syncWriter is a file being written: *os.File.
type syncWriter interface {
	io.Writer
	syncer
	Name() string
}

// syncer is an open file or directory that can be fsynced and closed.
type syncer interface {
	Sync() error
	Close() error
}

// osFS is the fileSystem of the operating system.
type osFS struct{}

func (osFS) OpenFile(name string, flag int, perm fs.FileMode) (syncWriter, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (osFS) OpenDir(name string) (syncer, error) {
	d, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	return d, nil
}

func (osFS) Rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }
