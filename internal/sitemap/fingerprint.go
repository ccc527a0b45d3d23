package sitemap

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// Fingerprint summarises a generation for a shadow comparison: the URLs
// its children list, its file set with the generation id taken out of the
// names, and a SHA-256 over every file's uncompressed content (with the
// generation id in the index's child locations replaced by a constant).
// Two builds of the same data have equal fingerprints.
type Fingerprint struct {
	URLs   int64    `json:"urls"`
	Files  []string `json:"files"`
	SHA256 string   `json:"sha256"`
}

// Equal reports whether f and o describe the same sitemap.
func (f Fingerprint) Equal(o Fingerprint) bool {
	return f.URLs == o.URLs && f.SHA256 == o.SHA256 && slices.Equal(f.Files, o.Files)
}

// FingerprintDir fingerprints the generation id stored in dir.
func FingerprintDir(dir, id string) (Fingerprint, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return Fingerprint{}, fmt.Errorf("fingerprint %s: %w", id, err)
	}
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	return fingerprintFiles(id, names, func(name string) (io.ReadCloser, error) {
		return os.Open(filepath.Join(dir, name))
	})
}

// fingerprintFiles fingerprints generation id made of the files names,
// read through open.
func fingerprintFiles(id string, names []string, open func(name string) (io.ReadCloser, error)) (Fingerprint, error) {
	type file struct{ name, norm string }
	var files []file
	for _, n := range names {
		files = append(files, file{n, strings.ReplaceAll(n, "-"+id, "")})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].norm < files[j].norm })
	var fp Fingerprint
	h := sha256.New()
	for _, f := range files {
		b, err := readPlain(f.name, open)
		if err != nil {
			return Fingerprint{}, fmt.Errorf("fingerprint %s: %w", id, err)
		}
		b = bytes.ReplaceAll(b, []byte(id), []byte("GENERATION"))
		if f.name != IndexFile {
			fp.URLs += int64(bytes.Count(b, []byte("<url>")))
		}
		fp.Files = append(fp.Files, f.norm)
		fmt.Fprintf(h, "%s\n%d\n", f.norm, len(b))
		h.Write(b)
	}
	fp.SHA256 = hex.EncodeToString(h.Sum(nil))
	return fp, nil
}

// readPlain reads a file through open, gunzipping .gz files.
func readPlain(name string, open func(string) (io.ReadCloser, error)) ([]byte, error) {
	f, err := open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(name, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	}
	return io.ReadAll(r)
}
