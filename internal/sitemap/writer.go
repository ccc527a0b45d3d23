package sitemap

import (
	"bytes"
	"compress/gzip"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Protocol limits and the defaults Atlas uses below them.
const (
	// DefaultMaxURLs is where a child sitemap rolls over; the protocol
	// allows 50,000, and 45,000 leaves headroom (the proven pattern).
	DefaultMaxURLs = 45_000
	// DefaultMaxBytes bounds a child's uncompressed size. The protocol
	// allows 50 MiB (52,428,800 bytes); 50,000,000 is under it whichever
	// way "50 MB" is read.
	DefaultMaxBytes = 50_000_000
	// MaxIndexEntries is the most child sitemaps one index may list.
	MaxIndexEntries = 50_000
	// MaxImagesPerURL is the most image:image entries one URL may carry;
	// extra images are dropped.
	MaxImagesPerURL = 1_000
)

// XML namespaces of the sitemap protocol and Google's image extension.
const (
	SitemapNS = "http://www.sitemaps.org/schemas/sitemap/0.9"
	ImageNS   = "http://www.google.com/schemas/sitemap-image/1.1"
)

// ErrInvalidURL is returned by URLSetWriter.Add for an entry that cannot be
// listed: not absolute http(s), or longer than 2,048 bytes.
var ErrInvalidURL = errors.New("invalid sitemap URL")

// URL is one <url> entry of a sitemap.
type URL struct {
	// Loc is the absolute URL of the page, unescaped for XML.
	Loc string
	// LastMod is the page's last significant change; nil omits <lastmod>.
	LastMod *time.Time
	// Images are absolute image URLs, written as image:image entries.
	Images []string
}

// Limits bound one child sitemap. Zero fields take the defaults.
type Limits struct {
	// MaxURLs per file; default DefaultMaxURLs.
	MaxURLs int
	// MaxBytes of uncompressed XML per file; default DefaultMaxBytes.
	MaxBytes int64
}

func (l Limits) withDefaults() Limits {
	if l.MaxURLs <= 0 {
		l.MaxURLs = DefaultMaxURLs
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	return l
}

// FileCreator creates the named file for writing; the file is complete and
// durable once Close returns nil. *Generation implements it.
type FileCreator interface {
	Create(name string) (io.WriteCloser, error)
}

// FileInfo describes one written child sitemap.
type FileInfo struct {
	Name string
	URLs int
	// Bytes is the uncompressed size.
	Bytes int64
	// LastMod is the latest LastMod of its entries, nil when none has one.
	LastMod *time.Time
}

// W3C formats t as a W3C datetime (RFC 3339 in UTC, whole seconds).
func W3C(t time.Time) string { return t.UTC().Truncate(time.Second).Format(time.RFC3339) }

// appendW3C appends W3C(t) to b without allocating.
func appendW3C(b []byte, t time.Time) []byte {
	return t.UTC().Truncate(time.Second).AppendFormat(b, time.RFC3339)
}

// gzipLevel compresses the child sitemaps. BestSpeed, not
// DefaultCompression: on 1M-URL rebuilds (bench/sitemap) level 6 was about
// 40% of the rebuild's CPU and level 1 compresses the same XML about 4×
// faster, for files about 25% larger (16% instead of 12.6% of the XML).
// The protocol's 50 MB limit is on the uncompressed size, and crawlers
// fetch a child a few times a day, so the CPU of every rebuild on a shared
// host matters more than the extra bytes on the wire.
const gzipLevel = gzip.BestSpeed

const xmlHeader = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"

// URLSetWriter streams <url> entries into gzipped child sitemaps, starting
// a new file before either limit would be exceeded.
type URLSetWriter struct {
	sink   FileCreator
	name   func(n int) string
	limits Limits
	images bool

	open, close string
	files       []FileInfo
	f           io.WriteCloser
	gz          *gzip.Writer
	cur         FileInfo
	entry       bytes.Buffer
	stamp       [len(time.RFC3339) + 8]byte // lastmod scratch
	closed      bool
}

// NewURLSetWriter returns a writer that creates files named name(1),
// name(2), … in sink. With images set, the urlset declares the image
// namespace and entries may carry images; without it an entry with images
// is an error.
func NewURLSetWriter(sink FileCreator, name func(n int) string, limits Limits, images bool) *URLSetWriter {
	open := `<urlset xmlns="` + SitemapNS + `">` + "\n"
	if images {
		open = `<urlset xmlns="` + SitemapNS + `" xmlns:image="` + ImageNS + `">` + "\n"
	}
	return &URLSetWriter{sink: sink, name: name, limits: limits.withDefaults(), images: images,
		open: xmlHeader + open, close: "</urlset>\n"}
}

// Add appends u, rolling over to a new file when the current one is full.
// An entry that cannot be listed returns an error wrapping ErrInvalidURL
// and leaves the writer usable.
func (w *URLSetWriter) Add(u URL) error {
	if w.closed {
		return errors.New("sitemap writer: add after close")
	}
	if err := checkLoc(u.Loc); err != nil {
		return err
	}
	if len(u.Images) > 0 && !w.images {
		return errors.New("sitemap writer: images on a writer without the image namespace")
	}
	w.encode(u)
	overhead := int64(len(w.open) + len(w.close))
	if overhead+int64(w.entry.Len()) > w.limits.MaxBytes {
		return fmt.Errorf("%w: entry of %d bytes exceeds the file size limit", ErrInvalidURL, w.entry.Len())
	}
	if w.f != nil && (w.cur.URLs >= w.limits.MaxURLs || w.cur.Bytes+int64(w.entry.Len())+int64(len(w.close)) > w.limits.MaxBytes) {
		if err := w.finish(); err != nil {
			return err
		}
	}
	if w.f == nil {
		if err := w.start(); err != nil {
			return err
		}
	}
	if err := w.write(w.entry.Bytes()); err != nil {
		return err
	}
	w.cur.URLs++
	if u.LastMod != nil && (w.cur.LastMod == nil || u.LastMod.After(*w.cur.LastMod)) {
		t := u.LastMod.UTC()
		w.cur.LastMod = &t
	}
	return nil
}

// Close finishes the current file and returns every file written. A writer
// that received no entries writes one empty (valid) urlset, so every
// section of the index exists.
func (w *URLSetWriter) Close() ([]FileInfo, error) {
	if w.closed {
		return w.files, nil
	}
	w.closed = true
	if w.f == nil && len(w.files) == 0 {
		if err := w.start(); err != nil {
			return nil, err
		}
	}
	if w.f != nil {
		if err := w.finish(); err != nil {
			return nil, err
		}
	}
	return w.files, nil
}

// Abort closes any open file without finishing it.
func (w *URLSetWriter) Abort() {
	w.closed = true
	if w.f != nil {
		w.f.Close()
		w.f, w.gz = nil, nil
	}
}

func (w *URLSetWriter) start() error {
	name := w.name(len(w.files) + 1)
	f, err := w.sink.Create(name)
	if err != nil {
		return fmt.Errorf("sitemap %s: %w", name, err)
	}
	gz, err := gzip.NewWriterLevel(f, gzipLevel)
	if err != nil {
		f.Close()
		return fmt.Errorf("sitemap %s: %w", name, err)
	}
	w.f, w.gz, w.cur = f, gz, FileInfo{Name: name}
	return w.write([]byte(w.open))
}

func (w *URLSetWriter) write(p []byte) error {
	if _, err := w.gz.Write(p); err != nil {
		return fmt.Errorf("sitemap %s: %w", w.cur.Name, err)
	}
	w.cur.Bytes += int64(len(p))
	return nil
}

func (w *URLSetWriter) finish() error {
	err := w.write([]byte(w.close))
	if err == nil {
		err = w.gz.Close()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	w.f, w.gz = nil, nil
	if err != nil {
		return fmt.Errorf("sitemap %s: %w", w.cur.Name, err)
	}
	w.files = append(w.files, w.cur)
	return nil
}

// encode renders u into w.entry.
func (w *URLSetWriter) encode(u URL) {
	b := &w.entry
	b.Reset()
	b.WriteString("<url><loc>")
	escapeText(b, u.Loc)
	b.WriteString("</loc>")
	if u.LastMod != nil {
		b.WriteString("<lastmod>")
		b.Write(appendW3C(w.stamp[:0], *u.LastMod))
		b.WriteString("</lastmod>")
	}
	n := 0
	for _, img := range u.Images {
		if n == MaxImagesPerURL {
			break
		}
		if checkLoc(img) != nil {
			continue
		}
		b.WriteString("<image:image><image:loc>")
		escapeText(b, img)
		b.WriteString("</image:loc></image:image>")
		n++
	}
	b.WriteString("</url>\n")
}

// escapeText writes s escaped as xml.EscapeText does. The common case, a
// percent-escaped URL of printable ASCII with nothing to escape, is copied
// as it is, without the []byte copy and per-rune writes of EscapeText.
func escapeText(b *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '&' || c == '<' || c == '>' || c == '"' || c == '\'' {
			xml.EscapeText(b, []byte(s))
			return
		}
	}
	b.WriteString(s)
}

// checkLoc reports whether loc may appear in a sitemap.
func checkLoc(loc string) error {
	switch {
	case !strings.HasPrefix(loc, "https://") && !strings.HasPrefix(loc, "http://"):
		return fmt.Errorf("%w: %.80q is not absolute http(s)", ErrInvalidURL, loc)
	case len(loc) > maxLocLen:
		return fmt.Errorf("%w: %.80q… is longer than %d bytes", ErrInvalidURL, loc, maxLocLen)
	}
	return nil
}

// IndexEntry is one <sitemap> entry of a sitemap index.
type IndexEntry struct {
	Loc     string
	LastMod *time.Time
}

// WriteIndex writes a sitemap index listing entries (1 to MaxIndexEntries).
func WriteIndex(w io.Writer, entries []IndexEntry) error {
	if len(entries) == 0 || len(entries) > MaxIndexEntries {
		return fmt.Errorf("sitemap index: %d entries, want 1 to %d", len(entries), MaxIndexEntries)
	}
	var b bytes.Buffer
	b.WriteString(xmlHeader)
	b.WriteString(`<sitemapindex xmlns="` + SitemapNS + `">` + "\n")
	for _, e := range entries {
		if err := checkLoc(e.Loc); err != nil {
			return fmt.Errorf("sitemap index: %w", err)
		}
		b.WriteString("<sitemap><loc>")
		xml.EscapeText(&b, []byte(e.Loc))
		b.WriteString("</loc>")
		if e.LastMod != nil {
			b.WriteString("<lastmod>" + W3C(*e.LastMod) + "</lastmod>")
		}
		b.WriteString("</sitemap>\n")
		if b.Len() > 1<<20 {
			if _, err := w.Write(b.Bytes()); err != nil {
				return fmt.Errorf("sitemap index: %w", err)
			}
			b.Reset()
		}
	}
	b.WriteString("</sitemapindex>\n")
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("sitemap index: %w", err)
	}
	return nil
}
