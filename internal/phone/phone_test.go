package phone

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	allow := []string{"1", "+44", " 971 "}
	const want = "+989121234567"
	tests := []struct {
		name string
		in   string
		want string
		code string // "" when the input is accepted
	}{
		// Iranian mobiles in every form.
		{"national 11 digits", "09121234567", want, ""},
		{"national 10 digits", "9121234567", want, ""},
		{"plus 98", "+989121234567", want, ""},
		{"00 98", "00989121234567", want, ""},
		{"98 without plus", "989121234567", want, ""},
		{"plus 98 trunk zero", "+9809121234567", want, ""},
		{"plus 98 bracketed trunk zero", "+98 (0)912 123 4567", want, ""},
		{"00 98 trunk zero", "0098 0912 123 4567", want, ""},
		{"spaces", "0912 123 4567", want, ""},
		{"dashes", "0912-123-4567", want, ""},
		{"dots", "0912.123.4567", want, ""},
		{"parentheses", "(0912) 123 4567", want, ""},
		{"bracketed plus", "(+98) 912-123-4567", want, ""},
		{"surrounding spaces", "  +98 912 123 4567\t", want, ""},
		{"no-break spaces", "0912\u00a0123\u00a04567", want, ""},
		{"en dashes", "0912–123–4567", want, ""},
		{"bidi marks", "\u200e+98 912 123 4567\u200f", want, ""},
		{"ZWNJ", "0912\u200c1234567", want, ""},
		{"other operator 0990", "09901234567", "+989901234567", ""},
		{"other operator 0935", "+98 935 000 1122", "+989350001122", ""},

		// Persian and Arabic-Indic digits, alone and mixed with ASCII.
		{"persian national", "۰۹۱۲۱۲۳۴۵۶۷", want, ""},
		{"persian plus", "+۹۸۹۱۲۱۲۳۴۵۶۷", want, ""},
		{"persian 00", "۰۰۹۸۹۱۲۱۲۳۴۵۶۷", want, ""},
		{"persian spaced", "۰۹۱۲ ۱۲۳ ۴۵۶۷", want, ""},
		{"arabic national", "٠٩١٢١٢٣٤٥٦٧", want, ""},
		{"arabic plus", "+٩٨٩١٢١٢٣٤٥٦٧", want, ""},
		{"persian and ascii", "۰۹۱۲123۴۵۶۷", want, ""},
		{"arabic and ascii dashes", "0912-١٢٣-4567", want, ""},
		{"persian arabic ascii", "۰9١2۱2٣4۵6٧", want, ""},
		{"fullwidth plus", "＋989121234567", want, ""},

		// Allowed foreign numbers, international form only.
		{"US plus", "+1 415 555 2671", "+14155552671", ""},
		{"US 00", "001-415-555-2671", "+14155552671", ""},
		{"US parentheses", "+1 (415) 555-2671", "+14155552671", ""},
		{"UK", "+44 20 7946 0958", "+442079460958", ""},
		{"UK mobile", "0044 7700 900123", "+447700900123", ""},
		{"UAE", "+971 50 123 4567", "+971501234567", ""},
		{"UAE persian digits", "+۹۷۱۵۰۱۲۳۴۵۶۷", "+971501234567", ""},
		{"15 digits", "+447700900123456", "+447700900123456", ""},

		// Foreign numbers that are not allowed.
		{"Germany", "+49 30 901820", "", CodeCountryNotAllowed},
		{"France 00", "0033 1 23 45 67 89", "", CodeCountryNotAllowed},
		{"Turkey", "+90 532 123 4567", "", CodeCountryNotAllowed},

		// Iranian numbers that are not mobiles.
		{"Tehran landline", "02112345678", "", CodeInvalid},
		{"Tehran landline intl", "+98 21 1234 5678", "", CodeInvalid},
		{"Tehran landline 10 digits", "2112345678", "", CodeInvalid},
		{"Isfahan landline 00", "00983112345678", "", CodeInvalid},

		// Wrong lengths.
		{"Iran too short", "0912123456", "", CodeInvalid},
		{"Iran too long", "091212345678", "", CodeInvalid},
		{"Iran intl too short", "+98912123456", "", CodeInvalid},
		{"Iran intl too long", "+9891212345678", "", CodeInvalid},
		{"short digits", "12345", "", CodeInvalid},
		{"single digit", "9", "", CodeInvalid},
		{"foreign national too short", "+44 12345", "", CodeInvalid},
		{"US too short total", "+1 415 55", "", CodeInvalid},
		{"over 15 digits", "+4477009001234567", "", CodeInvalid},
		{"too long input", strings.Repeat("9", 200), "", CodeInvalid},
		{"national non-Iranian", "4155552671", "", CodeInvalid},
		{"US without plus", "14155552671", "", CodeInvalid},

		// Malformed.
		{"empty", "", "", CodeInvalid},
		{"only spaces", "   ", "", CodeInvalid},
		{"only plus", "+", "", CodeInvalid},
		{"only 00", "00", "", CodeInvalid},
		{"plus and spaces", "+ - ()", "", CodeInvalid},
		{"letters", "0912abc4567", "", CodeInvalid},
		{"letter suffix", "09121234567x", "", CodeInvalid},
		{"word", "phone", "", CodeInvalid},
		{"two plus", "++989121234567", "", CodeInvalid},
		{"plus in middle", "0912+1234567", "", CodeInvalid},
		{"plus 00", "+00989121234567", "", CodeInvalid},
		{"country code zero", "+0 123 456 789", "", CodeInvalid},
		{"extension", "09121234567;ext=1", "", CodeInvalid},
		{"hash", "#09121234567", "", CodeInvalid},
		{"devanagari digits", "०९१२१२३४५६७", "", CodeInvalid},
		{"invalid utf8", "0912\xff1234567", "", CodeInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Normalize(tt.in, allow)
			if tt.code == "" {
				if err != nil || got != tt.want {
					t.Fatalf("Normalize(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
				}
				return
			}
			var pe *Error
			if !errors.As(err, &pe) || pe.Code != tt.code {
				t.Fatalf("Normalize(%q) = %q, %v; want code %s", tt.in, got, err, tt.code)
			}
			if got != "" {
				t.Errorf("Normalize(%q) returned %q with an error", tt.in, got)
			}
		})
	}
}

func TestNormalizeWithoutAllowList(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in    string
		allow []string
		want  string
		code  string
	}{
		{"+989121234567", nil, "+989121234567", ""},
		{"+14155552671", nil, "", CodeCountryNotAllowed},
		{"+14155552671", []string{}, "", CodeCountryNotAllowed},
		{"+14155552671", []string{"bogus", "", "0", "1234"}, "", CodeCountryNotAllowed},
		{"+14155552671", []string{"bogus", "1"}, "+14155552671", ""},
		{"+989121234567", []string{"98"}, "+989121234567", ""},
	}
	for _, tt := range tests {
		got, err := Normalize(tt.in, tt.allow)
		var pe *Error
		switch {
		case tt.code == "" && (err != nil || got != tt.want):
			t.Errorf("Normalize(%q, %q) = %q, %v; want %q", tt.in, tt.allow, got, err, tt.want)
		case tt.code != "" && (!errors.As(err, &pe) || pe.Code != tt.code):
			t.Errorf("Normalize(%q, %q) = %q, %v; want code %s", tt.in, tt.allow, got, err, tt.code)
		}
	}
}

func TestErrorSentinels(t *testing.T) {
	t.Parallel()
	_, err := Normalize("021 1234 5678", nil)
	if !errors.Is(err, ErrInvalid) || errors.Is(err, ErrCountryNotAllowed) {
		t.Errorf("landline error %v: want ErrInvalid only", err)
	}
	_, err = Normalize("+49 30 901820", nil)
	if !errors.Is(err, ErrCountryNotAllowed) || errors.Is(err, ErrInvalid) {
		t.Errorf("foreign error %v: want ErrCountryNotAllowed only", err)
	}
	const wantMsg = `phone: phone_country_not_allowed: country calling code not allowed: "+49 30 901820"`
	if err.Error() != wantMsg {
		t.Errorf("message %q, want %q", err.Error(), wantMsg)
	}
}

func TestErrorTruncatesInput(t *testing.T) {
	t.Parallel()
	long := "0912-" + strings.Repeat("x", 90)
	_, err := Normalize(long, nil)
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("want *Error, got %v", err)
	}
	if want := "0912-xxxxxxxxxxxxxxx…"; pe.Input != want {
		t.Errorf("Input = %q, want %q", pe.Input, want)
	}
	if strings.Contains(err.Error(), strings.Repeat("x", 21)) {
		t.Errorf("message echoes the whole input: %q", err.Error())
	}
	_, err = Normalize(strings.Repeat("9", 5000), nil)
	if len(err.Error()) > 120 {
		t.Errorf("message for a 5000-byte input is %d bytes long", len(err.Error()))
	}
}
