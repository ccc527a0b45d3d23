package sms

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Kind says what a failed Send means for sending the message again.
type Kind int

// The kinds of failure. The zero Kind means "not an *Error".
const (
	// Retryable: the provider did not accept the message, and sending it
	// again may succeed (connection refused, DNS failure, HTTP 429, a 5xx
	// or provider code that says nothing was accepted).
	Retryable Kind = iota + 1
	// Permanent: sending again cannot help (bad number, bad key, no
	// credit, unknown template, malformed configuration).
	Permanent
	// Ambiguous: the provider may have accepted the message (the request
	// was written, then the connection timed out or broke, or a 5xx that
	// the provider may have returned after queueing it). Sending again may
	// deliver a second SMS; see Reconciler.
	Ambiguous
)

// String returns "retryable", "permanent" or "ambiguous".
func (k Kind) String() string {
	switch k {
	case Retryable:
		return "retryable"
	case Permanent:
		return "permanent"
	case Ambiguous:
		return "ambiguous"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Sentinels. Every *Error matches exactly one of ErrRetryable,
// ErrPermanent and ErrAmbiguous with errors.Is.
var (
	// ErrRetryable is matched by an *Error of Kind Retryable.
	ErrRetryable = errors.New("sms: retryable")
	// ErrPermanent is matched by an *Error of Kind Permanent.
	ErrPermanent = errors.New("sms: permanent")
	// ErrAmbiguous is matched by an *Error of Kind Ambiguous.
	ErrAmbiguous = errors.New("sms: ambiguous")
	// ErrUnknownProvider is wrapped by Open for an unknown provider spec.
	ErrUnknownProvider = errors.New("unknown sms provider")
	// ErrConfig is wrapped by Open and the New… constructors for missing
	// or malformed settings.
	ErrConfig = errors.New("sms provider configuration")
)

// Error is a classified provider failure. Its text never contains an API
// key, an auth token, a code or a full request URL.
type Error struct {
	// Provider is the provider's Name.
	Provider string
	// Kind says whether sending again is safe.
	Kind Kind
	// HTTPStatus is the response's status code, 0 when there was none.
	HTTPStatus int
	// ProviderCode is the provider's own status or error code ("418",
	// "102", "60203"), empty when there was none.
	ProviderCode string
	// Msg is a short description, including the provider's message when
	// it gave one (truncated).
	Msg string
	// Err is the underlying cause (a network error, never a *url.Error),
	// or nil.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "sms %s: %s", e.Provider, e.Kind)
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, ", HTTP %d", e.HTTPStatus)
	}
	if e.ProviderCode != "" {
		fmt.Fprintf(&b, ", code %s", e.ProviderCode)
	}
	if e.Msg != "" {
		b.WriteString(": ")
		b.WriteString(e.Msg)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Is matches the sentinel for e.Kind.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrRetryable:
		return e.Kind == Retryable
	case ErrPermanent:
		return e.Kind == Permanent
	case ErrAmbiguous:
		return e.Kind == Ambiguous
	}
	return false
}

// KindOf returns the Kind of the first *Error in err's chain, or 0 when
// there is none (nil, or an error not produced by this package).
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

// IsRetryable reports whether err is an *Error of Kind Retryable.
func IsRetryable(err error) bool { return KindOf(err) == Retryable }

// IsPermanent reports whether err is an *Error of Kind Permanent.
func IsPermanent(err error) bool { return KindOf(err) == Permanent }

// IsAmbiguous reports whether err is an *Error of Kind Ambiguous.
func IsAmbiguous(err error) bool { return KindOf(err) == Ambiguous }

// maxMsg bounds how much of a provider's message an *Error repeats.
const maxMsg = 200

// scrubber removes secrets (API keys, tokens, codes) from text that is
// about to go into an error or a log line.
type scrubber []string

// clean replaces every secret in s with "[redacted]" and truncates it.
func (sc scrubber) clean(s string) string {
	for _, secret := range sc {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if utf8.RuneCountInString(s) > maxMsg {
		s = string([]rune(s)[:maxMsg]) + "…"
	}
	return s
}

// cleanErr returns err unchanged when its text holds no secret, and an
// opaque error with the scrubbed text otherwise.
func (sc scrubber) cleanErr(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, secret := range sc {
		if secret != "" && strings.Contains(msg, secret) {
			return errors.New(sc.clean(msg))
		}
	}
	return err
}

// with returns a scrubber that also removes extra (such as a code).
func (sc scrubber) with(extra ...string) scrubber {
	return append(append(scrubber(nil), sc...), extra...)
}
