package salon

import (
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/sevra/atlas/internal/slug"
)

func TestParsePatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		code string // "" = valid
	}{
		{`{"name":" Rose ","slug":"rose-1","verified":true}`, ""},
		{`{"verified":false}`, ""},
		{`{}`, "empty_patch"},
		{`{"slug":"a/b"}`, "invalid_slug"},
		{`{"slug":""}`, "invalid_slug"},
		{`{"slug":"a\u0000b"}`, "invalid_slug"},
		{`{"slug":"Rose"}`, "invalid_slug"},
		{`{"slug":"a<b>"}`, "invalid_slug"},
		{`{"slug":"a&b"}`, "invalid_slug"},
		{`{"slug":"a\u202eb"}`, "invalid_slug"},
		{`{"slug":"a\u0007b"}`, "invalid_slug"},
		{`{"slug":"سالن-رز-۲"}`, ""},
		{`{"name":"a\u0000b"}`, "invalid_name"},
		{`{"name":"a\u0001b"}`, "invalid_name"},
		{`{"name":"   "}`, "invalid_name"},
		{`{"other":1}`, "invalid_json"},
		{`{"name":"a"} {}`, "invalid_json"},
		{`[]`, "invalid_json"},
	}
	for _, tc := range tests {
		p, err := ParsePatch([]byte(tc.in))
		var ie *InputError
		switch {
		case tc.code == "" && err != nil:
			t.Errorf("%s: %v", tc.in, err)
		case tc.code != "" && (!errors.As(err, &ie) || ie.Code != tc.code):
			t.Errorf("%s: err %v, want code %s", tc.in, err, tc.code)
		}
		if tc.code == "" && p.Name != nil && *p.Name != "Rose" {
			t.Errorf("name not trimmed: %q", *p.Name)
		}
	}
}

func FuzzParsePatch(f *testing.F) {
	f.Add([]byte(`{"name":"x","slug":"y","verified":true}`))
	f.Add([]byte(`{"slug":"../x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePatch(data)
		if err != nil {
			return
		}
		if p.Name == nil && p.Slug == nil && p.Verified == nil {
			t.Fatal("accepted an empty patch")
		}
		if p.Slug != nil && (!slug.Valid(*p.Slug) || !utf8.ValidString(*p.Slug)) {
			t.Fatalf("accepted slug %q", *p.Slug)
		}
		if p.Name != nil && (*p.Name == "" || !utf8.ValidString(*p.Name)) {
			t.Fatalf("accepted name %q", *p.Name)
		}
	})
}
