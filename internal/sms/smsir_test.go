package sms

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
)

const smsirOK = `{"status":1,"message":"موفق","data":{"messageId":89545112,"cost":1.0}}`

func smsirEnvelope(code int) string {
	return `{"status":` + strconv.Itoa(code) + `,"message":"خطا","data":null}`
}

// checkSMSIRSend verifies the request has verify send's shape.
func checkSMSIRSend(t *testing.T, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/send/verify" {
		t.Errorf("request %s %s, want POST /v1/send/verify", r.Method, r.URL.Path)
	}
	if got := r.Header.Get("x-api-key"); got != testKey {
		t.Errorf("x-api-key %q", got)
	}
	if got := r.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type %q", got)
	}
	var body struct {
		Mobile     string `json:"mobile"`
		TemplateID int    `json:"templateId"`
		Parameters []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"parameters"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		t.Errorf("body: %v", err)
		return
	}
	if body.Mobile != "09121234567" || body.TemplateID != 123 || len(body.Parameters) != 1 ||
		body.Parameters[0].Name != "CODE" || body.Parameters[0].Value != testCode {
		t.Errorf("body %+v", body)
	}
}

func newTestSMSIR(t *testing.T, base string, pages int) (*SMSIR, *syncBuffer) {
	t.Helper()
	log, buf := captureLog()
	s, err := NewSMSIR(SMSIRConfig{APIKey: testKey, TemplateID: 123, BaseURL: base, HTTPClient: testClient(),
		Logger: log, LookupPages: pages})
	if err != nil {
		t.Fatal(err)
	}
	return s, buf
}

func TestSMSIRSend(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		handle http.HandlerFunc
		kind   Kind
		status int
		code   string
		id     string
	}{
		{"success", reply(200, smsirOK), 0, 0, "", "89545112"},
		{"success without data", reply(200, `{"status":1,"message":"موفق","data":null}`), 0, 0, "", ""},
		{"insufficient credit", reply(400, smsirEnvelope(102)), Permanent, 400, "102", ""},
		{"template not found", reply(400, smsirEnvelope(113)), Permanent, 400, "113", ""},
		{"blacklisted", reply(400, smsirEnvelope(115)), Permanent, 400, "115", ""},
		{"invalid key", reply(401, smsirEnvelope(10)), Permanent, 401, "10", ""},
		{"401 without body", reply(401, ``), Permanent, 401, "", ""},
		{"rate limited", reply(429, smsirEnvelope(20)), Retryable, 429, "20", ""},
		{"bare 429", reply(429, `Too Many Requests`), Retryable, 429, "", ""},
		{"unexpected error 500", reply(500, smsirEnvelope(0)), Ambiguous, 500, "0", ""},
		{"bare 502", reply(502, `Bad Gateway`), Ambiguous, 502, "", ""},
		{"bare 503", reply(503, `Service Unavailable`), Retryable, 503, "", ""},
		{"unknown code in 400", reply(400, smsirEnvelope(999)), Permanent, 400, "999", ""},
		{"malformed 200", reply(200, `<html>`), Ambiguous, 200, "", ""},
		{"timeout after accept", hang, Ambiguous, 0, "", ""},
		{"reset after accept", reset, Ambiguous, 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base, n := fakeServer(t, checkSMSIRSend, tt.handle)
			s, logs := newTestSMSIR(t, base, 0)
			rc, err := s.Send(context.Background(), Message{To: testTo, Code: testCode, Text: testText, Ref: "ch_1"})
			if n.get() != 1 {
				t.Errorf("server saw %d requests, want 1", n.get())
			}
			if tt.kind == 0 {
				if err != nil || rc != (Receipt{Provider: "smsir", MessageID: tt.id}) {
					t.Fatalf("Send = %+v, %v", rc, err)
				}
			} else {
				assertKind(t, err, tt.kind, tt.status, tt.code)
			}
			assertClean(t, "log", logs.String())
			if !strings.Contains(logs.String(), testMask) {
				t.Errorf("log lacks the masked number: %s", logs.String())
			}
		})
	}
}

func TestSMSIRRefusesBeforeSending(t *testing.T) {
	t.Parallel()
	base, n := fakeServer(t, checkSMSIRSend, reply(200, smsirOK))
	s, _ := newTestSMSIR(t, base, 0)
	for _, m := range []Message{
		{To: "+447700900123", Code: testCode},
		{To: testTo},
		{To: testTo, Code: strings.Repeat("9", 26)},
	} {
		_, err := s.Send(context.Background(), m)
		assertKind(t, err, Permanent, 0, "")
	}
	if n.get() != 0 {
		t.Errorf("server saw %d requests, want 0", n.get())
	}
	s, _ = newTestSMSIR(t, closedURL(t), 0)
	_, err := s.Send(context.Background(), Message{To: testTo, Code: testCode})
	assertKind(t, err, Retryable, 0, "")
}

// smsirFake is a stateful SMS.ir: verify sends it accepts show up in its
// day report, as on the real service.
type smsirFake struct {
	mu       sync.Mutex
	sent     []string // rendered message texts, all to 09121234567
	filler   int      // unrelated rows served before the real ones
	hangSend bool     // accept the send, then never answer
}

func (f *smsirFake) handle(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("x-api-key") != testKey {
		reply(401, smsirEnvelope(10))(w, r)
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/send/verify":
		var body struct {
			Parameters []struct{ Value string } `json:"parameters"`
		}
		json.NewDecoder(r.Body).Decode(&body)
		f.mu.Lock()
		f.sent = append(f.sent, "کد تایید شما: "+body.Parameters[0].Value)
		f.mu.Unlock()
		if f.hangSend {
			hang(w, r)
			return
		}
		reply(200, smsirOK)(w, r)
	case r.Method == http.MethodGet && r.URL.Path == "/v1/send/live":
		size, _ := strconv.Atoi(r.URL.Query().Get("pageSize"))
		page, _ := strconv.Atoi(r.URL.Query().Get("pageNumber"))
		if size != smsirPageSize || page < 1 {
			reply(400, smsirEnvelope(16))(w, r)
			return
		}
		f.mu.Lock()
		var rows []string
		for i := range f.filler {
			rows = append(rows, fmt.Sprintf(`{"messageId":%d,"mobile":9350000000,"messageText":"کد تایید شما: %06d","sendDateTime":1628683626,"lineNumber":30004505000017,"cost":1.0,"deliveryState":1,"deliveryDateTime":1628683629}`, i, i))
		}
		for i, text := range f.sent {
			rows = append(rows, fmt.Sprintf(`{"messageId":%d,"mobile":9121234567,"messageText":%q,"sendDateTime":1628683626,"lineNumber":30004505000017,"cost":1.0,"deliveryState":null,"deliveryDateTime":null}`, 90000+i, text))
		}
		f.mu.Unlock()
		lo, hi := min((page-1)*size, len(rows)), min(page*size, len(rows))
		reply(200, `{"status":1,"message":"موفق","data":[`+strings.Join(rows[lo:hi], ",")+`]}`)(w, r)
	default:
		reply(404, `{"status":0,"message":"not found","data":null}`)(w, r)
	}
}

func TestSMSIRReconcileAfterTimeout(t *testing.T) {
	t.Parallel()
	f := &smsirFake{hangSend: true, filler: 150}
	base, _ := fakeServer(t, func(*testing.T, *http.Request) {}, f.handle)
	s, logs := newTestSMSIR(t, base, 0)
	var _ Reconciler = s
	m := Message{To: testTo, Code: testCode, Ref: "ch_1"}
	_, err := s.Send(context.Background(), m)
	assertKind(t, err, Ambiguous, 0, "")
	sent, err := s.Lookup(context.Background(), m)
	if err != nil || !sent {
		t.Fatalf("Lookup = %v, %v; want true (the fake accepted the message)", sent, err)
	}
	other := Message{To: testTo, Code: "111111"}
	sent, err = s.Lookup(context.Background(), other)
	if err != nil || sent {
		t.Fatalf("Lookup(other code) = %v, %v; want false", sent, err)
	}
	assertClean(t, "log", logs.String())
}

func TestSMSIRLookup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		fake   *smsirFake
		pages  int
		sent   bool
		kind   Kind
		status int
	}{
		{"found on page 1", &smsirFake{sent: []string{"code " + testCode}}, 10, true, 0, 0},
		{"found on page 3", &smsirFake{filler: 250, sent: []string{"code " + testCode}}, 10, true, 0, 0},
		{"absent, empty day", &smsirFake{}, 10, false, 0, 0},
		{"absent, exactly one full page", &smsirFake{filler: 100}, 10, false, 0, 0},
		{"other code only", &smsirFake{sent: []string{"code 000000"}}, 10, false, 0, 0},
		{"beyond the pages it may read", &smsirFake{filler: 300, sent: []string{"code " + testCode}}, 2, false, Ambiguous, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base, _ := fakeServer(t, func(*testing.T, *http.Request) {}, tt.fake.handle)
			s, _ := newTestSMSIR(t, base, tt.pages)
			sent, err := s.Lookup(context.Background(), Message{To: testTo, Code: testCode})
			if tt.kind != 0 {
				assertKind(t, err, tt.kind, tt.status, "")
				return
			}
			if err != nil || sent != tt.sent {
				t.Fatalf("Lookup = %v, %v; want %v", sent, err, tt.sent)
			}
		})
	}
}

func TestSMSIRLookupFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		handle http.HandlerFunc
		kind   Kind
		status int
		code   string
	}{
		{"bad key", reply(401, smsirEnvelope(10)), Permanent, 401, "10"},
		{"server error", reply(500, smsirEnvelope(0)), Retryable, 500, "0"},
		{"malformed", reply(200, `{"status":1,"data":{"x":1}}`), Retryable, 200, "1"},
		{"timeout", hang, Retryable, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base, _ := fakeServer(t, func(t *testing.T, r *http.Request) {
				if r.Method != http.MethodGet || r.URL.Path != "/v1/send/live" || r.Header.Get("x-api-key") != testKey {
					t.Errorf("request %s %s", r.Method, r.URL.Path)
				}
			}, tt.handle)
			s, _ := newTestSMSIR(t, base, 0)
			_, err := s.Lookup(context.Background(), Message{To: testTo, Code: testCode})
			assertKind(t, err, tt.kind, tt.status, tt.code)
		})
	}
}

func TestSameMobile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw  string
		want bool
	}{
		{`9121234567`, true}, {`"09121234567"`, true}, {`989121234567`, true}, {`"+989121234567"`, true},
		{`"00989121234567"`, true}, {`9121234568`, false}, {`null`, false}, {`912123456`, false},
	}
	for _, tt := range tests {
		if got := sameMobile(json.RawMessage(tt.raw), "09121234567"); got != tt.want {
			t.Errorf("sameMobile(%s) = %v", tt.raw, got)
		}
	}
}

func TestNewSMSIRConfig(t *testing.T) {
	t.Parallel()
	for _, cfg := range []SMSIRConfig{{TemplateID: 1}, {APIKey: testKey}, {APIKey: testKey, TemplateID: -1},
		{APIKey: testKey, TemplateID: 1, BaseURL: "//no-scheme"}} {
		if _, err := NewSMSIR(cfg); !isConfigErr(err) {
			t.Errorf("NewSMSIR(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
}
