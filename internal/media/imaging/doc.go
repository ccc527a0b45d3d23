// Package imaging turns an uploaded image into the variant set Atlas
// serves: it sniffs the format and reads the dimensions from the header
// before any decode (so size and pixel limits apply to hostile files
// cheaply), then decodes, resizes (never upscaling), encodes WebP and
// JPEG per width (plus AVIF for the smallest widths with libvips) and
// computes a BlurHash placeholder.
//
// Two engines implement Engine: a pure-Go one (the default; no C
// dependencies) and a libvips one, built with -tags vips (needs
// libvips-dev), which is faster and uses less memory per image (see
// docs/BENCHMARKS.md, "Media"). OpenDefault opens the one the build
// selects; DefaultEngineName names it.
//
// The libvips engine reads GLIBC_TUNABLES and the MALLOC_* variables from
// the process environment itself, on purpose: glibc's allocator reads
// them from there, and the engine only avoids overriding an operator's
// choice.
package imaging
