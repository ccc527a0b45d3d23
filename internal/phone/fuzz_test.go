package phone

import (
	"errors"
	"regexp"
	"testing"
)

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)

// FuzzNormalize checks that Normalize never panics, that every accepted
// number is E.164, that normalising is idempotent, and that every error is
// an *Error with a known code and a bounded message.
func FuzzNormalize(f *testing.F) {
	f.Add("09121234567", "")
	f.Add("+98 912 123 4567", "1,44")
	f.Add("۰۹۱۲۱۲۳۴۵۶۷", "")
	f.Add("+1 (415) 555-2671", "1")
	f.Add("0044 7700 900123", "+44")
	f.Fuzz(func(t *testing.T, raw, allowList string) {
		allow, err := ParseAllowList(allowList)
		if err != nil {
			allow = []string{"1", "44", "971"}
		}
		got, err := Normalize(raw, allow)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || (pe.Code != CodeInvalid && pe.Code != CodeCountryNotAllowed) {
				t.Fatalf("Normalize(%q): error %v is not a coded *Error", raw, err)
			}
			if len(err.Error()) > 200 {
				t.Fatalf("Normalize(%q): error message is %d bytes", raw, len(err.Error()))
			}
			return
		}
		if !e164.MatchString(got) {
			t.Fatalf("Normalize(%q) = %q, not E.164", raw, got)
		}
		again, err := Normalize(got, allow)
		if err != nil || again != got {
			t.Fatalf("Normalize(%q) = %q, but Normalize(%q) = %q, %v", raw, got, got, again, err)
		}
		if m := Mask(got); m == "***" || m == got {
			t.Fatalf("Mask(%q) = %q", got, m)
		}
	})
}

// FuzzParseAllowList checks that ParseAllowList never panics and returns
// only calling codes that Normalize accepts.
func FuzzParseAllowList(f *testing.F) {
	f.Add("1,44,+971")
	f.Add(" , +1 ,")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseAllowList(s)
		if err != nil {
			if !errors.Is(err, ErrBadAllowList) {
				t.Fatalf("ParseAllowList(%q): %v does not wrap ErrBadAllowList", s, err)
			}
			return
		}
		for _, cc := range got {
			if !validCallingCode(cc) {
				t.Fatalf("ParseAllowList(%q) returned %q", s, cc)
			}
		}
	})
}
