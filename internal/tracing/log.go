package tracing

import (
	"context"
	"log/slog"
)

// LogHandler adds trace_id (and request_id when set) to every record logged
// with a context that carries a trace context. Log with the *Context
// methods (InfoContext, …) for it to apply.
type LogHandler struct{ next slog.Handler }

// NewLogHandler wraps next.
func NewLogHandler(next slog.Handler) *LogHandler { return &LogHandler{next: next} }

// Enabled implements slog.Handler.
func (h *LogHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle implements slog.Handler.
func (h *LogHandler) Handle(ctx context.Context, r slog.Record) error {
	if c, ok := From(ctx); ok {
		r = r.Clone()
		r.AddAttrs(slog.String("trace_id", c.TraceIDString()))
		if c.RequestID != "" {
			r.AddAttrs(slog.String("request_id", c.RequestID))
		}
	}
	return h.next.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h *LogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &LogHandler{next: h.next.WithAttrs(as)}
}

// WithGroup implements slog.Handler.
func (h *LogHandler) WithGroup(name string) slog.Handler {
	return &LogHandler{next: h.next.WithGroup(name)}
}
