package cli

import (
	"strings"

	"github.com/sevra/atlas/internal/media/storage"
)

// mediaSettings are the storage and media settings of the processes that
// accept uploads or generate variants (run, serve, worker).
func (c *Config) mediaSettings() []setting {
	m := &c.Media
	return []setting{
		{flag: "storage", env: "ATLAS_STORAGE", def: "",
			usage: "where media files go: a directory, or s3://bucket/prefix (AWS_* variables below); empty means <data-dir>/media",
			set:   func(v string) (err error) { c.Storage, err = storage.ParseSpec(v); return err }},
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
		{flag: "media-max-pixels", env: "ATLAS_MEDIA_MAX_PIXELS", def: "",
			usage: "largest accepted width×height, read from the header before decoding (pixels, or with MP); default 50MP with libvips, 16MP with the pure-Go engine (which decodes whole images)",
			set: func(v string) (err error) {
				if strings.TrimSpace(v) == "" {
					m.MaxPixels = 0 // the engine's default
					return nil
				}
				m.MaxPixels, err = parsePixels(v)
				return err
			}},
		{flag: "media-widths", env: "ATLAS_MEDIA_WIDTHS", def: "320,640,960,1280,1920",
			usage: "variant widths; each as WebP and JPEG (plus AVIF for the two smallest with libvips), never upscaled",
			set:   func(v string) (err error) { m.Widths, err = parseWidths(v); return err }},
		stringSetting(&m.TempDir, "media-temp-dir", "ATLAS_MEDIA_TEMP_DIR", "",
			"directory for uploads being checked and originals downloaded from S3; empty means <data-dir>/tmp"),
	}
}
