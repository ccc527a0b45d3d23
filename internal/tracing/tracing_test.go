package tracing

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in string
		ok bool
	}{
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true},
		{" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00 ", true},
		{"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", true},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", false},
		{"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false},
		{"00-00000000000000000000000000000000-00f067aa0ba902b7-01", false},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", false},
		{"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", false},
		{"00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01", false},
		{"", false},
		{"garbage", false},
	}
	for _, tc := range tests {
		c, err := Parse(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("Parse(%q) = %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) error %v does not wrap ErrInvalid", tc.in, err)
		}
		if tc.ok && c.TraceIDString() != "4bf92f3577b34da6a3ce929d0e0e4736" {
			t.Errorf("Parse(%q) trace id %s", tc.in, c.TraceIDString())
		}
	}
}

func TestRoundTripAndChild(t *testing.T) {
	t.Parallel()
	c := New()
	p, err := Parse(c.String())
	if err != nil || p != c {
		t.Fatalf("round trip %v -> %v, %v", c, p, err)
	}
	ch := c.Child()
	if ch.TraceID != c.TraceID || ch.SpanID == c.SpanID {
		t.Fatalf("child %v of %v", ch, c)
	}
}

func TestFromRequestID(t *testing.T) {
	t.Parallel()
	u := FromRequestID("4bf92f35-77b3-4da6-a3ce-929d0e0e4736")
	if u.TraceIDString() != "4bf92f3577b34da6a3ce929d0e0e4736" || u.RequestID == "" {
		t.Fatalf("uuid request id: %v", u)
	}
	a, b := FromRequestID("req-1"), FromRequestID("req-1")
	if a.TraceID != b.TraceID || !a.Valid() {
		t.Fatal("the same request id must give the same trace id")
	}
}

func TestFromJobDataAndLogs(t *testing.T) {
	t.Parallel()
	c := New()
	got, ok := FromJobData([]byte(`{"salonId":1,"trace":"` + c.String() + `"}`))
	if !ok || got.TraceID != c.TraceID {
		t.Fatalf("FromJobData = %v, %v", got, ok)
	}
	for _, d := range []string{``, `1`, `{"trace":"x"}`, `{}`} {
		if _, ok := FromJobData([]byte(d)); ok {
			t.Errorf("FromJobData(%q) ok", d)
		}
	}
	var buf bytes.Buffer
	log := slog.New(NewLogHandler(slog.NewTextHandler(&buf, nil)))
	log.InfoContext(With(context.Background(), c), "hello", "k", 1)
	if !strings.Contains(buf.String(), "trace_id="+c.TraceIDString()) {
		t.Fatalf("log line %q lacks trace_id", buf.String())
	}
}

func FuzzParse(f *testing.F) {
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	f.Add("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xyz")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(s)
		if err != nil {
			return
		}
		again, err := Parse(c.String())
		if err != nil || again.TraceID != c.TraceID || again.SpanID != c.SpanID {
			t.Fatalf("%q parsed to %v, which does not round-trip: %v", s, c, err)
		}
	})
}
