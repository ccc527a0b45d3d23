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

	"github.com/sevra/atlas/internal/phone"
)

// KavenegarConfig configures the Kavenegar verify-lookup provider.
type KavenegarConfig struct {
	// APIKey is the account's API key (required). Kavenegar puts it in
	// the URL path; this package never lets that URL reach an error or a
	// log line.
	APIKey string
	// Template is the name of the approved verify template whose %token%
	// receives Message.Code (required).
	Template string
	// BaseURL is the API root; default "https://api.kavenegar.com".
	BaseURL string
	// HTTPClient sends the requests; default a client with DefaultTimeout.
	HTTPClient *http.Client
	// Logger receives one debug line per send (masked number, never the
	// code); default discards.
	Logger *slog.Logger
}

// Kavenegar sends codes with Kavenegar's verify lookup
// (POST {BaseURL}/v1/{API-KEY}/verify/lookup.json, form receptor, token,
// template). It serves Iranian mobiles only. It implements neither
// Verifier nor Reconciler: a lookup send has no idempotency key and no
// documented way to be found again without the messageid that an
// ambiguous failure lost, so an Ambiguous send cannot be reconciled.
type Kavenegar struct {
	cfg  KavenegarConfig
	base string
	hc   *http.Client
	log  *slog.Logger
	sc   scrubber
}

// NewKavenegar checks cfg and returns the provider. A missing APIKey or
// Template, or a malformed BaseURL, is an error wrapping ErrConfig.
func NewKavenegar(cfg KavenegarConfig) (*Kavenegar, error) {
	if cfg.APIKey == "" || cfg.Template == "" {
		return nil, fmt.Errorf("%w: kavenegar needs an API key and a template", ErrConfig)
	}
	base, err := baseURL("kavenegar", cfg.BaseURL, "https://api.kavenegar.com")
	if err != nil {
		return nil, err
	}
	return &Kavenegar{
		cfg:  cfg,
		base: base,
		hc:   httpClient(cfg.HTTPClient),
		log:  logger(cfg.Logger),
		sc:   scrubber{cfg.APIKey, url.PathEscape(cfg.APIKey)},
	}, nil
}

// Name returns "kavenegar".
func (k *Kavenegar) Name() string { return "kavenegar" }

// Send asks Kavenegar to send m.Code to m.To through the template.
func (k *Kavenegar) Send(ctx context.Context, m Message) (Receipt, error) {
	sc := k.sc.with(m.Code)
	receptor, ok := iranianMobile(m.To)
	if !ok {
		return Receipt{}, &Error{Provider: k.Name(), Kind: Permanent, Msg: "kavenegar verify lookup serves Iranian mobiles only"}
	}
	if m.Code == "" {
		return Receipt{}, &Error{Provider: k.Name(), Kind: Permanent, Msg: "message has no code"}
	}
	form := url.Values{"receptor": {receptor}, "token": {m.Code}, "template": {k.cfg.Template}}
	endpoint := k.base + "/v1/" + url.PathEscape(k.cfg.APIKey) + "/verify/lookup.json"
	req, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return Receipt{}, &Error{Provider: k.Name(), Kind: Permanent, Msg: "cannot build request", Err: sc.cleanErr(err)}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, wrote, err := roundTrip(ctx, k.hc, req)
	if err != nil {
		e := transportError(k.Name(), err, wrote, false, sc)
		k.logResult(ctx, m, "", e)
		return Receipt{}, e
	}
	id, e := parseKavenegar(resp.status, resp.body, sc)
	k.logResult(ctx, m, id, e)
	if e != nil {
		return Receipt{}, e
	}
	return Receipt{Provider: k.Name(), MessageID: id}, nil
}

func (k *Kavenegar) logResult(ctx context.Context, m Message, id string, e *Error) {
	logSend(ctx, k.log, k.Name(), m, id, e)
}

// kavenegarReply is the envelope of every Kavenegar response.
type kavenegarReply struct {
	Return struct {
		Status  int    `json:"status"`
		Message string `json:"message"`
	} `json:"return"`
	Entries json.RawMessage `json:"entries"`
}

// kavenegarCodes maps Kavenegar's documented return.status codes to a
// Kind and a short description. Codes not listed fall back to statusKind.
var kavenegarCodes = map[int]struct {
	kind Kind
	desc string
}{
	400: {Permanent, "missing or invalid parameters"},
	401: {Permanent, "account disabled"},
	402: {Retryable, "operation failed"},
	403: {Permanent, "invalid API key"},
	404: {Permanent, "unknown method"},
	405: {Permanent, "wrong HTTP method"},
	406: {Permanent, "required parameter empty"},
	407: {Permanent, "access denied (IP not allowed?)"},
	409: {Retryable, "server cannot answer, try later"},
	411: {Permanent, "invalid receptor"},
	412: {Permanent, "invalid sender"},
	413: {Permanent, "message empty or too long"},
	414: {Permanent, "request too large"},
	416: {Permanent, "caller IP does not match the allowed IP"},
	417: {Permanent, "invalid send date"},
	418: {Permanent, "insufficient credit"},
	419: {Permanent, "array lengths differ"},
	422: {Permanent, "invalid characters"},
	424: {Permanent, "template not found or not approved"},
	426: {Permanent, "method needs the advanced plan"},
	428: {Permanent, "voice call needs a numeric token"},
	431: {Permanent, "token has a space, newline or separator"},
	432: {Permanent, "template has no %token% parameter"},
}

// parseKavenegar classifies a Kavenegar response and returns the first
// entry's messageid on success. The envelope's return.status wins over
// the HTTP status, since Kavenegar reports its errors both ways.
func parseKavenegar(status int, body []byte, sc scrubber) (string, *Error) {
	var r kavenegarReply
	if err := json.Unmarshal(body, &r); err != nil || r.Return.Status == 0 {
		return "", &Error{Provider: "kavenegar", Kind: statusKind(status), HTTPStatus: status,
			Msg: "unreadable response"}
	}
	code := r.Return.Status
	if code == http.StatusOK && is2xx(status) {
		return kavenegarMessageID(r.Entries), nil
	}
	e := &Error{Provider: "kavenegar", HTTPStatus: status, ProviderCode: strconv.Itoa(code)}
	c, known := kavenegarCodes[code]
	switch {
	case known:
		e.Kind, e.Msg = c.kind, c.desc
	case code == http.StatusOK: // success envelope with an error status
		e.Kind, e.Msg = statusKind(status), "inconsistent response"
	default:
		e.Kind, e.Msg = statusKind(code), "unknown status"
	}
	if msg := sc.clean(strings.TrimSpace(r.Return.Message)); msg != "" {
		e.Msg += ": " + msg
	}
	return "", e
}

// kavenegarMessageID returns entries[0].messageid, or "" when absent.
func kavenegarMessageID(entries json.RawMessage) string {
	var list []struct {
		MessageID json.Number `json:"messageid"`
	}
	if err := json.Unmarshal(entries, &list); err != nil || len(list) == 0 {
		return ""
	}
	return list[0].MessageID.String()
}

// logSend writes the debug line shared by the HTTP providers: the masked
// number, the reference and the outcome, never the code or the text.
func logSend(ctx context.Context, log *slog.Logger, provider string, m Message, id string, e *Error) {
	if e != nil {
		log.DebugContext(ctx, "sms send failed", "provider", provider, "to", phone.Mask(m.To),
			"ref", m.Ref, "kind", e.Kind.String(), "err", e.Error())
		return
	}
	log.DebugContext(ctx, "sms sent", "provider", provider, "to", phone.Mask(m.To), "ref", m.Ref, "message_id", id)
}
