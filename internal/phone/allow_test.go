package phone

import (
	"errors"
	"slices"
	"testing"
)

func TestParseAllowList(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"", nil, false},
		{"  ", nil, false},
		{"1,44,+971", []string{"1", "44", "971"}, false},
		{" 1 , +44 ,, 971 ,", []string{"1", "44", "971"}, false},
		{"44,+44,44", []string{"44"}, false},
		{"+98", []string{"98"}, false},
		{"1,abc", nil, true},
		{"0", nil, true},
		{"1234", nil, true},
		{"++1", nil, true},
		{"+ 1", nil, true},
		{"1;44", nil, true},
		{"۴۴", nil, true},
	}
	for _, tt := range tests {
		got, err := ParseAllowList(tt.in)
		if tt.wantErr {
			if !errors.Is(err, ErrBadAllowList) {
				t.Errorf("ParseAllowList(%q) = %q, %v; want ErrBadAllowList", tt.in, got, err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ParseAllowList(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
