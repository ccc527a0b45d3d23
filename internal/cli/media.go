package cli

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/sevra/atlas/internal/media"
	"github.com/sevra/atlas/internal/media/imaging"
	"github.com/sevra/atlas/internal/media/storage"
	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/rollout"
)

// MediaConfig is the media module's configuration (Config.Media).
type MediaConfig struct {
	MaxBytes, MaxPixels int64
	Widths              []int
	TempDir             string
	// S3 settings, used when ATLAS_STORAGE is s3://…
	S3Region, S3Endpoint, S3PublicURL string
	S3PathStyle                       bool
}

// mediaSettings are the storage and media settings of the processes that
// accept uploads or generate variants (run, serve, worker).
func (c *Config) mediaSettings() []setting {
	m := &c.Media
	return []setting{
		checked(stringSetting(&c.Storage, "storage", "ATLAS_STORAGE", "",
			"where media files go: a directory, or s3://bucket/prefix (AWS_* variables below); empty means <data-dir>/media"),
			func(v string) error { _, err := parseStorage(v); return err }),
		stringSetting(&m.S3Region, "s3-region", "ATLAS_S3_REGION", "",
			"S3 region; empty uses AWS_REGION or the AWS shared config, else us-east-1 (credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the usual AWS chain)"),
		stringSetting(&m.S3Endpoint, "s3-endpoint", "ATLAS_S3_ENDPOINT", "",
			"S3 endpoint for S3-compatible servers (MinIO, Ceph, R2), e.g. http://127.0.0.1:9000; empty uses AWS_ENDPOINT_URL_S3, else AWS"),
		boolSetting(&m.S3PathStyle, "s3-path-style", "ATLAS_S3_PATH_STYLE", false,
			"address buckets as endpoint/bucket/key (most S3-compatible servers need it)"),
		stringSetting(&m.S3PublicURL, "s3-public-url", "ATLAS_S3_PUBLIC_URL", "",
			"base of public variant URLs (a CDN); default endpoint/bucket or https://bucket.s3.region.amazonaws.com"),
		{flag: "media-max-bytes", env: "ATLAS_MEDIA_MAX_BYTES", def: "20MiB",
			usage: "largest accepted upload (bytes, or with KB/MB/GB or KiB/MiB/GiB)",
			set:   func(v string) (err error) { m.MaxBytes, err = parseByteSize(v); return err }},
		{flag: "media-max-pixels", env: "ATLAS_MEDIA_MAX_PIXELS", def: "50MP",
			usage: "largest accepted width×height, read from the header before decoding (pixels, or with MP)",
			set:   func(v string) (err error) { m.MaxPixels, err = parsePixels(v); return err }},
		{flag: "media-widths", env: "ATLAS_MEDIA_WIDTHS", def: "320,640,960,1280,1920",
			usage: "variant widths; each as WebP and JPEG (plus AVIF for the two smallest with libvips), never upscaled",
			set:   func(v string) (err error) { m.Widths, err = parseWidths(v); return err }},
		stringSetting(&m.TempDir, "media-temp-dir", "ATLAS_MEDIA_TEMP_DIR", "",
			"directory for uploads being checked and originals downloaded from S3; empty means <data-dir>/tmp"),
	}
}

// engineComponent owns the image engine: libvips (built with -tags vips)
// is started when the engine is opened at wiring and shut down by Close,
// after the workers have stopped.
type engineComponent struct{ e imaging.CloseableEngine }

func (c engineComponent) Name() string                    { return "image engine (" + c.e.Name() + ")" }
func (c engineComponent) Start(context.Context) error     { return nil }
func (c engineComponent) Close(ctx context.Context) error { return c.e.Close() }

// wireMedia builds the media service (storage, engine, repo with the
// outbox) and registers generate-variants. Its engine component goes in
// before the workers, so it is closed after them.
func wireMedia(s *Services, w Wiring, reg *queues.Registry, ob *outbox.Outbox, shadow *rollout.Recorder) error {
	cfg := w.Config
	st, files, err := openStorage(context.Background(), cfg)
	if err != nil {
		return err
	}
	engine, err := imaging.OpenDefault(imaging.Config{Logger: w.Logger})
	if err != nil {
		return fmt.Errorf("image engine: %w", err)
	}
	tmp := cfg.Media.TempDir
	if tmp == "" {
		tmp = filepath.Join(cfg.DataDir, "tmp")
	}
	repo := media.NewSQLRepo(w.Store.DB(), w.Store.Dialect())
	svc, err := media.New(media.Config{
		Storage: st, Engine: engine, Repo: repo, Logger: w.Logger, TempDir: tmp,
		Limits: media.Limits{MaxBytes: cfg.Media.MaxBytes, MaxPixels: cfg.Media.MaxPixels},
		Spec:   imaging.Spec{Widths: cfg.Media.Widths},
		Mode:   cfg.Modes.Mode(rollout.Media), Create: media.OutboxCreate(w.Store.DB(), repo, ob), Shadow: shadow,
	})
	if err != nil {
		engine.Close()
		return err
	}
	svc.Register(reg)
	s.Media, s.MediaFiles = svc, files
	s.Components = append(s.Components, engineComponent{engine})
	w.Logger.Info("media", "engine", engine.Name(), "storage", storageLabel(cfg), "mode", svc.Mode())
	return nil
}

// openStorage opens ATLAS_STORAGE; files serves /media/ for local storage
// (nil for S3, whose URLs point at the bucket or ATLAS_S3_PUBLIC_URL).
func openStorage(ctx context.Context, cfg *Config) (storage.Storage, http.Handler, error) {
	spec, err := parseStorage(cfg.Storage)
	if err != nil {
		return nil, nil, err
	}
	if spec.S3() {
		m := cfg.Media
		if m.S3Endpoint == "" {
			// The SDK reads AWS_ENDPOINT_URL_S3 itself; public URLs need it too.
			m.S3Endpoint = os.Getenv("AWS_ENDPOINT_URL_S3")
		}
		st, err := storage.NewS3(ctx, storage.S3Config{Bucket: spec.Bucket, Prefix: spec.Prefix, Region: m.S3Region,
			Endpoint: m.S3Endpoint, PathStyle: m.S3PathStyle, PublicURL: m.S3PublicURL})
		if err != nil {
			return nil, nil, err
		}
		return st, nil, nil
	}
	local, err := storage.NewLocal(cfg.storageDir(), "")
	if err != nil {
		return nil, nil, err
	}
	return local, local.Handler("media/"), nil
}

func storageLabel(cfg *Config) string {
	if spec, err := parseStorage(cfg.Storage); err == nil && spec.S3() {
		return spec.String()
	}
	return cfg.storageDir()
}
