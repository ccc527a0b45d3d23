package sms

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// smsirPageSize is the largest page SMS.ir's reports return.
const smsirPageSize = 100

// Lookup reports whether SMS.ir sent m today: it pages through the day's
// sends (GET /v1/send/live, at most LookupPages pages) looking for one to
// m.To whose text contains m.Code. It answers false only after reading
// every page of the day; it returns an error (Ambiguous) when the day has
// more pages than it may read, and the day's report does not cover a send
// made before midnight (provider time).
func (s *SMSIR) Lookup(ctx context.Context, m Message) (bool, error) {
	sc := s.sc.with(m.Code)
	mobile, ok := iranianMobile(m.To)
	if !ok || m.Code == "" {
		return false, &Error{Provider: s.Name(), Kind: Permanent, Msg: "lookup needs an Iranian mobile and a code"}
	}
	for page := 1; page <= s.cfg.LookupPages; page++ {
		items, e := s.livePage(ctx, page, sc)
		if e != nil {
			return false, e
		}
		for _, it := range items {
			if sameMobile(it.Mobile, mobile) && strings.Contains(it.MessageText, m.Code) {
				return true, nil
			}
		}
		if len(items) < smsirPageSize {
			return false, nil
		}
	}
	return false, &Error{Provider: s.Name(), Kind: Ambiguous,
		Msg: "not found in the first " + strconv.Itoa(s.cfg.LookupPages) + " pages of today's sends"}
}

// smsirSent is one row of SMS.ir's send report.
type smsirSent struct {
	Mobile      json.RawMessage `json:"mobile"`
	MessageText string          `json:"messageText"`
}

// livePage fetches one page of the day's sends.
func (s *SMSIR) livePage(ctx context.Context, page int, sc scrubber) ([]smsirSent, *Error) {
	q := url.Values{"pageSize": {strconv.Itoa(smsirPageSize)}, "pageNumber": {strconv.Itoa(page)}}
	req, err := http.NewRequest(http.MethodGet, s.base+"/v1/send/live?"+q.Encode(), nil)
	if err != nil {
		return nil, &Error{Provider: s.Name(), Kind: Permanent, Msg: "cannot build request", Err: sc.cleanErr(err)}
	}
	s.header(req)
	resp, wrote, err := roundTrip(ctx, s.hc, req)
	if err != nil {
		return nil, transportError(s.Name(), err, wrote, true, sc)
	}
	return parseSMSIRLive(resp.status, resp.body, sc)
}

// parseSMSIRLive classifies a send-report response and returns its rows.
func parseSMSIRLive(status int, body []byte, sc scrubber) ([]smsirSent, *Error) {
	data, e := parseSMSIR(status, body, sc)
	if e != nil {
		if e.Kind == Ambiguous { // a read has no side effect to be unsure about
			e.Kind = Retryable
		}
		return nil, e
	}
	var items []smsirSent
	if len(data) == 0 || string(data) == "null" {
		return nil, nil
	}
	if err := json.Unmarshal(data, &items); err != nil {
		return nil, &Error{Provider: "smsir", Kind: Retryable, HTTPStatus: status, ProviderCode: "1",
			Msg: "unreadable send report"}
	}
	return items, nil
}

// sameMobile reports whether a report's mobile (a JSON number or string,
// such as 9121234567 or "09121234567") is the national mobile n
// ("09121234567").
func sameMobile(raw json.RawMessage, n string) bool {
	d := strings.Trim(string(raw), `" `)
	d = strings.TrimPrefix(d, "+")
	for _, p := range []string{"0098", "98", "0"} {
		if len(d) > 10 {
			d = strings.TrimPrefix(d, p)
		}
	}
	return len(d) == 10 && d == n[1:]
}
