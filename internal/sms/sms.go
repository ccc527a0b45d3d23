package sms

import (
	"context"
	"strings"
)

// Message is one one-time code to deliver.
type Message struct {
	// To is the recipient in E.164 form ("+989121234567"), as returned by
	// phone.Normalize.
	To string
	// Code is the one-time code. Template providers (Kavenegar, SMS.ir)
	// put it in their template; Verifier providers (Twilio Verify)
	// generate their own code and ignore this one.
	Code string
	// Text is the full message for providers that send free text (file).
	// Template providers ignore it. Never logged.
	Text string
	// Ref is the caller's identifier for the message (the challenge id).
	// It is the same on every retry of one message, so it serves as an
	// idempotency key where a provider supports one; none of the HTTP
	// providers here does, so it only correlates logs and the file sink.
	Ref string
}

// Receipt is what a provider reports for an accepted message.
type Receipt struct {
	// Provider is the provider's Name.
	Provider string
	// MessageID is the provider's identifier for the message (Kavenegar
	// messageid, SMS.ir messageId, Twilio verification SID); for the
	// console and file providers it is Message.Ref.
	MessageID string
}

// Provider sends a Message. Send returns a nil error only when the
// provider accepted the message; any other outcome is an *Error whose Kind
// tells the caller whether sending again is safe (see the package
// documentation). Implementations are safe for concurrent use.
type Provider interface {
	// Name is the provider's short name: "console", "file", "kavenegar",
	// "smsir" or "twilio-verify".
	Name() string
	// Send delivers m, or asks the provider to deliver its own code to
	// m.To for a Verifier.
	Send(ctx context.Context, m Message) (Receipt, error)
}

// Verifier is implemented by providers that generate and check their own
// code (Twilio Verify). For them Message.Code is ignored by Send, and the
// code the user types is checked with Check instead of being compared with
// a stored one.
type Verifier interface {
	// Check reports whether code is the pending code for to (E.164). It
	// returns false with a nil error for a wrong code and when no
	// verification is pending (expired, already approved, never sent).
	Check(ctx context.Context, to, code string) (bool, error)
}

// Reconciler is implemented by providers with a way to find out after the
// fact whether a message was accepted. Call Lookup after an Ambiguous
// failure: sent=true means do not send again; sent=false with a nil error
// means the provider has no trace of m and sending again is safe; an error
// means it is still unknown.
type Reconciler interface {
	// Lookup reports whether the provider accepted m.
	Lookup(ctx context.Context, m Message) (sent bool, err error)
}

// iranianMobile returns the national form ("09121234567") of an E.164
// Iranian mobile, as the Iranian providers want it, and false for any
// other number.
func iranianMobile(e164 string) (string, bool) {
	n, ok := strings.CutPrefix(e164, "+98")
	if !ok || len(n) != 10 || n[0] != '9' || strings.Trim(n, "0123456789") != "" {
		return "", false
	}
	return "0" + n, true
}

// Compile-time checks that each provider has the interfaces it documents.
var (
	_ Provider   = (*Console)(nil)
	_ Provider   = (*File)(nil)
	_ Provider   = (*Kavenegar)(nil)
	_ Provider   = (*SMSIR)(nil)
	_ Reconciler = (*SMSIR)(nil)
	_ Provider   = (*TwilioVerify)(nil)
	_ Verifier   = (*TwilioVerify)(nil)
)
