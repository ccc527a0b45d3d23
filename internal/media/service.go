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

	"github.com/sevra/atlas/internal/media/imaging"
	"github.com/sevra/atlas/internal/media/storage"
)

// Queue and job names of the variant pipeline.
const (
	Queue   = "media"
	JobName = "generate-variants"
)

// JobID returns the job id of media id's generate-variants job: "media-<id>"
// (BullMQ 6 refuses ':' in custom ids).
func JobID(id int64) string { return fmt.Sprintf("media-%d", id) }

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
	// downloaded from remote storage. Default os.TempDir().
	TempDir string
	// Limits bound uploads (default 20 MiB, 50 MP).
	Limits Limits
	// Spec is the variant set (default imaging.DefaultSpec; its MaxPixels
	// is taken from Limits).
	Spec imaging.Spec
	// Enqueue, when set, is called by Accept after the row is created to
	// schedule generate-variants with id JobID(p.MediaID). When it fails the
	// row is marked failed and Accept returns the error.
	Enqueue func(ctx context.Context, p JobPayload) error
}

// Service is the media pipeline: upload intake, variant generation and
// lookups. It is safe for concurrent use and starts no goroutines.
type Service struct {
	store   storage.Storage
	engine  imaging.Engine
	repo    Repo
	log     *slog.Logger
	tempDir string
	limits  Limits
	spec    imaging.Spec
	enqueue func(ctx context.Context, p JobPayload) error
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Storage == nil || cfg.Engine == nil || cfg.Repo == nil {
		return nil, errors.New("media: Storage, Engine and Repo are required")
	}
	s := &Service{
		store: cfg.Storage, engine: cfg.Engine, repo: cfg.Repo, log: cfg.Logger,
		tempDir: cfg.TempDir, limits: cfg.Limits.withDefaults(), spec: cfg.Spec, enqueue: cfg.Enqueue,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.tempDir == "" {
		s.tempDir = os.TempDir()
	}
	if err := os.MkdirAll(s.tempDir, 0o700); err != nil {
		return nil, fmt.Errorf("media temp dir: %w", err)
	}
	s.spec.MaxPixels = s.limits.MaxPixels
	return s, nil
}

// Accepted is Accept's answer: the HTTP layer replies 202 {id, status}.
type Accepted struct {
	ID         int64  `json:"id"`
	Status     Status `json:"status"`
	StorageKey string `json:"-"`
}

// Accept takes an uploaded file part: it streams it to a temporary file
// and checks it (see Receive), stores it as an original under
// "incoming/<random>.<ext>", inserts a media row in status processing and,
// when Config.Enqueue is set, enqueues generate-variants. Errors from
// Receive (ErrTooLarge, ErrUnsupportedFormat, ErrTooManyPixels,
// ErrCorrupt) describe the upload; others are internal.
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
	id, err := s.repo.Create(ctx, owner, key)
	if err != nil {
		s.store.Delete(context.WithoutCancel(ctx), key)
		return Accepted{}, err
	}
	if s.enqueue != nil {
		if err := s.enqueue(ctx, JobPayload{MediaID: id, StorageKey: key}); err != nil {
			ctx := context.WithoutCancel(ctx)
			s.repo.SetFailed(ctx, id, "could not schedule processing")
			s.store.Delete(ctx, key)
			return Accepted{}, fmt.Errorf("enqueue %s: %w", JobID(id), err)
		}
	}
	s.log.InfoContext(ctx, "media accepted", "media_id", id, "format", up.Format,
		"width", up.Width, "height", up.Height, "bytes", up.Bytes)
	return Accepted{ID: id, Status: StatusProcessing, StorageKey: key}, nil
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
		Placeholder: rec.Placeholder, Error: rec.Error, Variants: []VariantView{}}
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
