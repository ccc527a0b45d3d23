package cli

import (
	"runtime/debug"
	"testing"
)

func TestRevisionOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   []debug.BuildSetting
		want string
	}{
		{nil, "unknown"},
		{[]debug.BuildSetting{{Key: "-buildmode", Value: "exe"}}, "unknown"},
		{[]debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "41d5509489cbc67523d2f37bb2a2239ff98f6308"},
			{Key: "vcs.time", Value: "2026-12-03T14:11:15Z"}, {Key: "vcs.modified", Value: "false"}},
			"41d5509489cbc67523d2f37bb2a2239ff98f6308 (2026-12-03T14:11:15Z)"},
		{[]debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "true"}}, "abc+dirty"},
	} {
		if got := revisionOf(tc.in); got != tc.want {
			t.Errorf("revisionOf(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
