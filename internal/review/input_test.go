package review

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		rating     int
		code       string
	}{
		{"ok", `{"rating":5,"body":"  عالی بود  "}`, 5, ""},
		{"no body", `{"rating":1}`, 1, ""},
		{"rating zero", `{"rating":0,"body":"x"}`, 0, "invalid_rating"},
		{"rating six", `{"rating":6}`, 0, "invalid_rating"},
		{"rating float", `{"rating":4.5}`, 0, "invalid_rating"},
		{"rating string", `{"rating":"5"}`, 0, "invalid_rating"},
		{"rating missing", `{"body":"x"}`, 0, "invalid_rating"},
		{"rating null", `{"rating":null}`, 0, "invalid_rating"},
		{"body number", `{"rating":3,"body":5}`, 0, "invalid_body"},
		{"body too long", `{"rating":3,"body":"` + strings.Repeat("ب", MaxBodyRunes+1) + `"}`, 0, "invalid_body"},
		{"body at limit", `{"rating":3,"body":"` + strings.Repeat("ب", MaxBodyRunes) + `"}`, 3, ""},
		{"unknown field", `{"rating":3,"stars":5}`, 0, "invalid_json"},
		{"trailing", `{"rating":3} {}`, 0, "invalid_json"},
		{"not json", `rating=3`, 0, "invalid_json"},
		{"array", `[3]`, 0, "invalid_json"},
		{"empty", ``, 0, "invalid_json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in, err := ParseInput([]byte(tc.body))
			if tc.code == "" {
				if err != nil || in.Rating != tc.rating {
					t.Fatalf("ParseInput = %+v, %v", in, err)
				}
				if in.Body != strings.TrimSpace(in.Body) {
					t.Fatalf("body not trimmed: %q", in.Body)
				}
				return
			}
			var ie *InputError
			if !errors.As(err, &ie) || ie.Code != tc.code {
				t.Fatalf("ParseInput error %v, want code %s", err, tc.code)
			}
		})
	}
}

func FuzzParseInput(f *testing.F) {
	f.Add([]byte(`{"rating":5,"body":"great"}`))
	f.Add([]byte(`{"rating":1e0}`))
	f.Add([]byte(`{"rating":3,"body":"\ud800"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := ParseInput(data)
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) || ie.Code == "" || ie.Message == "" {
				t.Fatalf("error %v is not an InputError with code and message", err)
			}
			return
		}
		if in.Rating < 1 || in.Rating > 5 || !utf8.ValidString(in.Body) || utf8.RuneCountInString(in.Body) > MaxBodyRunes {
			t.Fatalf("accepted %+v from %q", in, data)
		}
	})
}
