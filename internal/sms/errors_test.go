package sms

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
)

func TestKindHelpers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err                   error
		kind                  Kind
		retry, perm, ambig    bool
		isRetry, isPerm, isAm bool
	}{
		{&Error{Provider: "x", Kind: Retryable}, Retryable, true, false, false, true, false, false},
		{&Error{Provider: "x", Kind: Permanent}, Permanent, false, true, false, false, true, false},
		{&Error{Provider: "x", Kind: Ambiguous}, Ambiguous, false, false, true, false, false, true},
		{fmt.Errorf("job: %w", &Error{Kind: Ambiguous}), Ambiguous, false, false, true, false, false, true},
		{errors.New("plain"), 0, false, false, false, false, false, false},
		{nil, 0, false, false, false, false, false, false},
	}
	for _, tt := range tests {
		if got := KindOf(tt.err); got != tt.kind {
			t.Errorf("KindOf(%v) = %v, want %v", tt.err, got, tt.kind)
		}
		if IsRetryable(tt.err) != tt.retry || IsPermanent(tt.err) != tt.perm || IsAmbiguous(tt.err) != tt.ambig {
			t.Errorf("Is helpers wrong for %v", tt.err)
		}
		if errors.Is(tt.err, ErrRetryable) != tt.isRetry || errors.Is(tt.err, ErrPermanent) != tt.isPerm ||
			errors.Is(tt.err, ErrAmbiguous) != tt.isAm {
			t.Errorf("sentinels wrong for %v", tt.err)
		}
	}
}

func TestErrorText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{Provider: "kavenegar", Kind: Permanent, HTTPStatus: 418, ProviderCode: "418", Msg: "insufficient credit"},
			"sms kavenegar: permanent, HTTP 418, code 418: insufficient credit"},
		{&Error{Provider: "smsir", Kind: Retryable, Msg: "could not connect", Err: errors.New("dial tcp: refused")},
			"sms smsir: retryable: could not connect: dial tcp: refused"},
		{&Error{Provider: "file", Kind: Ambiguous}, "sms file: ambiguous"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	if got := Kind(9).String(); got != "Kind(9)" {
		t.Errorf("Kind(9).String() = %q", got)
	}
}

func TestErrorUnwrap(t *testing.T) {
	t.Parallel()
	err := &Error{Provider: "x", Kind: Retryable, Err: context.DeadlineExceeded}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Error("errors.Is does not reach the cause")
	}
}

func TestTransportError(t *testing.T) {
	t.Parallel()
	secretURL := "https://api.kavenegar.com/v1/" + testKey + "/verify/lookup.json"
	dial := &url.Error{Op: "Post", URL: secretURL, Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}}
	read := &url.Error{Op: "Post", URL: secretURL, Err: &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}}
	timeout := &url.Error{Op: "Post", URL: secretURL, Err: context.DeadlineExceeded}
	leaky := &url.Error{Op: "Post", URL: secretURL, Err: errors.New("odd failure mentioning " + secretURL)}
	tests := []struct {
		name       string
		err        error
		wrote      bool
		idempotent bool
		want       Kind
	}{
		{"dial refused, not written", dial, false, false, Retryable},
		{"dial even if flagged written", dial, true, false, Retryable},
		{"timeout before write", timeout, false, false, Retryable},
		{"timeout after write", timeout, true, false, Ambiguous},
		{"reset after write", read, true, false, Ambiguous},
		{"reset after write, GET", read, true, true, Retryable},
		{"cause quoting the URL", leaky, true, false, Ambiguous},
	}
	for _, tt := range tests {
		e := transportError("kavenegar", tt.err, tt.wrote, tt.idempotent, scrubber{testKey})
		if e.Kind != tt.want {
			t.Errorf("%s: kind %s, want %s", tt.name, e.Kind, tt.want)
		}
		if strings.Contains(e.Error(), testKey) {
			t.Errorf("%s: error leaks the key: %s", tt.name, e.Error())
		}
		var ue *url.Error
		if errors.As(e, &ue) {
			t.Errorf("%s: error still holds a *url.Error", tt.name)
		}
	}
	if e := transportError("kavenegar", timeout, true, false, nil); !errors.Is(e, context.DeadlineExceeded) {
		t.Error("the cause of a timeout is lost")
	}
}

func TestStatusKind(t *testing.T) {
	t.Parallel()
	tests := map[int]Kind{
		200: Ambiguous, 201: Ambiguous, 302: Permanent, 400: Permanent, 401: Permanent, 404: Permanent,
		429: Retryable, 500: Ambiguous, 502: Ambiguous, 503: Retryable, 504: Ambiguous,
	}
	for status, want := range tests {
		if got := statusKind(status); got != want {
			t.Errorf("statusKind(%d) = %s, want %s", status, got, want)
		}
	}
}

func TestScrubber(t *testing.T) {
	t.Parallel()
	sc := scrubber{testKey}.with(testCode)
	got := sc.clean("key " + testKey + " code " + testCode + " " + strings.Repeat("x", 300))
	if strings.Contains(got, testKey) || strings.Contains(got, testCode) {
		t.Errorf("clean left a secret: %q", got)
	}
	if !strings.HasPrefix(got, "key [redacted] code [redacted] x") || !strings.HasSuffix(got, "…") {
		t.Errorf("clean(...) = %q", got)
	}
	if len([]rune(got)) != maxMsg+1 {
		t.Errorf("clean kept %d runes, want %d", len([]rune(got)), maxMsg+1)
	}
	plain := errors.New("nothing secret")
	if sc.cleanErr(plain) != plain {
		t.Error("cleanErr replaced an error without secrets")
	}
	if got := sc.cleanErr(errors.New("has " + testKey)).Error(); got != "has [redacted]" {
		t.Errorf("cleanErr = %q", got)
	}
}

func TestIranianMobile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"+989121234567", "09121234567", true},
		{"+989901234567", "09901234567", true},
		{"+982112345678", "", false},
		{"+14155552671", "", false},
		{"+98912123456", "", false},
		{"09121234567", "", false},
		{"+98912123456x", "", false},
	}
	for _, tt := range tests {
		got, ok := iranianMobile(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("iranianMobile(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
