package main

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/sevra/atlas/internal/sitemap"
)

// exportList writes the URL list of the live generation under dataDir (as
// the Go builder wrote it: every child in index order, loc, lastmod and
// image:loc of each <url>) to an NDJSON file in npm sitemap's item shape,
// and returns the number of URLs written.
func exportList(dataDir, out string) (int64, error) {
	pub, err := sitemap.NewPublisher(dataDir, nil)
	if err != nil {
		return 0, err
	}
	live, err := pub.Live()
	if err != nil {
		return 0, err
	}
	idx, err := os.ReadFile(filepath.Join(live.Dir, sitemap.IndexFile))
	if err != nil {
		return 0, err
	}
	f, err := os.Create(out)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	var n int64
	for _, loc := range between(string(idx), "<loc>", "</loc>") {
		name := path.Base(html.UnescapeString(loc))
		c, err := exportChild(filepath.Join(live.Dir, name), enc)
		n += c
		if err != nil {
			return n, fmt.Errorf("export %s: %w", name, err)
		}
	}
	if err := w.Flush(); err != nil {
		return n, err
	}
	return n, f.Close()
}

func exportChild(file string, enc *json.Encoder) (int64, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	var n int64
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "<url>") {
			continue
		}
		var e listEntry
		locs := between(line, "<loc>", "</loc>")
		if len(locs) != 1 {
			return n, fmt.Errorf("url line without one <loc>: %.200s", line)
		}
		e.URL = html.UnescapeString(locs[0])
		if lm := between(line, "<lastmod>", "</lastmod>"); len(lm) == 1 {
			e.LastMod = lm[0]
		}
		for _, im := range between(line, "<image:loc>", "</image:loc>") {
			e.Img = append(e.Img, struct {
				URL string `json:"url"`
			}{html.UnescapeString(im)})
		}
		if err := enc.Encode(e); err != nil {
			return n, err
		}
		n++
	}
	if err := sc.Err(); err != nil {
		return n, err
	}
	if n == 0 {
		return 0, nil
	}
	return n, errors.Join(zr.Close())
}

// between returns every substring of s between open and close.
func between(s, open, close string) []string {
	var out []string
	for {
		_, after, ok := strings.Cut(s, open)
		if !ok {
			return out
		}
		v, rest, ok := strings.Cut(after, close)
		if !ok {
			return out
		}
		out = append(out, v)
		s = rest
	}
}

// countURLs counts <url> elements in the gzipped children in dir whose
// names start with prefix (a check that a contender wrote every URL).
func countURLs(dir, prefix string) (int64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), prefix) || !strings.HasSuffix(e.Name(), ".xml.gz") || strings.Contains(e.Name(), "index") {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			return n, err
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			f.Close()
			return n, err
		}
		br := bufio.NewReaderSize(zr, 1<<20)
		for {
			chunk, err := br.ReadSlice('>')
			if strings.HasSuffix(string(chunk), "<url>") {
				n++
			}
			if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
				break
			}
		}
		f.Close()
	}
	return n, nil
}
