package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// tmpPrefix marks files Local.Put is still writing; they are never served.
const tmpPrefix = ".tmp-"

// Local stores objects as files under a root directory. Put writes to a
// temporary file in the target directory, syncs it and renames it into
// place, so readers never see partial files.
type Local struct {
	root    string
	baseURL string
}

// NewLocal returns a Local rooted at dir (created if missing). baseURL is
// prepended to keys by URL; "" yields root-relative URLs such as
// "/media/12/320w.webp" for the key "media/12/320w.webp".
func NewLocal(dir, baseURL string) (*Local, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("storage dir: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("create storage dir: %w", err)
	}
	return &Local{root: abs, baseURL: strings.TrimSuffix(baseURL, "/")}, nil
}

// Path returns the file path of key, for callers (such as image engines)
// that read files directly.
func (l *Local) Path(key string) (string, error) {
	if err := ValidKey(key); err != nil {
		return "", err
	}
	return filepath.Join(l.root, filepath.FromSlash(key)), nil
}

// Put implements Storage. contentType is not stored: Local serves by
// extension.
func (l *Local) Put(ctx context.Context, key string, r io.Reader, contentType string) error {
	p, err := l.Path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	f, err := os.CreateTemp(filepath.Dir(p), tmpPrefix+"*")
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	tmp := f.Name()
	_, err = io.Copy(f, ctxReader{ctx, r})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// Open implements Storage.
func (l *Local) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	p, err := l.Path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	return f, nil
}

// Delete implements Storage. Directories left empty are removed up to the
// root, so deleted media leave nothing behind.
func (l *Local) Delete(ctx context.Context, key string) error {
	p, err := l.Path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	for dir := filepath.Dir(p); dir != l.root && strings.HasPrefix(dir, l.root); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil { // not empty (or gone): stop
			break
		}
	}
	return nil
}

// List implements Storage. It includes leftover temporary files of
// interrupted Puts (".tmp-…" names), so a caller cleaning up a prefix
// removes those too.
func (l *Local) List(ctx context.Context, prefix string) ([]string, error) {
	if err := validPrefix(prefix); err != nil {
		return nil, err
	}
	start := l.root
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		start = filepath.Join(l.root, filepath.FromSlash(prefix[:i]))
	}
	var keys []string
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(l.root, p)
		if err != nil {
			return err
		}
		if key := filepath.ToSlash(rel); strings.HasPrefix(key, prefix) {
			keys = append(keys, key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	return keys, nil
}

// URL implements Storage.
func (l *Local) URL(key string) string { return l.baseURL + "/" + key }

// Handler serves GET and HEAD for keys under prefix (such as "media/")
// from the URL path: mount it at "/media/" and "/media/12/320w.webp" serves
// the key "media/12/320w.webp". Responses carry CacheControl, the
// Content-Type of the extension and X-Content-Type-Options: nosniff; Range
// and conditional requests are handled by http.ServeContent. Directories,
// temporary files, symbolic links (anywhere below the root), keys outside
// prefix and invalid keys are 404.
func (l *Local) Handler(prefix string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		key := strings.TrimPrefix(r.URL.Path, "/")
		name := key[strings.LastIndexByte(key, '/')+1:]
		if !strings.HasPrefix(key, prefix) || strings.HasPrefix(name, tmpPrefix) || ValidKey(key) != nil {
			http.NotFound(w, r)
			return
		}
		f, st, err := l.openNoLinks(key)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		h := w.Header()
		h.Set("Content-Type", ContentType(key))
		h.Set("Cache-Control", CacheControl)
		h.Set("X-Content-Type-Options", "nosniff")
		http.ServeContent(w, r, name, st.ModTime().Truncate(time.Second), f)
	})
}

// errNotServed is returned by openNoLinks for what the handler never
// serves: symbolic links and anything but a regular file.
var errNotServed = errors.New("storage: not a regular file")

// openNoLinks opens the regular file of key, refusing a symbolic link at
// any step below the root (a link there was not written by Put: it could
// lead outside the store or to an upload not yet public). Every component
// is checked with Lstat, and the opened file must be the one checked, so a
// link swapped in between is refused too.
func (l *Local) openNoLinks(key string) (*os.File, fs.FileInfo, error) {
	p := l.root
	var last fs.FileInfo
	for _, part := range strings.Split(key, "/") {
		p = filepath.Join(p, part)
		st, err := os.Lstat(p)
		if err != nil {
			return nil, nil, err
		}
		if st.Mode()&fs.ModeSymlink != 0 {
			return nil, nil, errNotServed
		}
		last = st
	}
	if !last.Mode().IsRegular() {
		return nil, nil, errNotServed
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil || !os.SameFile(st, last) {
		f.Close()
		return nil, nil, errNotServed
	}
	return f, st, nil
}

// ContextReader returns a reader of r that fails with ctx's error once
// ctx is done, so a long copy stops with its request.
func ContextReader(ctx context.Context, r io.Reader) io.Reader { return ctxReader{ctx, r} }

// ctxReader stops a copy when its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

// Read implements io.Reader.
func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
