// Package tracing carries a W3C trace context (the traceparent header) from
// an HTTP request through the outbox into job data and the worker's logs,
// so one request can be followed to every job it caused.
package tracing

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Context is one W3C trace context: a trace id shared by everything a
// request causes, the id of the current span and the trace flags.
// RequestID is the caller's X-Request-ID when one was given.
type Context struct {
	TraceID   [16]byte
	SpanID    [8]byte
	Flags     byte
	RequestID string
}

// ErrInvalid reports a malformed traceparent.
var ErrInvalid = errors.New("invalid traceparent")

// New returns a fresh sampled context with random trace and span ids.
func New() Context {
	var c Context
	rand.Read(c.TraceID[:])
	rand.Read(c.SpanID[:])
	c.Flags = 1
	return c
}

// Parse reads a traceparent value: "00-<32 hex trace id>-<16 hex span
// id>-<2 hex flags>". Versions other than 00 are accepted when the value
// has at least these four fields (as the specification asks); all-zero ids
// and version ff are rejected.
func Parse(s string) (Context, error) {
	var c Context
	s = strings.TrimSpace(s)
	if len(s) < 55 || (len(s) > 55 && s[55] != '-') {
		return c, fmt.Errorf("%w: %.64q", ErrInvalid, s)
	}
	parts := strings.SplitN(s[:55], "-", 4)
	if len(parts) != 4 || len(parts[0]) != 2 || len(parts[1]) != 32 || len(parts[2]) != 16 || len(parts[3]) != 2 {
		return c, fmt.Errorf("%w: %.64q", ErrInvalid, s)
	}
	var ver [1]byte
	if !lowerHex(parts[0]) || !lowerHex(parts[1]) || !lowerHex(parts[2]) || !lowerHex(parts[3]) {
		return c, fmt.Errorf("%w: %.64q", ErrInvalid, s)
	}
	hex.Decode(ver[:], []byte(parts[0]))
	if ver[0] == 0xff || (ver[0] == 0 && len(s) != 55) {
		return c, fmt.Errorf("%w: %.64q", ErrInvalid, s)
	}
	hex.Decode(c.TraceID[:], []byte(parts[1]))
	hex.Decode(c.SpanID[:], []byte(parts[2]))
	var fl [1]byte
	hex.Decode(fl[:], []byte(parts[3]))
	c.Flags = fl[0]
	if c.TraceID == ([16]byte{}) || c.SpanID == ([8]byte{}) {
		return Context{}, fmt.Errorf("%w: zero id", ErrInvalid)
	}
	return c, nil
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// FromRequestID derives a context from an X-Request-ID: a 32-hex-digit id
// (or a UUID) becomes the trace id as is; anything else is hashed into
// one, so the same request id always maps to the same trace id.
func FromRequestID(id string) Context {
	c := New()
	c.RequestID = id
	raw := strings.ToLower(strings.ReplaceAll(id, "-", ""))
	if len(raw) == 32 && lowerHex(raw) {
		hex.Decode(c.TraceID[:], []byte(raw))
	}
	if c.TraceID == ([16]byte{}) || len(raw) != 32 || !lowerHex(raw) {
		sum := sha256.Sum256([]byte(id))
		copy(c.TraceID[:], sum[:16])
	}
	return c
}

// Valid reports whether c has a trace id.
func (c Context) Valid() bool { return c.TraceID != [16]byte{} }

// Child returns c with a new span id: the context for work c causes.
func (c Context) Child() Context {
	rand.Read(c.SpanID[:])
	return c
}

// TraceIDString is the trace id in lower-case hex.
func (c Context) TraceIDString() string { return hex.EncodeToString(c.TraceID[:]) }

// String is the traceparent value, or "" for an invalid context.
func (c Context) String() string {
	if !c.Valid() {
		return ""
	}
	return fmt.Sprintf("00-%x-%x-%02x", c.TraceID, c.SpanID, c.Flags)
}

type ctxKey struct{}

// With returns ctx carrying c.
func With(ctx context.Context, c Context) context.Context {
	return context.WithValue(ctx, ctxKey{}, c)
}

// From returns the context ctx carries, if any.
func From(ctx context.Context) (Context, bool) {
	c, ok := ctx.Value(ctxKey{}).(Context)
	return c, ok && c.Valid()
}

// Traceparent returns the traceparent of ctx, or "" when it has none.
func Traceparent(ctx context.Context) string {
	c, _ := From(ctx)
	return c.String()
}

// FromJobData reads the "trace" field (a traceparent) of a job's JSON data.
func FromJobData(data []byte) (Context, bool) {
	var d struct {
		Trace string `json:"trace"`
	}
	if len(data) == 0 || data[0] != '{' || json.Unmarshal(data, &d) != nil || d.Trace == "" {
		return Context{}, false
	}
	c, err := Parse(d.Trace)
	return c, err == nil
}
