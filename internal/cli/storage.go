package cli

import (
	"fmt"
	"strconv"
	"strings"
)

// parseByteSize reads a size: bytes ("20971520"), or a number with KB, MB,
// GB (powers of 1000) or KiB, MiB, GiB (powers of 1024); case-insensitive.
func parseByteSize(s string) (int64, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"b", 1}} {
		if n, ok := strings.CutSuffix(v, u.suffix); ok {
			v, mult = strings.TrimSpace(n), u.m
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("%q is not a size such as 20MiB, 20MB or 20971520", s)
	}
	return n * mult, nil
}

// parsePixels reads a pixel count: "50000000" or "50MP".
func parsePixels(s string) (int64, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	if n, ok := strings.CutSuffix(v, "mp"); ok {
		v, mult = strings.TrimSpace(n), 1_000_000
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("%q is not a pixel count such as 50MP or 50000000", s)
	}
	return n * mult, nil
}

// parseWidths reads "320,640,960": positive widths up to 10000, each once.
func parseWidths(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		w, err := strconv.Atoi(f)
		if err != nil || w <= 0 || w > 10_000 {
			return nil, fmt.Errorf("width %q: want whole pixels from 1 to 10000", f)
		}
		for _, x := range out {
			if x == w {
				return nil, fmt.Errorf("width %d is listed twice", w)
			}
		}
		out = append(out, w)
	}
	return out, nil
}
