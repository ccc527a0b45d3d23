package imaging

import "testing"

func TestMallocTuningLeavesOperatorSettings(t *testing.T) {
	cases := []struct {
		env                   map[string]string
		arenas, mmapThreshold int
	}{
		{nil, 2, 131072},
		{map[string]string{"MALLOC_ARENA_MAX": "4"}, 0, 131072},
		{map[string]string{"MALLOC_MMAP_THRESHOLD_": "65536"}, 2, 0},
		{map[string]string{"GLIBC_TUNABLES": "glibc.malloc.arena_max=1:glibc.malloc.mmap_threshold=4096"}, 0, 0},
		{map[string]string{"GLIBC_TUNABLES": "glibc.malloc.tcache_count=0"}, 2, 131072},
	}
	for _, c := range cases {
		a, m := mallocTuning(func(k string) string { return c.env[k] })
		if a != c.arenas || m != c.mmapThreshold {
			t.Errorf("%v: arenas %d, mmap threshold %d; want %d, %d", c.env, a, m, c.arenas, c.mmapThreshold)
		}
	}
}
