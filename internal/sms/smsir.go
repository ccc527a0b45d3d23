package sms

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// SMSIRConfig configures the SMS.ir verify provider.
type SMSIRConfig struct {
	// APIKey is sent in the x-api-key header (required).
	APIKey string
	// TemplateID is the approved verify template's numeric id (required).
	TemplateID int
	// Parameter is the template parameter that receives Message.Code,
	// without the surrounding #; default "CODE".
	Parameter string
	// BaseURL is the API root; default "https://api.sms.ir".
	BaseURL string
	// HTTPClient sends the requests; default a client with DefaultTimeout.
	HTTPClient *http.Client
	// Logger receives one debug line per send (masked number, never the
	// code); default discards.
	Logger *slog.Logger
	// LookupPages is how many pages of 100 of the day's sends Lookup scans
	// before giving up; default 10.
	LookupPages int
}

// SMSIR sends codes with SMS.ir's verify send (POST {BaseURL}/v1/send/verify,
// JSON mobile, templateId, parameters). It serves Iranian mobiles only.
// It implements Reconciler by searching the day's sends
// (GET {BaseURL}/v1/send/live) for the number and the code.
type SMSIR struct {
	cfg  SMSIRConfig
	base string
	hc   *http.Client
	log  *slog.Logger
	sc   scrubber
}

// NewSMSIR checks cfg and returns the provider. A missing APIKey, a
// TemplateID that is not positive, or a malformed BaseURL is an error
// wrapping ErrConfig.
func NewSMSIR(cfg SMSIRConfig) (*SMSIR, error) {
	if cfg.APIKey == "" || cfg.TemplateID <= 0 {
		return nil, fmt.Errorf("%w: smsir needs an API key and a positive template id", ErrConfig)
	}
	if cfg.Parameter == "" {
		cfg.Parameter = "CODE"
	}
	if cfg.LookupPages <= 0 {
		cfg.LookupPages = 10
	}
	base, err := baseURL("smsir", cfg.BaseURL, "https://api.sms.ir")
	if err != nil {
		return nil, err
	}
	return &SMSIR{cfg: cfg, base: base, hc: httpClient(cfg.HTTPClient), log: logger(cfg.Logger), sc: scrubber{cfg.APIKey}}, nil
}

// Name returns "smsir".
func (s *SMSIR) Name() string { return "smsir" }

// smsirMaxValue is SMS.ir's documented limit on a parameter value.
const smsirMaxValue = 25

// Send asks SMS.ir to send m.Code to m.To through the template.
func (s *SMSIR) Send(ctx context.Context, m Message) (Receipt, error) {
	sc := s.sc.with(m.Code)
	mobile, ok := iranianMobile(m.To)
	switch {
	case !ok:
		return Receipt{}, &Error{Provider: s.Name(), Kind: Permanent, Msg: "sms.ir verify serves Iranian mobiles only"}
	case m.Code == "":
		return Receipt{}, &Error{Provider: s.Name(), Kind: Permanent, Msg: "message has no code"}
	case utf8.RuneCountInString(m.Code) > smsirMaxValue:
		return Receipt{}, &Error{Provider: s.Name(), Kind: Permanent, Msg: "code longer than 25 characters"}
	}
	type param struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	body, err := json.Marshal(struct {
		Mobile     string  `json:"mobile"`
		TemplateID int     `json:"templateId"`
		Parameters []param `json:"parameters"`
	}{mobile, s.cfg.TemplateID, []param{{s.cfg.Parameter, m.Code}}})
	if err != nil {
		return Receipt{}, &Error{Provider: s.Name(), Kind: Permanent, Msg: "cannot encode request"}
	}
	req, err := http.NewRequest(http.MethodPost, s.base+"/v1/send/verify", bytes.NewReader(body))
	if err != nil {
		return Receipt{}, &Error{Provider: s.Name(), Kind: Permanent, Msg: "cannot build request", Err: sc.cleanErr(err)}
	}
	s.header(req)
	req.Header.Set("Content-Type", "application/json")
	resp, wrote, err := roundTrip(ctx, s.hc, req)
	if err != nil {
		e := transportError(s.Name(), err, wrote, false, sc)
		logSend(ctx, s.log, s.Name(), m, "", e)
		return Receipt{}, e
	}
	id, e := parseSMSIRSend(resp.status, resp.body, sc)
	logSend(ctx, s.log, s.Name(), m, id, e)
	if e != nil {
		return Receipt{}, e
	}
	return Receipt{Provider: s.Name(), MessageID: id}, nil
}

func (s *SMSIR) header(req *http.Request) {
	req.Header.Set("x-api-key", s.cfg.APIKey)
	req.Header.Set("Accept", "application/json")
}

// smsirReply is the envelope of every SMS.ir response.
type smsirReply struct {
	Status  *int            `json:"status"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

// smsirCodes maps SMS.ir's documented status codes to a Kind and a short
// description. Status 0 ("the request failed") and unlisted codes fall
// back to statusKind of the HTTP status.
var smsirCodes = map[int]struct {
	kind Kind
	desc string
}{
	10:  {Permanent, "invalid API key"},
	11:  {Permanent, "API key disabled"},
	12:  {Permanent, "API key restricted to other IPs"},
	13:  {Permanent, "account disabled"},
	14:  {Permanent, "account suspended"},
	15:  {Permanent, "plan does not include the API"},
	16:  {Permanent, "invalid parameter value"},
	20:  {Retryable, "too many requests"},
	101: {Permanent, "invalid line number"},
	102: {Permanent, "insufficient credit"},
	103: {Permanent, "empty text"},
	104: {Permanent, "invalid mobile"},
	107: {Permanent, "empty mobile list"},
	113: {Permanent, "template not found"},
	114: {Permanent, "parameter value longer than 25 characters"},
	115: {Permanent, "mobile is blacklisted"},
	116: {Permanent, "template parameter not set"},
	117: {Permanent, "text not approved"},
	118: {Permanent, "too many messages"},
	119: {Permanent, "plan does not include custom templates"},
	123: {Permanent, "sender line needs activation"},
	124: {Permanent, "template is not recognised as OTP"},
}

// parseSMSIR classifies an SMS.ir response and returns its data on
// success (status 1 with a 2xx HTTP status).
func parseSMSIR(status int, body []byte, sc scrubber) (json.RawMessage, *Error) {
	var r smsirReply
	if err := json.Unmarshal(body, &r); err != nil || r.Status == nil {
		kind := statusKind(status)
		if status == http.StatusUnauthorized {
			kind = Permanent
		}
		return nil, &Error{Provider: "smsir", Kind: kind, HTTPStatus: status, Msg: "unreadable response"}
	}
	code := *r.Status
	if code == 1 && is2xx(status) {
		return r.Data, nil
	}
	e := &Error{Provider: "smsir", HTTPStatus: status, ProviderCode: strconv.Itoa(code)}
	c, known := smsirCodes[code]
	switch {
	case known:
		e.Kind, e.Msg = c.kind, c.desc
	case status == http.StatusUnauthorized:
		e.Kind, e.Msg = Permanent, "authentication failed"
	case code == 0:
		e.Kind, e.Msg = statusKind(status), "request failed"
		if is2xx(status) {
			e.Msg = "inconsistent response"
		}
	default:
		e.Kind, e.Msg = statusKind(status), "unknown status"
		if is2xx(status) {
			e.Kind = Permanent // a documented logical error we do not know
		}
	}
	if msg := sc.clean(strings.TrimSpace(r.Message)); msg != "" {
		e.Msg += ": " + msg
	}
	return nil, e
}

// parseSMSIRSend classifies a verify-send response and returns the
// message id ("" when a success response lacks it).
func parseSMSIRSend(status int, body []byte, sc scrubber) (string, *Error) {
	data, e := parseSMSIR(status, body, sc)
	if e != nil {
		return "", e
	}
	var d struct {
		MessageID json.Number `json:"messageId"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return "", nil // status 1 means accepted; only the id is missing
	}
	return d.MessageID.String(), nil
}
