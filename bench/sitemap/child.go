package main

// The child side: one run in its own process, so that the parent reads this
// process's max RSS and CPU time (wait4 rusage) apart from its own. The spec
// comes as JSON in argv; the child prints one JSON Result line on stdout.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/sevra/atlas/internal/sitemap"
	"github.com/sevra/atlas/internal/store"
)

// Spec tells a child what to run.
type Spec struct {
	Mode string `json:"mode"` // "rebuild" or "write"
	// rebuild: DatabaseURL ("" = SQLite file atlas.db in DBDir), and the
	// data dir the Publisher writes <OutDir>/sitemaps/ under.
	DatabaseURL string `json:"databaseURL,omitempty"`
	DBDir       string `json:"dbDir,omitempty"`
	PageSize    int    `json:"pageSize,omitempty"`
	// write: the NDJSON list and the directory the files go to.
	List   string `json:"list,omitempty"`
	OutDir string `json:"outDir"`
	// Optional pprof files.
	CPUProfile string `json:"cpuProfile,omitempty"`
	MemProfile string `json:"memProfile,omitempty"`
}

// Result is what a child reports.
type Result struct {
	Seconds    float64        `json:"seconds"` // the timed phase (rebuild, or the write)
	URLs       int64          `json:"urls"`
	Images     int64          `json:"images,omitempty"`
	Files      int            `json:"files"`
	XMLBytes   int64          `json:"xmlBytes,omitempty"`
	Pages      int            `json:"pages,omitempty"`
	MaxPageMS  float64        `json:"maxPageMS,omitempty"`
	TotalAlloc uint64         `json:"totalAlloc,omitempty"` // Go: bytes allocated in the phase
	NumGC      uint32         `json:"numGC,omitempty"`
	Stats      *sitemap.Stats `json:"stats,omitempty"`
	// VmHWMKB is the process's peak RSS as /proc/self/status reports it at
	// the end of the phase, a cross-check of the parent's figure.
	VmHWMKB int64 `json:"vmHWMKB"`
}

// vmHWM reads VmHWM (kB) from /proc/self/status; 0 if unavailable.
func vmHWM() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

func runChild(arg string) error {
	var sp Spec
	if err := json.Unmarshal([]byte(arg), &sp); err != nil {
		return fmt.Errorf("child spec: %w", err)
	}
	ctx := context.Background()
	var setup func() (func() (Result, error), func(), error)
	switch sp.Mode {
	case "rebuild":
		setup = func() (func() (Result, error), func(), error) { return rebuildPhase(ctx, sp) }
	case "write":
		setup = func() (func() (Result, error), func(), error) { return writePhase(sp) }
	default:
		return fmt.Errorf("child: unknown mode %q", sp.Mode)
	}
	phase, cleanup, err := setup()
	if err != nil {
		return err
	}
	defer cleanup()
	if sp.CPUProfile != "" {
		f, err := os.Create(sp.CPUProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	res, err := phase()
	runtime.ReadMemStats(&m1)
	if sp.CPUProfile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return err
	}
	if sp.MemProfile != "" {
		f, err := os.Create(sp.MemProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			return err
		}
	}
	res.TotalAlloc = m1.TotalAlloc - m0.TotalAlloc
	res.NumGC = m1.NumGC - m0.NumGC
	res.VmHWMKB = vmHWM()
	return json.NewEncoder(os.Stdout).Encode(res)
}

// rebuildPhase opens the store and returns one full Rebuild as the phase.
func rebuildPhase(ctx context.Context, sp Spec) (func() (Result, error), func(), error) {
	s, err := store.Open(ctx, sp.DatabaseURL, sp.DBDir)
	if err != nil {
		return nil, nil, err
	}
	pub, err := sitemap.NewPublisher(sp.OutDir, nil)
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	b, err := sitemap.NewBuilder(sitemap.Config{DB: s, Publisher: pub, BaseURL: baseURL, PageSize: sp.PageSize})
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	phase := func() (Result, error) {
		t := time.Now()
		st, err := b.Rebuild(ctx, nil)
		sec := time.Since(t).Seconds()
		if err != nil {
			return Result{}, err
		}
		return Result{Seconds: sec, URLs: st.Salons + st.Cities + st.Posts, Images: st.Images, Files: st.Files,
			XMLBytes: st.Bytes, Pages: st.Pages, MaxPageMS: float64(st.MaxPageQuery.Microseconds()) / 1e3, Stats: &st}, nil
	}
	return phase, func() { s.Close() }, nil
}

// listEntry is one NDJSON line, in the shape npm sitemap reads.
type listEntry struct {
	URL     string `json:"url"`
	LastMod string `json:"lastmod,omitempty"`
	Img     []struct {
		URL string `json:"url"`
	} `json:"img,omitempty"`
}

// plainDir creates files in a directory, buffered and closed without fsync,
// as Node's createWriteStream does; sitemap.Generation (used by the rebuild)
// fsyncs every file on Close.
type plainDir string

type plainFile struct {
	f *os.File
	*bufio.Writer
}

func (d plainDir) Create(name string) (io.WriteCloser, error) {
	f, err := os.Create(filepath.Join(string(d), name))
	if err != nil {
		return nil, err
	}
	return &plainFile{f: f, Writer: bufio.NewWriterSize(f, 64<<10)}, nil
}

func (p *plainFile) Close() error {
	return errors.Join(p.Flush(), p.f.Close())
}

// writePhase streams the NDJSON list through sitemap.URLSetWriter (one stream
// with the image namespace, 45,000 URLs per gzipped child, as the Node
// contender) and writes the index.
func writePhase(sp Spec) (func() (Result, error), func(), error) {
	if err := os.MkdirAll(sp.OutDir, 0o755); err != nil {
		return nil, nil, err
	}
	phase := func() (Result, error) {
		t := time.Now()
		in, err := os.Open(sp.List)
		if err != nil {
			return Result{}, err
		}
		defer in.Close()
		sink := plainDir(sp.OutDir)
		w := sitemap.NewURLSetWriter(sink, func(n int) string { return fmt.Sprintf("sitemap-%d.xml.gz", n) }, sitemap.Limits{}, true)
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		var res Result
		var e listEntry
		var u sitemap.URL
		var lm time.Time
		for sc.Scan() {
			e = listEntry{}
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				w.Abort()
				return Result{}, fmt.Errorf("list line %d: %w", res.URLs+1, err)
			}
			u = sitemap.URL{Loc: e.URL, Images: u.Images[:0]}
			if e.LastMod != "" {
				if lm, err = time.Parse(time.RFC3339, e.LastMod); err != nil {
					w.Abort()
					return Result{}, fmt.Errorf("list line %d: %w", res.URLs+1, err)
				}
				u.LastMod = &lm
			}
			for _, im := range e.Img {
				u.Images = append(u.Images, im.URL)
			}
			if err := w.Add(u); err != nil {
				w.Abort()
				return Result{}, err
			}
			res.URLs++
			res.Images += int64(len(u.Images))
		}
		if err := sc.Err(); err != nil {
			w.Abort()
			return Result{}, err
		}
		files, err := w.Close()
		if err != nil {
			return Result{}, err
		}
		idx := make([]sitemap.IndexEntry, 0, len(files))
		for _, f := range files {
			res.XMLBytes += f.Bytes
			idx = append(idx, sitemap.IndexEntry{Loc: baseURL + "/sitemaps/" + f.Name, LastMod: f.LastMod})
		}
		res.Files = len(files)
		f, err := sink.Create("sitemap.xml")
		if err != nil {
			return Result{}, err
		}
		if err := errors.Join(sitemap.WriteIndex(f, idx), f.Close()); err != nil {
			return Result{}, err
		}
		res.Seconds = time.Since(t).Seconds()
		return res, nil
	}
	return phase, func() {}, nil
}
