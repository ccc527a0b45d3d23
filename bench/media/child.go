package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sevra/atlas/internal/media"
	"github.com/sevra/atlas/internal/media/imaging"
	"github.com/sevra/atlas/internal/media/storage"
	"github.com/sevra/atlas/internal/store"
)

// atlasSpec is the Atlas throughput child's job: make the variant set of
// Src N times, Conc at once, after Warmup untimed images.
type atlasSpec struct {
	Src    string `json:"src"`
	Dir    string `json:"dir"` // scratch: database, storage
	N      int    `json:"n"`
	Conc   int    `json:"conc"`
	Warmup int    `json:"warmup"`
	Engine string `json:"engine"` // "libvips" or "pure-go"
	// Level "handler" runs media.Service.GenerateVariants (the job
	// handler body: engine, then every variant stored in local storage
	// with fsync, the row marked ready over SQLite, the original
	// deleted); "engine" runs imaging.Engine.Process alone (in memory).
	Level string `json:"level"`
}

// childResult is what every throughput child prints after DONE.
type childResult struct {
	Images      int     `json:"images"`
	Seconds     float64 `json:"seconds"`
	Outputs     int     `json:"outputs"`
	Bytes       int64   `json:"bytes"`
	Placeholder string  `json:"placeholder"`
	Engine      string  `json:"engine,omitempty"`
	MaxRSSKiB   int64   `json:"maxRSSKiB"` // self-reported; the parent's wait4 figure is the one used
	// Sharp only.
	Concurrency  int               `json:"concurrency,omitempty"`
	UVThreadpool string            `json:"uvThreadpool,omitempty"`
	Versions     map[string]string `json:"versions,omitempty"`
}

// made is one image's outcome.
type made struct {
	outputs     int
	bytes       int64
	placeholder string
}

func childAtlas(arg string) {
	var s atlasSpec
	if err := json.Unmarshal([]byte(arg), &s); err != nil {
		fatal(err)
	}
	res, err := runAtlas(s)
	if err != nil {
		fatal(err)
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	res.MaxRSSKiB = ru.Maxrss
	out, _ := json.Marshal(res)
	fmt.Printf("DONE %s\n", out)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "error:", err)
	os.Exit(1)
}

// openEngine opens the named engine; libvips needs the vips build tag.
func openEngine(name string) (imaging.CloseableEngine, error) {
	switch name {
	case "pure-go":
		return imaging.NewPureEngine(nil), nil
	case "libvips":
		if imaging.DefaultEngineName != "libvips" {
			return nil, fmt.Errorf("the libvips engine needs the vips build tag (go run -tags vips ./bench/media)")
		}
		// Concurrency 1, as atlas run opens it: one libvips thread per
		// operation, one operation per worker.
		return imaging.OpenDefault(imaging.Config{})
	}
	return nil, fmt.Errorf("unknown engine %q", name)
}

func runAtlas(s atlasSpec) (childResult, error) {
	ctx := context.Background()
	e, err := openEngine(s.Engine)
	if err != nil {
		return childResult{}, err
	}
	defer e.Close()
	var do func(i int) (made, error)
	switch s.Level {
	case "engine":
		do = func(int) (made, error) {
			r, err := e.Process(ctx, s.Src, imaging.DefaultSpec())
			m := made{outputs: len(r.Outputs), placeholder: r.Placeholder}
			for _, o := range r.Outputs {
				m.bytes += int64(len(o.Data))
			}
			return m, err
		}
	case "handler":
		if do, err = atlasHandler(ctx, s, e); err != nil {
			return childResult{}, err
		}
	default:
		return childResult{}, fmt.Errorf("unknown level %q", s.Level)
	}
	run := func(first, n, conc int) (childResult, error) {
		var next atomic.Int64
		var mu sync.Mutex
		var res childResult
		var firstErr error
		var wg sync.WaitGroup
		for range conc {
			wg.Go(func() {
				for {
					i := int(next.Add(1)) - 1
					if i >= n {
						return
					}
					r, err := do(first + i)
					mu.Lock()
					if err != nil && firstErr == nil {
						firstErr = err
					}
					res.Images++
					res.Outputs += r.outputs
					res.Bytes += r.bytes
					res.Placeholder = r.placeholder
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return res, firstErr
	}
	if s.Warmup > 0 { // libvips codec init, wazero compilation, page cache
		if _, err := run(s.N, s.Warmup, 1); err != nil {
			return childResult{}, err
		}
	}
	t0 := time.Now()
	res, err := run(0, s.N, s.Conc)
	res.Seconds = time.Since(t0).Seconds()
	res.Engine = e.Name()
	return res, err
}

// atlasHandler prepares N+Warmup media rows whose originals are links to
// Src in local storage and returns a func running GenerateVariants on row
// i (which deletes that row's original, as in production).
func atlasHandler(ctx context.Context, s atlasSpec, e imaging.Engine) (func(int) (made, error), error) {
	st, err := store.Open(ctx, "", filepath.Join(s.Dir, "db"))
	if err != nil {
		return nil, err
	}
	if _, err := st.Migrate(ctx); err != nil {
		return nil, err
	}
	local, err := storage.NewLocal(filepath.Join(s.Dir, "storage"), "")
	if err != nil {
		return nil, err
	}
	repo := media.NewSQLRepo(st.DB(), st.Dialect())
	svc, err := media.New(media.Config{Storage: local, Engine: e, Repo: repo, TempDir: filepath.Join(s.Dir, "tmp")})
	if err != nil {
		return nil, err
	}
	n := s.N + s.Warmup
	ids, keys := make([]int64, n), make([]string, n)
	for i := range n {
		keys[i] = "incoming/bench-" + strconv.Itoa(i) + ".jpg"
		p, err := local.Path(keys[i])
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := linkOrCopy(s.Src, p); err != nil {
			return nil, err
		}
		if ids[i], err = repo.Create(ctx, media.Owner{Type: "salon", ID: 1}, keys[i]); err != nil {
			return nil, err
		}
	}
	return func(i int) (made, error) {
		r, err := svc.GenerateVariants(ctx, ids[i], keys[i], nil)
		m := made{outputs: len(r.Variants), placeholder: r.Placeholder}
		for _, v := range r.Variants {
			m.bytes += v.Bytes
		}
		return m, err
	}, nil
}

func linkOrCopy(src, dst string) error {
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
