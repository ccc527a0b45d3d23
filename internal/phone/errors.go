package phone

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Machine codes carried by *Error. They are stable: the HTTP API returns
// them to clients as is.
const (
	// CodeInvalid means the input is not a phone number this package accepts.
	CodeInvalid = "invalid_phone"
	// CodeCountryNotAllowed means the input looks like a valid international
	// number, but its country calling code is not in the allow-list.
	CodeCountryNotAllowed = "phone_country_not_allowed"
)

// Sentinels matched by errors.Is against an *Error.
var (
	// ErrInvalid is matched by every *Error whose Code is CodeInvalid.
	ErrInvalid = errors.New("invalid phone number")
	// ErrCountryNotAllowed is matched by every *Error whose Code is
	// CodeCountryNotAllowed.
	ErrCountryNotAllowed = errors.New("phone country not allowed")
	// ErrBadAllowList is returned by ParseAllowList for a malformed value.
	ErrBadAllowList = errors.New("bad phone allow-list")
)

// maxEcho is how many runes of the caller's input an error message repeats.
const maxEcho = 20

// Error is returned by Normalize. Its message repeats at most the first
// 20 runes of the input, so logging it never echoes an unbounded string.
type Error struct {
	// Code is CodeInvalid or CodeCountryNotAllowed.
	Code string
	// Reason is a short, fixed English explanation ("too short", ...).
	Reason string
	// Input is the caller's input, truncated to 20 runes ("…" marks a cut).
	Input string
}

func newError(code, reason, raw string) *Error {
	return &Error{Code: code, Reason: reason, Input: truncate(raw)}
}

// Error implements error.
func (e *Error) Error() string {
	return fmt.Sprintf("phone: %s: %s: %q", e.Code, e.Reason, e.Input)
}

// Unwrap returns the sentinel for e.Code, so errors.Is(err, ErrInvalid)
// and errors.Is(err, ErrCountryNotAllowed) work.
func (e *Error) Unwrap() error {
	if e.Code == CodeCountryNotAllowed {
		return ErrCountryNotAllowed
	}
	return ErrInvalid
}

// truncate keeps the first maxEcho runes of s, marking a cut with "…".
// Invalid UTF-8 is replaced so the result is always printable.
func truncate(s string) string {
	if !utf8.ValidString(s) {
		s = string([]rune(s)) // replaces invalid bytes with U+FFFD
	}
	if utf8.RuneCountInString(s) <= maxEcho {
		return s
	}
	return string([]rune(s)[:maxEcho]) + "…"
}
