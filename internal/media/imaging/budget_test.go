package imaging

import (
	"slices"
	"testing"
)

func TestCapTargetsBoundsTheVariantArea(t *testing.T) {
	pure := (&PureEngine{}).CanEncode // JPEG and WebP: two targets a width
	cases := []struct {
		name   string
		ow, oh int
		widths []int // distinct widths kept, descending
	}{
		{"landscape 4000×3000: all", 4000, 3000, []int{1920, 1280, 960, 640, 320}},
		{"portrait 3000×4000: 1920×2560 fits", 3000, 4000, []int{1920, 1280, 960, 640, 320}},
		{"2:3 portrait 2000×3000: 1920×2880 fits", 2000, 3000, []int{1920, 1280, 960, 640, 320}},
		{"tall 1920×8333: 1920 and 1280 wide are over 5.5 MP", 1920, 8333, []int{960, 640, 320}},
		{"300×50000: none fits, so 182 wide (182×30333)", 300, 50000, []int{182}},
	}
	for _, c := range cases {
		got := capTargets(Spec{}.Targets(c.ow, pure), c.ow, c.oh)
		var widths []int
		for _, tg := range got {
			if !slices.Contains(widths, tg.Width) {
				widths = append(widths, tg.Width)
			}
		}
		if !slices.Equal(widths, c.widths) {
			t.Errorf("%s: widths %v, want %v", c.name, widths, c.widths)
		}
		if len(got) != 2*len(c.widths) {
			t.Errorf("%s: %d targets for %d widths, want 2 each", c.name, len(got), len(c.widths))
		}
	}
}
