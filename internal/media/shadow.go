package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
)

// ShadowByteTolerance is how far a shadow variant's size may drift from
// the live one and still match: 10% of the live size, or 1 KiB for tiny
// files. Names, widths, heights and formats must be equal. The pure-Go
// engine is byte-for-byte deterministic (a rerun writes identical files,
// see TestServiceRerunAfterCrashLeavesNoOrphans), so on it sizes match
// exactly; the tolerance is for libvips builds, whose encoders may vary
// across versions and threads. Pixels are not compared.
const ShadowByteTolerance = 0.10

// ErrLiveNotReady is a shadow run's transient error while the request's
// own processing has not finished: the job retries later.
var ErrLiveNotReady = errors.New("the request's processing has not finished")

// shadowPrefix is where a shadow run writes its side outputs; nothing
// there is ever served or referenced by a row.
func shadowPrefix(id int64) string { return "shadow/media/" + strconv.FormatInt(id, 10) + "/" }

// ShadowView is one side of a shadow comparison.
type ShadowView struct {
	Status        Status
	Width, Height int
	// Variants by name, without keys.
	Variants map[string]Variant
}

// MatchShadow reports whether a shadow result agrees with the live row:
// the same status; for ready rows the same source dimensions and variant
// names, each with equal width, height and format and a size within
// ShadowByteTolerance. Keys and placeholders are not compared.
func MatchShadow(live, side ShadowView) bool {
	if live.Status != side.Status {
		return false
	}
	if live.Status != StatusReady {
		return true
	}
	if live.Width != side.Width || live.Height != side.Height || len(live.Variants) != len(side.Variants) {
		return false
	}
	for name, l := range live.Variants {
		r, ok := side.Variants[name]
		if !ok || l.Width != r.Width || l.Height != r.Height || l.Format != r.Format {
			return false
		}
		tol := max(int64(float64(l.Bytes)*ShadowByteTolerance), 1024)
		if d := l.Bytes - r.Bytes; d > tol || -d > tol {
			return false
		}
	}
	return true
}

func viewOf(status Status, w, h int, vs map[string]Variant) ShadowView {
	out := ShadowView{Status: status, Width: w, Height: h, Variants: map[string]Variant{}}
	for n, v := range vs {
		v.Key = ""
		out.Variants[n] = v
	}
	return out
}

// CompareShadow is the shadow-mode worker run for media id: the request
// already generated the live variants and kept the original at
// storageKey. It regenerates the variant set from the original into side
// keys under "shadow/media/<id>/" (never the live keys, never the row),
// compares it with the live row (MatchShadow), records the result under
// module media with ids, then deletes its side outputs and the original.
//
// While the live row is still processing it returns ErrLiveNotReady
// (transient), unless final is set (the job's last attempt): then the
// comparison is recorded as it stands. A missing original is a permanent
// error (nothing to compare).
func (s *Service) CompareShadow(ctx context.Context, id int64, storageKey string, final bool, ids ...any) (bool, error) {
	if s.shadow == nil {
		return false, errors.New("media shadow run without a recorder")
	}
	rec, err := s.repo.Get(ctx, id)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return false, permanent(err)
		}
		return false, err
	}
	if rec.Status == StatusProcessing && !final {
		return false, fmt.Errorf("shadow media %d: %w", id, ErrLiveNotReady)
	}
	side, err := s.sideRun(ctx, id, storageKey)
	defer s.removeSide(context.WithoutCancel(ctx), id)
	if err != nil {
		return false, err
	}
	match, err := s.shadow.Compare(ctx, Module, fmt.Sprintf("media %d", id), append([]any{"media_id", id}, ids...),
		func(ctx context.Context) (any, any, bool, error) {
			rec, err := s.repo.Get(ctx, id)
			if err != nil {
				return nil, nil, false, err
			}
			live := viewOf(rec.Status, rec.Width, rec.Height, rec.Variants)
			return live, side, MatchShadow(live, side), nil
		})
	if err != nil {
		return false, err
	}
	if err := s.store.Delete(ctx, storageKey); err != nil {
		s.log.WarnContext(ctx, "media shadow: delete original", "media_id", id, "err", err)
	}
	return match, nil
}

// sideRun processes the original into side keys. A file error is a side
// result (status failed), not an error: the live run may have failed too.
func (s *Service) sideRun(ctx context.Context, id int64, storageKey string) (ShadowView, error) {
	src, cleanup, err := s.localCopy(ctx, storageKey)
	if errors.Is(err, fs.ErrNotExist) {
		return ShadowView{}, permanent(fmt.Errorf("shadow media %d: original %s is missing: %w", id, storageKey, err))
	}
	if err != nil {
		return ShadowView{}, err
	}
	defer cleanup()
	out, err := s.engine.Process(ctx, src, s.spec)
	if err != nil {
		if isFileError(err) {
			return ShadowView{Status: StatusFailed, Variants: map[string]Variant{}}, nil
		}
		return ShadowView{}, fmt.Errorf("shadow media %d: %w", id, err)
	}
	vs := make(map[string]Variant, len(out.Outputs))
	for _, o := range out.Outputs {
		name := variantName(o.Width, o.Format)
		if err := s.store.Put(ctx, shadowPrefix(id)+name, bytes.NewReader(o.Data), o.Format.ContentType()); err != nil {
			return ShadowView{}, fmt.Errorf("shadow media %d: store side variant: %w", id, err)
		}
		vs[name] = Variant{Width: o.Width, Height: o.Height, Format: string(o.Format), Bytes: int64(len(o.Data))}
	}
	return viewOf(StatusReady, out.Width, out.Height, vs), nil
}

// removeSide deletes a shadow run's side outputs.
func (s *Service) removeSide(ctx context.Context, id int64) {
	keys, err := s.store.List(ctx, shadowPrefix(id))
	if err != nil {
		s.log.WarnContext(ctx, "media shadow: list side outputs", "media_id", id, "err", err)
		return
	}
	for _, k := range slices.Sorted(slices.Values(keys)) {
		if err := s.store.Delete(ctx, k); err != nil {
			s.log.WarnContext(ctx, "media shadow: delete side output", "media_id", id, "key", k, "err", err)
		}
	}
}
