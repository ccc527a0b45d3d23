package sms

import (
	"context"
	"log/slog"

	"github.com/sevra/atlas/internal/phone"
)

// Console is the development provider: it logs that a code was sent to a
// masked number and sends nothing. It never logs the code or the text
// (use File to read codes in development). It never fails.
type Console struct {
	log *slog.Logger
}

// NewConsole returns a Console that logs to log (nil discards).
func NewConsole(log *slog.Logger) *Console { return &Console{log: logger(log)} }

// Name returns "console".
func (c *Console) Name() string { return "console" }

// Send logs one info line with the masked number and m.Ref.
func (c *Console) Send(ctx context.Context, m Message) (Receipt, error) {
	c.log.InfoContext(ctx, "sms code sent (console provider: nothing delivered)",
		"provider", c.Name(), "to", phone.Mask(m.To), "ref", m.Ref)
	return Receipt{Provider: c.Name(), MessageID: m.Ref}, nil
}
