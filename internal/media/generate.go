package media

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"

	"github.com/sevra/atlas/internal/media/imaging"
)

// VariantKey returns the storage key of one variant:
// "media/<id>/<width>w.<ext>". Keys are deterministic, so a rerun
// overwrites the same objects instead of adding new ones.
func VariantKey(id int64, width int, f imaging.Format) string {
	return variantPrefix(id) + variantName(width, f)
}

func variantPrefix(id int64) string              { return "media/" + strconv.FormatInt(id, 10) + "/" }
func variantName(w int, f imaging.Format) string { return strconv.Itoa(w) + "w." + f.Ext() }

// Result is what GenerateVariants produced (or found already done).
type Result struct {
	MediaID       int64              `json:"mediaId"`
	Width, Height int                `json:"-"`
	Variants      map[string]Variant `json:"variants"`
	Placeholder   string             `json:"placeholder"`
}

// GenerateVariants is the generate-variants job handler body. It decodes
// the original at storageKey once, writes the variant set under
// media/<id>/, removes any other object under that prefix (leftovers of an
// earlier attempt with another configuration, or of an interrupted write),
// records the variants and placeholder on the row, then deletes the
// original. progress, if not nil, is called with percentages.
//
// It is idempotent: a rerun after a crash at any point rewrites the same
// keys and leaves no orphans; a rerun after success returns the recorded
// result. Errors wrapping ErrPermanent (a corrupt, unsupported or
// oversized file; a missing original; an unknown id) have already been
// recorded on the row (status failed, with the reason) and must not be
// retried; every other error is transient.
func (s *Service) GenerateVariants(ctx context.Context, mediaID int64, storageKey string, progress func(pct int)) (Result, error) {
	return s.generate(ctx, mediaID, storageKey, progress, false)
}

// generate is GenerateVariants; keepOriginal leaves the original in place
// (shadow mode's request, whose worker run needs it).
func (s *Service) generate(ctx context.Context, mediaID int64, storageKey string, progress func(pct int), keepOriginal bool) (Result, error) {
	if progress == nil {
		progress = func(int) {}
	}
	rec, err := s.repo.Get(ctx, mediaID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return Result{}, permanent(err)
		}
		return Result{}, err
	}
	if rec.Status == StatusReady {
		// Done before; only the original's deletion may be outstanding.
		if !keepOriginal {
			if err := s.store.Delete(ctx, storageKey); err != nil {
				return Result{}, err
			}
		}
		progress(100)
		return Result{MediaID: mediaID, Width: rec.Width, Height: rec.Height, Variants: rec.Variants, Placeholder: rec.Placeholder}, nil
	}
	src, cleanup, err := s.localCopy(ctx, storageKey)
	if errors.Is(err, fs.ErrNotExist) {
		return Result{}, s.fail(ctx, mediaID, storageKey, fmt.Errorf("original %s is missing: %w", storageKey, err), keepOriginal)
	}
	if err != nil {
		return Result{}, err
	}
	defer cleanup()
	progress(10)
	out, err := s.engine.Process(ctx, src, s.spec)
	if err != nil {
		if isFileError(err) {
			return Result{}, s.fail(ctx, mediaID, storageKey, err, keepOriginal)
		}
		return Result{}, fmt.Errorf("process media %d: %w", mediaID, err)
	}
	progress(60)
	res := Result{MediaID: mediaID, Width: out.Width, Height: out.Height, Placeholder: out.Placeholder,
		Variants: make(map[string]Variant, len(out.Outputs))}
	for i, o := range out.Outputs {
		key := VariantKey(mediaID, o.Width, o.Format)
		if err := s.store.Put(ctx, key, bytes.NewReader(o.Data), o.Format.ContentType()); err != nil {
			return Result{}, fmt.Errorf("store variant: %w", err)
		}
		res.Variants[variantName(o.Width, o.Format)] = Variant{Key: key, Width: o.Width, Height: o.Height,
			Format: string(o.Format), Bytes: int64(len(o.Data))}
		progress(60 + 30*(i+1)/len(out.Outputs))
	}
	if err := s.removeStrays(ctx, mediaID, res.Variants); err != nil {
		return Result{}, err
	}
	if err := s.repo.SetReady(ctx, mediaID, Ready{Width: out.Width, Height: out.Height,
		Variants: res.Variants, Placeholder: out.Placeholder}); err != nil {
		return Result{}, err
	}
	if !keepOriginal {
		if err := s.store.Delete(ctx, storageKey); err != nil {
			return Result{}, err // the rerun sees status ready and retries the delete
		}
	}
	progress(100)
	s.log.InfoContext(ctx, "media variants ready", "media_id", mediaID, "engine", s.engine.Name(),
		"variants", len(res.Variants), "width", out.Width, "height", out.Height)
	return res, nil
}

// fail records a permanent failure: the row is marked failed with the
// public sentence for cause (publicReason; cause itself is logged), and the original (unless keepOriginal) and any variants already
// written are deleted.
func (s *Service) fail(ctx context.Context, id int64, storageKey string, cause error, keepOriginal bool) error {
	s.log.WarnContext(ctx, "media failed permanently", "media_id", id, "err", cause)
	if err := s.repo.SetFailed(ctx, id, publicReason(cause)); err != nil {
		return fmt.Errorf("record failure (%v): %w", cause, err) // transient: retry to record it
	}
	if err := s.removeStrays(ctx, id, nil); err != nil {
		s.log.WarnContext(ctx, "media cleanup", "media_id", id, "err", err)
	}
	if !keepOriginal {
		if err := s.store.Delete(ctx, storageKey); err != nil {
			s.log.WarnContext(ctx, "media cleanup", "media_id", id, "err", err)
		}
	}
	return permanent(cause)
}

// removeStrays deletes every object under media/<id>/ not in keep.
func (s *Service) removeStrays(ctx context.Context, id int64, keep map[string]Variant) error {
	keys, err := s.store.List(ctx, variantPrefix(id))
	if err != nil {
		return fmt.Errorf("list variants: %w", err)
	}
	wanted := map[string]bool{}
	for _, v := range keep {
		wanted[v.Key] = true
	}
	for _, k := range keys {
		if !wanted[k] {
			if err := s.store.Delete(ctx, k); err != nil {
				return fmt.Errorf("remove stray variant: %w", err)
			}
		}
	}
	return nil
}

// localCopy returns a local file path holding the object at key: the file
// itself for local storage, else a temporary download that cleanup removes.
func (s *Service) localCopy(ctx context.Context, key string) (path string, cleanup func(), err error) {
	if p, ok := s.store.(interface{ Path(string) (string, error) }); ok {
		path, err := p.Path(key)
		if err != nil {
			return "", nil, err
		}
		if _, err := os.Stat(path); err != nil {
			return "", nil, fmt.Errorf("original: %w", err)
		}
		return path, func() {}, nil
	}
	rc, err := s.store.Open(ctx, key)
	if err != nil {
		return "", nil, err
	}
	defer rc.Close()
	f, err := os.CreateTemp(s.tempDir, "original-*")
	if err != nil {
		return "", nil, fmt.Errorf("download original: %w", err)
	}
	_, err = io.Copy(f, rc)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", nil, fmt.Errorf("download original: %w", err)
	}
	return f.Name(), func() { os.Remove(f.Name()) }, nil
}

// sortedVariants orders variants by width, then format.
func sortedVariants(m map[string]Variant) []Variant {
	out := make([]Variant, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b Variant) int {
		return cmp.Or(cmp.Compare(a.Width, b.Width), cmp.Compare(a.Format, b.Format))
	})
	return out
}
