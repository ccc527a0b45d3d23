package imaging

import (
	"os"
	"sync"

	"github.com/ebitengine/purego"
	"github.com/gen2brain/webp"
)

// glibc's mallopt parameters (malloc.h); variables, since a negative
// constant cannot convert to a uintptr argument.
var (
	mMmapThreshold = -3
	mArenaMax      = -8
)

// tuneWebPMalloc applies mallocTuning to the C library's malloc when the
// WebP encoder runs as the system's libwebp (github.com/gen2brain/webp
// loads it through purego; its WebAssembly fallback allocates in the Go
// heap instead). Measured: a 1920×1920 translucent WebP encode peaks about
// 93 MB above its input, and with glibc's dynamic mmap threshold about
// half of that stayed resident after the encode, on top of the next
// image's decode. mallopt is called through purego, as libwebp is, so the
// pure engine needs no cgo; without glibc (no mallopt symbol) it does
// nothing. Once per process.
var tuneWebPMalloc = sync.OnceFunc(func() {
	if webp.Dynamic() != nil {
		return
	}
	libc, err := purego.Dlopen("libc.so.6", purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return
	}
	sym, err := purego.Dlsym(libc, "mallopt")
	if err != nil {
		return
	}
	arenas, threshold := mallocTuning(os.Getenv)
	if arenas > 0 {
		purego.SyscallN(sym, uintptr(mArenaMax), uintptr(arenas))
	}
	if threshold > 0 {
		purego.SyscallN(sym, uintptr(mMmapThreshold), uintptr(threshold))
	}
})
