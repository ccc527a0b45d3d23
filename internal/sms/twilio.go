package sms

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// TwilioConfig configures the Twilio Verify provider.
type TwilioConfig struct {
	// AccountSID is the account SID ("AC…"), the basic-auth user (required).
	AccountSID string
	// AuthToken is the account's auth token, the basic-auth password
	// (required).
	AuthToken string
	// ServiceSID is the Verify service SID ("VA…") (required).
	ServiceSID string
	// BaseURL is the API root; default "https://verify.twilio.com".
	BaseURL string
	// HTTPClient sends the requests; default a client with DefaultTimeout.
	HTTPClient *http.Client
	// Logger receives one debug line per send (masked number); default
	// discards.
	Logger *slog.Logger
}

// TwilioVerify starts verifications with Twilio Verify
// (POST {BaseURL}/v2/Services/{ServiceSID}/Verifications, form To,
// Channel=sms) and checks codes (POST …/VerificationCheck, form To, Code).
// Twilio generates the code: Send ignores Message.Code and Message.Text,
// and the code the user types must go to Check.
//
// Sending again is harmless: while a verification for the number is
// pending (10 minutes), a new request re-sends the same code instead of
// creating another one, at worst one more SMS, counted against Twilio's
// limit of 5 sends per verification (error 60203). So a failure after the
// request was written is Retryable here, not Ambiguous, and TwilioVerify
// needs no Reconciler.
type TwilioVerify struct {
	cfg  TwilioConfig
	base string
	hc   *http.Client
	log  *slog.Logger
	sc   scrubber
}

// NewTwilioVerify checks cfg and returns the provider. A missing SID or
// token, or a malformed BaseURL, is an error wrapping ErrConfig.
func NewTwilioVerify(cfg TwilioConfig) (*TwilioVerify, error) {
	if cfg.AccountSID == "" || cfg.AuthToken == "" || cfg.ServiceSID == "" {
		return nil, fmt.Errorf("%w: twilio-verify needs an account SID, an auth token and a service SID", ErrConfig)
	}
	base, err := baseURL("twilio-verify", cfg.BaseURL, "https://verify.twilio.com")
	if err != nil {
		return nil, err
	}
	return &TwilioVerify{cfg: cfg, base: base, hc: httpClient(cfg.HTTPClient), log: logger(cfg.Logger),
		sc: scrubber{cfg.AuthToken}}, nil
}

// Name returns "twilio-verify".
func (t *TwilioVerify) Name() string { return "twilio-verify" }

// Send starts (or re-sends) an SMS verification for m.To.
func (t *TwilioVerify) Send(ctx context.Context, m Message) (Receipt, error) {
	resp, e := t.post(ctx, "/Verifications", url.Values{"To": {m.To}, "Channel": {"sms"}}, t.sc)
	if e != nil {
		if e.Kind == Ambiguous {
			e.Kind = Retryable
			e.Msg += " (a re-send within the pending verification is harmless)"
		}
		logSend(ctx, t.log, t.Name(), m, "", e)
		return Receipt{}, e
	}
	sid, e := parseTwilioVerification(resp.status, resp.body, t.sc)
	logSend(ctx, t.log, t.Name(), m, sid, e)
	if e != nil {
		return Receipt{}, e
	}
	return Receipt{Provider: t.Name(), MessageID: sid}, nil
}

// Check asks Twilio whether code is the pending code for to. A wrong code
// and a missing verification (HTTP 404: expired, approved already, never
// started) give false and a nil error; too many wrong attempts (60202) is
// a Permanent error. A failure after the request was written is
// Ambiguous: the check may have been counted, or even approved.
func (t *TwilioVerify) Check(ctx context.Context, to, code string) (bool, error) {
	sc := t.sc.with(code)
	resp, e := t.post(ctx, "/VerificationCheck", url.Values{"To": {to}, "Code": {code}}, sc)
	if e != nil {
		return false, e
	}
	return parseTwilioCheck(resp.status, resp.body, sc)
}

// post sends a form to the service's path and classifies transport
// failures.
func (t *TwilioVerify) post(ctx context.Context, path string, form url.Values, sc scrubber) (response, *Error) {
	endpoint := t.base + "/v2/Services/" + url.PathEscape(t.cfg.ServiceSID) + path
	req, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return response{}, &Error{Provider: t.Name(), Kind: Permanent, Msg: "cannot build request", Err: sc.cleanErr(err)}
	}
	req.SetBasicAuth(t.cfg.AccountSID, t.cfg.AuthToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, wrote, err := roundTrip(ctx, t.hc, req)
	if err != nil {
		return response{}, transportError(t.Name(), err, wrote, false, sc)
	}
	return resp, nil
}

// twilioCodes maps Twilio error codes seen from Verify to a Kind. Codes
// not listed fall back to the HTTP status: 429 and 5xx Retryable,
// anything else Permanent.
var twilioCodes = map[int]struct {
	kind Kind
	desc string
}{
	20003: {Permanent, "authentication failed"},
	20404: {Permanent, "not found"},
	20429: {Retryable, "too many requests"},
	21211: {Permanent, "invalid To number"},
	21408: {Permanent, "region not enabled"},
	21608: {Permanent, "trial account cannot send to an unverified number"},
	21610: {Permanent, "recipient unsubscribed"},
	21614: {Permanent, "not a mobile number"},
	60200: {Permanent, "invalid parameter"},
	60202: {Permanent, "max check attempts reached"},
	60203: {Permanent, "max send attempts reached"},
	60205: {Permanent, "SMS not supported by a landline"},
	60212: {Retryable, "too many concurrent requests for the number"},
	60223: {Permanent, "delivery channel disabled"},
	60410: {Permanent, "blocked by fraud prevention"},
	60605: {Permanent, "blocked by geo permissions"},
}

// twilioError is Twilio's error body.
type twilioError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  int    `json:"status"`
}

// twilioFailure classifies a non-2xx Twilio response.
func twilioFailure(status int, body []byte, sc scrubber) *Error {
	e := &Error{Provider: "twilio-verify", HTTPStatus: status, Kind: Permanent}
	if status == http.StatusTooManyRequests || status >= 500 {
		e.Kind = Retryable
	}
	var te twilioError
	if err := json.Unmarshal(body, &te); err != nil || te.Code == 0 {
		e.Msg = "HTTP error without a Twilio error body"
		return e
	}
	e.ProviderCode = strconv.Itoa(te.Code)
	if c, ok := twilioCodes[te.Code]; ok {
		e.Kind, e.Msg = c.kind, c.desc
	}
	if msg := sc.clean(strings.TrimSpace(te.Message)); msg != "" {
		if e.Msg != "" {
			e.Msg += ": "
		}
		e.Msg += msg
	}
	return e
}

// parseTwilioVerification classifies a create-verification response and
// returns the verification SID. An unreadable 2xx is Retryable: it may
// not come from Twilio at all (a proxy), and a re-send is harmless.
func parseTwilioVerification(status int, body []byte, sc scrubber) (string, *Error) {
	if !is2xx(status) {
		return "", twilioFailure(status, body, sc)
	}
	var v struct {
		SID    string `json:"sid"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.SID == "" {
		return "", &Error{Provider: "twilio-verify", Kind: Retryable, HTTPStatus: status, Msg: "unreadable response"}
	}
	return sc.clean(v.SID), nil
}

// parseTwilioCheck classifies a verification-check response.
func parseTwilioCheck(status int, body []byte, sc scrubber) (bool, error) {
	if status == http.StatusNotFound {
		return false, nil
	}
	if !is2xx(status) {
		return false, twilioFailure(status, body, sc)
	}
	var v struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.Status == "" {
		return false, &Error{Provider: "twilio-verify", Kind: Ambiguous, HTTPStatus: status, Msg: "unreadable response"}
	}
	return v.Status == "approved", nil
}
