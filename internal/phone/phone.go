// Package phone normalises user-typed phone numbers to E.164
// ("+989121234567") and masks them for logs.
//
// Iranian mobiles (+98 9XX XXX XXXX) are always accepted, in every form
// people type them:
//
//	09121234567  9121234567  989121234567  +989121234567  00989121234567
//	+98 (0)912 123 4567  ۰۹۱۲۱۲۳۴۵۶۷  ٠٩١٢١٢٣٤٥٦٧
//
// Spaces, dashes, dots, parentheses, slashes, underscores and the invisible
// direction marks that Persian keyboards and copy-paste leave behind are
// ignored; Persian (U+06F0–U+06F9) and Arabic-Indic (U+0660–U+0669) digits
// count as ASCII digits, mixed freely. Iranian numbers that are not mobiles
// (landlines such as 021…) are refused.
//
// Other countries are accepted only when their calling code is in the
// caller's allow-list, and only in international form (+CC… or 00CC…):
// the national part must have at least 6 digits and the whole number 8 to
// 15 digits (E.164 allows at most 15). No per-country numbering plan is
// checked beyond that.
//
// Errors are *Error values with a stable machine Code for the API; they
// match ErrInvalid or ErrCountryNotAllowed with errors.Is.
package phone

import (
	"strings"
)

// Iran is the calling code that is always allowed.
const Iran = "98"

// maxInput bounds the work done on hostile input: nothing longer than this
// (in bytes) can be a phone number, even with generous punctuation.
const maxInput = 100

// Normalize returns raw as an E.164 string ("+989121234567").
//
// allow lists the extra country calling codes accepted besides Iran's
// (for example "1", "44", "+971"; a leading "+" is optional). Entries that
// are not 1 to 3 digits are ignored: use ParseAllowList to validate a
// configured value once at start-up.
//
// The error is an *Error: CodeCountryNotAllowed when raw is a well-formed
// international number whose calling code is not allowed, CodeInvalid for
// everything else.
func Normalize(raw string, allow []string) (string, error) {
	if len(raw) > maxInput {
		return "", newError(CodeInvalid, "too long", raw)
	}
	digits, plus, reason := clean(raw)
	if reason != "" {
		return "", newError(CodeInvalid, reason, raw)
	}
	if digits == "" {
		return "", newError(CodeInvalid, "empty", raw)
	}
	intl := plus
	if !plus && strings.HasPrefix(digits, "00") {
		digits, intl = digits[2:], true
	}
	if !intl {
		return national(digits, raw)
	}
	if digits == "" {
		return "", newError(CodeInvalid, "too short", raw)
	}
	if strings.HasPrefix(digits, Iran) {
		return iranian(digits[len(Iran):], raw)
	}
	return foreign(digits, allow, raw)
}

// national handles input without an international prefix: only Iranian
// mobiles are recognised (09…, 9…, or 989… without the "+").
func national(d, raw string) (string, error) {
	switch {
	case len(d) == 11 && strings.HasPrefix(d, "0"):
		return iranian(d[1:], raw)
	case len(d) == 10:
		return iranian(d, raw)
	case len(d) == 12 && strings.HasPrefix(d, Iran):
		return iranian(d[len(Iran):], raw)
	case len(d) < 10:
		return "", newError(CodeInvalid, "too short", raw)
	default:
		return "", newError(CodeInvalid, "not an Iranian mobile; use +<country code> for others", raw)
	}
}

// iranian validates the national part n of an Iranian number, tolerating
// the "(0)" trunk prefix people put after +98.
func iranian(n, raw string) (string, error) {
	if len(n) == 11 && strings.HasPrefix(n, "0") {
		n = n[1:]
	}
	switch {
	case len(n) < 10:
		return "", newError(CodeInvalid, "too short", raw)
	case len(n) > 10:
		return "", newError(CodeInvalid, "too long", raw)
	case n[0] != '9':
		return "", newError(CodeInvalid, "not a mobile number", raw)
	}
	return "+" + Iran + n, nil
}

// foreign validates a non-Iranian international number d (digits after
// "+" or "00") against the allow-list.
func foreign(d string, allow []string, raw string) (string, error) {
	switch {
	case d[0] == '0':
		return "", newError(CodeInvalid, "country code cannot start with 0", raw)
	case len(d) > 15:
		return "", newError(CodeInvalid, "too long", raw)
	case len(d) < 8:
		return "", newError(CodeInvalid, "too short", raw)
	}
	for _, cc := range allow {
		cc = strings.TrimPrefix(strings.TrimSpace(cc), "+")
		if !validCallingCode(cc) || !strings.HasPrefix(d, cc) {
			continue
		}
		if len(d)-len(cc) < 6 {
			return "", newError(CodeInvalid, "too short", raw)
		}
		return "+" + d, nil
	}
	return "", newError(CodeCountryNotAllowed, "country calling code not allowed", raw)
}

// clean maps raw to its ASCII digits, reporting whether it started with
// "+". reason is non-empty when raw holds anything but digits, one leading
// "+" and ignorable punctuation.
func clean(raw string) (digits string, plus bool, reason string) {
	var b strings.Builder
	b.Grow(len(raw))
	for _, r := range raw {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r >= '۰' && r <= '۹': // Persian, U+06F0–U+06F9
			b.WriteRune('0' + (r - '۰'))
		case r >= '٠' && r <= '٩': // Arabic-Indic, U+0660–U+0669
			b.WriteRune('0' + (r - '٠'))
		case r == '+' || r == '＋':
			if plus || b.Len() > 0 {
				return "", false, "misplaced +"
			}
			plus = true
		case ignorable(r):
		default:
			return "", false, "unexpected character"
		}
	}
	return b.String(), plus, ""
}

// ignorable reports whether r is punctuation or an invisible mark that
// people and keyboards put inside phone numbers.
func ignorable(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\r', '-', '.', '(', ')', '/', '_',
		'\u00a0',                                                   // no-break space
		'\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2212', // dashes, minus
		'\u200c', '\u200d', // zero-width non-joiner and joiner
		'\u200e', '\u200f', // left-to-right and right-to-left marks
		'\u202a', '\u202b', '\u202c', '\u202d', '\u202e', // bidi embeddings
		'\u2066', '\u2067', '\u2068', '\u2069', // bidi isolates
		'\u2009', '\u202f', '\u3000', // thin, narrow no-break, ideographic spaces
		'\ufeff': // byte-order mark
		return true
	}
	return false
}

// validCallingCode reports whether cc is 1 to 3 ASCII digits not starting
// with 0, the shape of an ITU-T E.164 country calling code.
func validCallingCode(cc string) bool {
	if len(cc) < 1 || len(cc) > 3 || cc[0] == '0' {
		return false
	}
	for i := 0; i < len(cc); i++ {
		if cc[i] < '0' || cc[i] > '9' {
			return false
		}
	}
	return true
}
