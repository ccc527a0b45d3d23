package slug

import (
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	good := []string{"rose", "tehran-district-2", "a", "0", "-", "سالن-رز", "تهران", "گل-پژواک-چای-کیش", "۱۴۰۳", "مو-۲",
		strings.Repeat("a", MaxBytes)}
	for _, s := range good {
		if err := Check(s); err != nil {
			t.Errorf("Check(%q) = %v, want nil", s, err)
		}
	}
	bad := []string{"", strings.Repeat("a", MaxBytes+1), "Rose", "ROSE", "a\x00b", "\x00", "a\tb", "a b", "a\nb", "a\x7fb",
		"a<b", "a>b", `a"b`, "a'b", "a&b", "a/b", "a?b", "a#b", "a%00", "a_b", "a.b", "..",
		"evil\u202egpj", "a\u200fb", "a\u200cb", "a\ufeffb", "\xff", "a\xc3", "é", "ß", "ﻙ", "😀"}
	for _, s := range bad {
		err := Check(s)
		if err == nil || !errors.Is(err, ErrInvalid) {
			t.Errorf("Check(%q) = %v, want ErrInvalid", s, err)
		}
		if Valid(s) {
			t.Errorf("Valid(%q) = true", s)
		}
	}
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{"rose", "تهران-۲", "a\x00", "\u202e", "A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !Valid(s) {
			return
		}
		// Whatever passes is short, lower case and free of the characters
		// that need escaping in a URL, XML or SQL text.
		if len(s) == 0 || len(s) > MaxBytes || strings.ToLower(s) != s || strings.ContainsAny(s, "\x00<>\"'&/?#% \t\r\n\u202e\u200c") {
			t.Fatalf("Valid(%q) but it is not a slug", s)
		}
	})
}
