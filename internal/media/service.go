package media

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/sevra/atlas/internal/media/imaging"
	"github.com/sevra/atlas/internal/media/storage"
	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/rollout"
)

// JobPayload is the generate-variants job data.
type JobPayload struct {
	MediaID    int64  `json:"mediaId"`
	StorageKey string `json:"storageKey"`
}

// Config configures a Service. Storage, Engine and Repo are required.
type Config struct {
	Storage storage.Storage
	Engine  imaging.Engine
	Repo    Repo
	// Logger defaults to discarding.
	Logger *slog.Logger
	// TempDir receives uploads while they are checked, and originals
	// downloaded from remote storage, each Service in its own locked
	// subdirectory; what stopped processes left is removed at start
	// (tempdir.go). Default <os.TempDir()>/atlas-media.
	TempDir string
	// Limits bound uploads (default 20 MiB, 50 MP).
	Limits Limits
	// Spec is the variant set (default imaging.DefaultSpec; its MaxPixels
	// is taken from Limits).
	Spec imaging.Spec
	// Mode is the media module's rollout mode (default async). In sync and
	// shadow modes Accept generates the variants itself, before it
	// returns; in shadow mode it also keeps the original for the worker's
	// comparison run (see CompareShadow).
	Mode rollout.Mode
	// Outbox receives the MediaUploaded event, written in the media row's
	// transaction so the event exists exactly when the row does, and
	// published after the commit (fast path; the relay does the rest).
	// Nil: rows are created without an event (tests of the sync path).
	Outbox Outbox
	// Shadow records shadow comparisons (required by CompareShadow).
	Shadow rollout.Comparer
}

// CreateFunc inserts a media row in status processing for an original
// stored at originalKey, together with anything that must commit with it,
// and returns the id and a publish func that Accept calls once it is done
// with the request's own work (the outbox fast path). mode is the module's
// rollout mode, for the event.
type CreateFunc func(ctx context.Context, owner Owner, originalKey string, mode rollout.Mode) (id int64, publish func(context.Context), err error)

// Service is the media pipeline: upload intake, variant generation and
// lookups. It is safe for concurrent use and starts no goroutines.
type Service struct {
	store   storage.Storage
	engine  imaging.Engine
	repo    Repo
	log     *slog.Logger
	tempDir string // this Service's own directory (tempdir.go)
	release func() error
	limits  Limits
	spec    imaging.Spec
	mode    rollout.Mode
	ob      Outbox
	shadow  rollout.Comparer
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Storage == nil || cfg.Engine == nil || cfg.Repo == nil {
		return nil, errors.New("media: Storage, Engine and Repo are required")
	}
	if cfg.Limits.MaxPixels == 0 {
		// An engine that decodes whole images (the pure engine) sets a
		// lower default pixel limit: memory follows pixels.
		if d, ok := cfg.Engine.(interface{ DefaultMaxPixels() int64 }); ok {
			cfg.Limits.MaxPixels = d.DefaultMaxPixels()
		}
	}
	if c, ok := cfg.Engine.(interface {
		CheckDecode(io.ReaderAt, imaging.Header) error
	}); ok && cfg.Limits.Check == nil {
		cfg.Limits.Check = c.CheckDecode
	}
	s := &Service{
		store: cfg.Storage, engine: cfg.Engine, repo: cfg.Repo, log: cfg.Logger,
		tempDir: cfg.TempDir, limits: cfg.Limits.withDefaults(), spec: cfg.Spec,
		mode: cfg.Mode, ob: cfg.Outbox, shadow: cfg.Shadow,
	}
	if s.mode == "" {
		s.mode = rollout.DefaultMode
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.tempDir == "" {
		s.tempDir = filepath.Join(os.TempDir(), "atlas-media") // swept at start: never the bare /tmp
	}
	dir, release, removed, err := claimTempDir(s.tempDir)
	if err != nil {
		return nil, err
	}
	if removed > 0 {
		s.log.Info("media: removed temp files left by stopped processes", "dir", s.tempDir, "removed", removed)
	}
	s.tempDir, s.release = dir, sync.OnceValue(release)
	s.spec.MaxPixels = s.limits.MaxPixels
	return s, nil
}

// Close removes the Service's temp directory (and any file left in it)
// and releases its lock. Call it once nothing uses the Service.
func (s *Service) Close() error { return s.release() }

// Accepted is Accept's answer: the HTTP layer replies 202 {id, status}
// (201 with the view when the variants were made in the request).
type Accepted struct {
	ID         int64  `json:"id"`
	Status     Status `json:"status"`
	StorageKey string `json:"-"`
}

// Limits returns the upload limits in force.
func (s *Service) Limits() Limits { return s.limits }

// Mode returns the rollout mode the service runs in.
func (s *Service) Mode() rollout.Mode { return s.mode }

// URL returns the public URL of a stored key (a variant's Key).
func (s *Service) URL(key string) string { return s.store.URL(key) }

// Engine is the image engine the service processes with.
func (s *Service) Engine() imaging.Engine { return s.engine }

// Accept takes an uploaded file part: it streams it to a temporary file
// and checks it (see Receive), stores it as an original under
// "incoming/<random>.<ext>" and inserts a media row in status processing
// (through Config.Create: with an outbox, the row and its MediaUploaded
// event commit together). In sync and shadow modes it then generates the
// variants itself and answers with status ready (or the file's error,
// recorded on the row as failed). Errors from Receive (ErrTooLarge,
// ErrUnsupportedFormat, ErrTooManyPixels, ErrCorrupt) describe the upload;
// others are internal.
func (s *Service) Accept(ctx context.Context, owner Owner, part io.Reader) (Accepted, error) {
	up, err := Receive(ctx, s.tempDir, part, s.limits)
	if err != nil {
		return Accepted{}, err
	}
	defer os.Remove(up.TempPath)
	if !s.engine.CanDecode(up.Format) {
		return Accepted{}, fmt.Errorf("%w: %s is not supported by the %s image engine", ErrUnsupportedFormat, up.Format, s.engine.Name())
	}
	key, err := originalKey(up.Format)
	if err != nil {
		return Accepted{}, err
	}
	f, err := os.Open(up.TempPath)
	if err != nil {
		return Accepted{}, fmt.Errorf("reopen upload: %w", err)
	}
	err = s.store.Put(ctx, key, f, up.Format.ContentType())
	f.Close()
	if err != nil {
		return Accepted{}, fmt.Errorf("store original: %w", err)
	}
	id, publish, err := s.createRow(ctx, owner, key)
	if err != nil {
		s.store.Delete(context.WithoutCancel(ctx), key)
		return Accepted{}, err
	}
	defer publish(context.WithoutCancel(ctx)) // after the inline work: a shadow run compares with its result
	s.log.InfoContext(ctx, "media accepted", "media_id", id, "format", up.Format,
		"width", up.Width, "height", up.Height, "bytes", up.Bytes, "mode", s.mode)
	acc := Accepted{ID: id, Status: StatusProcessing, StorageKey: key}
	if !s.mode.Inline() {
		return acc, nil
	}
	// sync and shadow: the request does the work; shadow keeps the
	// original for the worker's comparison run.
	keep := s.mode == rollout.Shadow
	if _, err := s.generate(ctx, id, key, nil, keep); err != nil {
		acc.Status = StatusFailed
		if errors.Is(err, ErrPermanent) {
			return acc, err // recorded on the row by generate
		}
		ctx := context.WithoutCancel(ctx)
		if ferr := s.repo.SetFailed(ctx, id, reasonRetryUpload); ferr != nil {
			s.log.ErrorContext(ctx, "media: record failure", "media_id", id, "err", ferr)
		}
		if !keep {
			s.store.Delete(ctx, key)
		}
		return acc, fmt.Errorf("process media %d in the request: %w", id, err)
	}
	acc.Status = StatusReady
	return acc, nil
}

// createRow inserts the row and, unless the mode is sync, its
// MediaUploaded event in one transaction; the returned func publishes the
// event after the commit.
func (s *Service) createRow(ctx context.Context, owner Owner, key string) (int64, func(context.Context), error) {
	if s.ob == nil {
		id, err := s.repo.Create(ctx, owner, key)
		return id, func(context.Context) {}, err
	}
	var ev outbox.Event
	id, err := s.repo.CreateThen(ctx, owner, key, func(ctx context.Context, tx outbox.Execer, id int64) error {
		var err error
		if ev, err = outbox.NewEvent(ctx, EventUploaded, JobPayload{MediaID: id, StorageKey: key}, s.mode); err != nil {
			return err
		}
		return s.ob.Add(ctx, tx, ev)
	})
	if err != nil {
		return 0, nil, err
	}
	return id, func(ctx context.Context) { _, _ = s.ob.Publish(ctx, ev) }, nil // failures are logged by the outbox
}

// originalKey returns a fresh, unguessable key for an original.
func originalKey(f imaging.Format) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random key: %w", err)
	}
	return "incoming/" + hex.EncodeToString(b[:]) + "." + f.Ext(), nil
}

// VariantView is one variant as the API shows it.
type VariantView struct {
	URL    string `json:"url"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Format string `json:"format"`
	Bytes  int64  `json:"bytes"`
}

// View is the API representation of a media item (GET /api/v1/media/{id}).
type View struct {
	ID          int64         `json:"id"`
	Status      Status        `json:"status"`
	Width       int           `json:"width,omitempty"`
	Height      int           `json:"height,omitempty"`
	Variants    []VariantView `json:"variants"`
	Placeholder string        `json:"placeholder,omitempty"`
	Error       string        `json:"error,omitempty"`
}

// Get returns the view of media id; an unknown id is ErrNotFound. Variants
// are ordered by width, then format name.
func (s *Service) Get(ctx context.Context, id int64) (View, error) {
	rec, err := s.repo.Get(ctx, id)
	if err != nil {
		return View{}, err
	}
	v := View{ID: rec.ID, Status: rec.Status, Width: rec.Width, Height: rec.Height,
		Placeholder: rec.Placeholder, Error: publicText(rec.Error), Variants: []VariantView{}}
	for _, vr := range sortedVariants(rec.Variants) {
		v.Variants = append(v.Variants, VariantView{URL: s.store.URL(vr.Key), Width: vr.Width,
			Height: vr.Height, Format: vr.Format, Bytes: vr.Bytes})
	}
	return v, nil
}

// MarkFailed records a failure reason. The queue adapter calls it when a
// job exhausts its attempts on transient errors, so the row does not stay
// in processing forever.
func (s *Service) MarkFailed(ctx context.Context, id int64, reason string) error {
	return s.repo.SetFailed(ctx, id, reason)
}
