// Package media is Atlas's image pipeline: upload intake, the
// generate-variants job handler body, media rows and their API view.
//
// # Flow
//
// POST /api/v1/media calls Service.Accept with the multipart "file" part.
// Accept streams the body to a temporary file (never holding it in
// memory), stops at Limits.MaxBytes (default 20 MiB, ErrTooLarge), sniffs
// the format from magic bytes (JPEG, PNG, WebP, GIF, AVIF, HEIC; never the
// name or Content-Type; ErrUnsupportedFormat), reads the dimensions from
// the header only and refuses more than Limits.MaxPixels (default 50 MP,
// ErrTooManyPixels), stores the original under "incoming/<random>.<ext>",
// and inserts a media row (status processing) through Config.Create: with
// OutboxCreate the row and its MediaUploaded {mediaId, storageKey} outbox
// event commit in one transaction, and the event is published after the
// request's own work (fast path; else the relay). The outbox routes it to
// generate-variants on queue "media" with job id JobID(id) = "media-<id>".
// The handler answers 202 {id, status}.
//
// Rollout modes (Config.Mode, ATLAS_MODE_MEDIA): async (default) leaves
// the variants to the worker; sync generates them in Accept (no event is
// stored) and the handler answers 201 with the ready view; shadow does
// both: Accept generates them and keeps the original, and the worker's
// CompareShadow regenerates into side keys "shadow/media/<id>/…",
// compares with the row (MatchShadow: same variant names, widths, heights
// and formats, sizes within ShadowByteTolerance), records the result with
// the rollout recorder, and deletes its side outputs and the original.
//
// The queue worker calls Service.GenerateVariants. It decodes the original
// once, auto-orients it from EXIF, converts to sRGB, strips metadata,
// writes the variant set (default widths 320, 640, 960, 1280 and 1920,
// never upscaled, each as WebP and JPEG, plus AVIF for the two smallest
// widths when the engine can encode AVIF) under the deterministic keys
// "media/<id>/<width>w.<ext>", removes anything else under that prefix,
// computes a BlurHash placeholder from the smallest variant, marks the row
// ready and deletes the original. A rerun at any point converges on the
// same objects, with no orphans. Errors wrapping ErrPermanent (a bad file)
// are already recorded on the row and must become an unrecoverable job
// error; all other errors are transient and retried (defaults for the
// queue: concurrency = CPU count, limiter 10/s, 5 attempts, exponential
// backoff from 1 s). HandleGenerate (registered by Service.Register) is
// the queue adapter: progress through job.UpdateProgress, ErrPermanent as
// jobq.Unrecoverable, and MarkFailed on the last attempt's transient
// failure.
//
// GET /api/v1/media/{id} returns Service.Get's View. Stored files are
// served at /media/… by storage.Local.Handler("media/") with
// "Cache-Control: public, max-age=31536000, immutable".
//
// # Image engines and the vips build tag
//
// Two engines implement imaging.Engine; imaging.OpenDefault picks one at
// build time:
//
//   - default build: imaging.PureEngine, pure Go. `go run` and
//     `go test ./...` need no system libraries. It decodes JPEG, PNG, GIF
//     and WebP and writes JPEG and WebP (gen2brain/webp: libwebp in
//     WebAssembly under wazero). No AVIF/HEIC in or out, no shrink-on-load,
//     ICC profiles ignored. Uploads in AVIF/HEIC are refused with
//     ErrUnsupportedFormat.
//   - `-tags vips`: imaging.VipsEngine, libvips through govips v2.16 (cgo;
//     needs Debian's libvips-dev). Shrink-on-load, AVIF output, AVIF/HEIC
//     input. Only the JPEG, PNG, WebP, HEIF/AVIF and GIF loaders may run:
//     vips_block_untrusted_set plus a block on every other VipsForeignLoad
//     class (the equivalent of VIPS_BLOCK_UNTRUSTED, and stricter). The
//     engine is started by its owner (NewVipsEngine / OpenDefault) and
//     shut down by Close; libvips cannot be restarted in the same process.
//
// Build and test with libvips:
//
//	apt-get install -y libvips-dev
//	go test -tags vips ./internal/media/...
//	go build -tags vips ./cmd/atlas
//
// # Storage
//
// storage.Local (a directory; the default) and storage.S3 (AWS SDK for Go
// v2; endpoint override and path-style addressing for S3-compatible
// servers). S3 is tested against gofakes3, an in-process S3 fake, not
// against AWS or MinIO.
package media
