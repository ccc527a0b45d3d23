package imaging

import "strings"

// mallocTuning is the glibc malloc tuning the engines apply: at most 2
// arenas and a fixed 128 KiB mmap threshold (glibc's initial one), so the
// codecs' large freed buffers go back to the kernel instead of staying
// resident after glibc raises its dynamic threshold. Each is 0 (left
// alone) when the operator set it through its MALLOC_* variable or
// GLIBC_TUNABLES.
func mallocTuning(getenv func(string) string) (arenas, mmapThreshold int) {
	arenas, mmapThreshold = 2, 128<<10
	tunables := getenv("GLIBC_TUNABLES")
	if getenv("MALLOC_ARENA_MAX") != "" || strings.Contains(tunables, "glibc.malloc.arena_max") {
		arenas = 0
	}
	if getenv("MALLOC_MMAP_THRESHOLD_") != "" || strings.Contains(tunables, "glibc.malloc.mmap_threshold") {
		mmapThreshold = 0
	}
	return arenas, mmapThreshold
}
