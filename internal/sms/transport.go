package sms

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// DefaultTimeout is the whole-request timeout of the *http.Client that the
// HTTP providers use when their Config leaves HTTPClient nil.
const DefaultTimeout = 10 * time.Second

// maxBody bounds how much of a response body is read.
const maxBody = 1 << 20

// httpClient returns c, or a client with DefaultTimeout when c is nil.
func httpClient(c *http.Client) *http.Client {
	if c != nil {
		return c
	}
	return &http.Client{Timeout: DefaultTimeout}
}

// logger returns l, or a logger that discards everything when l is nil.
func logger(l *slog.Logger) *slog.Logger {
	if l != nil {
		return l
	}
	return slog.New(slog.DiscardHandler)
}

// baseURL validates a configured base URL (or def when empty) and returns
// it without a trailing slash.
func baseURL(provider, configured, def string) (string, error) {
	s := configured
	if s == "" {
		s = def
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%w: %s: base URL must be an absolute http or https URL", ErrConfig, provider)
	}
	return strings.TrimRight(s, "/"), nil
}

// response is what came back from the provider.
type response struct {
	status int
	body   []byte
}

// roundTrip sends req and reads the response. On a transport failure it
// also reports whether the request had been completely written to the
// connection (from httptrace.WroteRequest), which tells "nothing sent"
// apart from "sent, then no answer".
func roundTrip(ctx context.Context, c *http.Client, req *http.Request) (resp response, wrote bool, err error) {
	var written atomic.Bool
	trace := &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				written.Store(true)
			}
		},
	}
	req = req.WithContext(httptrace.WithClientTrace(ctx, trace))
	r, err := c.Do(req)
	if err != nil {
		return response{}, written.Load(), err
	}
	defer r.Body.Close()
	// A body that breaks off is kept as far as it came and then fails to
	// parse like a malformed one: the status line arrived, so the request
	// was written and the classification goes by the status.
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxBody))
	return response{status: r.StatusCode, body: body}, true, nil
}

// transportError classifies a failure of http.Client.Do (or of reading the
// body). The *url.Error that net/http returns embeds the request URL,
// which holds Kavenegar's API key, so it is dropped and only its cause is
// kept, scrubbed of secrets.
//
// A failure to dial (connection refused, DNS) or any failure before the
// request was completely written is Retryable: the provider cannot have
// seen a whole request. A failure after it was written (timeout awaiting
// the response, connection reset) is Ambiguous, unless idempotent says
// that repeating the request is harmless (a GET), when it is Retryable.
func transportError(provider string, err error, wrote, idempotent bool, sc scrubber) *Error {
	cause := err
	var ue *url.Error
	if errors.As(err, &ue) {
		cause = ue.Err
	}
	cause = sc.cleanErr(cause)
	var op *net.OpError
	switch {
	case errors.As(cause, &op) && op.Op == "dial":
		return &Error{Provider: provider, Kind: Retryable, Msg: "could not connect", Err: cause}
	case !wrote:
		return &Error{Provider: provider, Kind: Retryable, Msg: "request not sent", Err: cause}
	case idempotent:
		return &Error{Provider: provider, Kind: Retryable, Msg: "no response to a read-only request", Err: cause}
	default:
		return &Error{Provider: provider, Kind: Ambiguous, Msg: "no response after the request was sent", Err: cause}
	}
}

// statusKind is the default classification of an HTTP status for a
// response the provider's own codes do not explain: 429 and 503 say the
// request was turned away; any other 5xx may come after the message was
// queued; 4xx and unexpected 3xx are the caller's problem; a 2xx that
// could not be read probably means the message was accepted.
func statusKind(status int) Kind {
	switch {
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		return Retryable
	case status >= 500:
		return Ambiguous
	case status >= 200 && status < 300:
		return Ambiguous
	default:
		return Permanent
	}
}

// is2xx reports whether status is a success status.
func is2xx(status int) bool { return status >= 200 && status < 300 }
