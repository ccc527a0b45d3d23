package sms

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

const (
	twilioAccount = "AC0123456789abcdef0123456789abcdef"
	twilioService = "VA0123456789abcdef0123456789abcdef"
	twilioSID     = "VEabcdef0123456789abcdef0123456789"
)

const twilioPending = `{"sid":"` + twilioSID + `","service_sid":"` + twilioService + `","account_sid":"` + twilioAccount +
	`","to":"+989121234567","channel":"sms","status":"pending","valid":false,"date_created":"2025-01-02T03:04:05Z","lookup":{"carrier":null},"send_code_attempts":[{"time":"2025-01-02T03:04:05Z","channel":"SMS","attempt_sid":"VLabc"}]}`

// twilioErr is Twilio's error body for code.
func twilioErr(code, status int, msg string) string {
	return `{"code":` + strconv.Itoa(code) + `,"message":"` + msg + `","more_info":"https://www.twilio.com/docs/errors/` + strconv.Itoa(code) + `","status":` + strconv.Itoa(status) + `}`
}

// checkTwilio verifies auth and form for path (Verifications or
// VerificationCheck).
func checkTwilio(path string, form map[string]string) func(*testing.T, *http.Request) {
	return func(t *testing.T, r *http.Request) {
		if want := "/v2/Services/" + twilioService + "/" + path; r.Method != http.MethodPost || r.URL.Path != want {
			t.Errorf("request %s %s, want POST %s", r.Method, r.URL.Path, want)
		}
		if user, pass, ok := r.BasicAuth(); !ok || user != twilioAccount || pass != testToken {
			t.Errorf("basic auth %q, %v", user, ok)
		}
		if err := r.ParseForm(); err != nil {
			t.Errorf("form: %v", err)
		}
		for k, want := range form {
			if got := r.PostForm.Get(k); got != want {
				t.Errorf("form %s = %q, want %q", k, got, want)
			}
		}
		if len(r.PostForm) != len(form) {
			t.Errorf("form has %d fields, want %d: %v", len(r.PostForm), len(form), r.PostForm)
		}
	}
}

func newTestTwilio(t *testing.T, base string) (*TwilioVerify, *syncBuffer) {
	t.Helper()
	log, buf := captureLog()
	tv, err := NewTwilioVerify(TwilioConfig{AccountSID: twilioAccount, AuthToken: testToken, ServiceSID: twilioService,
		BaseURL: base, HTTPClient: testClient(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	return tv, buf
}

func TestTwilioSend(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		handle http.HandlerFunc
		kind   Kind
		status int
		code   string
	}{
		{"created", reply(201, twilioPending), 0, 0, ""},
		{"too many requests", reply(429, twilioErr(20429, 429, "Too Many Requests")), Retryable, 429, "20429"},
		{"concurrent for the number", reply(429, twilioErr(60212, 429, "Too many concurrent requests for phone number")), Retryable, 429, "60212"},
		{"max send attempts", reply(429, twilioErr(60203, 429, "Max send attempts reached")), Permanent, 429, "60203"},
		{"invalid parameter", reply(400, twilioErr(60200, 400, "Invalid parameter `To`")), Permanent, 400, "60200"},
		{"landline", reply(400, twilioErr(60205, 400, "SMS is not supported by landline phone number")), Permanent, 400, "60205"},
		{"bad credentials", reply(401, twilioErr(20003, 401, "Authenticate")), Permanent, 401, "20003"},
		{"unknown 4xx code", reply(403, twilioErr(99999, 403, "Forbidden")), Permanent, 403, "99999"},
		{"server error", reply(500, twilioErr(20500, 500, "Internal Server Error")), Retryable, 500, "20500"},
		{"bare 503", reply(503, `Service Unavailable`), Retryable, 503, ""},
		{"malformed 201", reply(201, `{"sid":`), Retryable, 201, ""},
		// A re-send within a pending verification re-sends the same code,
		// so what is Ambiguous for the other providers is Retryable here.
		{"timeout after accept", hang, Retryable, 0, ""},
		{"reset after accept", reset, Retryable, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base, n := fakeServer(t, checkTwilio("Verifications", map[string]string{"To": testTo, "Channel": "sms"}), tt.handle)
			tv, logs := newTestTwilio(t, base)
			rc, err := tv.Send(context.Background(), Message{To: testTo, Code: testCode, Text: testText, Ref: "ch_1"})
			if n.get() != 1 {
				t.Errorf("server saw %d requests, want 1", n.get())
			}
			if tt.kind == 0 {
				if err != nil || rc != (Receipt{Provider: "twilio-verify", MessageID: twilioSID}) {
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

func TestTwilioSendClosedPort(t *testing.T) {
	t.Parallel()
	tv, _ := newTestTwilio(t, closedURL(t))
	_, err := tv.Send(context.Background(), Message{To: testTo})
	assertKind(t, err, Retryable, 0, "")
}

func TestTwilioCheck(t *testing.T) {
	t.Parallel()
	approved := strings.Replace(twilioPending, `"status":"pending","valid":false`, `"status":"approved","valid":true`, 1)
	tests := []struct {
		name   string
		handle http.HandlerFunc
		want   bool
		kind   Kind
		status int
		code   string
	}{
		{"approved", reply(200, approved), true, 0, 0, ""},
		{"wrong code", reply(200, twilioPending), false, 0, 0, ""},
		{"no pending verification", reply(404, twilioErr(20404, 404, "The requested resource was not found")), false, 0, 0, ""},
		{"max check attempts", reply(429, twilioErr(60202, 429, "Max check attempts reached")), false, Permanent, 429, "60202"},
		{"bad credentials", reply(401, twilioErr(20003, 401, "Authenticate")), false, Permanent, 401, "20003"},
		{"server error", reply(500, `oops`), false, Retryable, 500, ""},
		{"malformed 200", reply(200, `[]`), false, Ambiguous, 200, ""},
		{"timeout after the check was sent", hang, false, Ambiguous, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base, _ := fakeServer(t, checkTwilio("VerificationCheck", map[string]string{"To": testTo, "Code": testCode}), tt.handle)
			tv, logs := newTestTwilio(t, base)
			var v Verifier = tv
			ok, err := v.Check(context.Background(), testTo, testCode)
			if ok != tt.want {
				t.Errorf("Check = %v, want %v", ok, tt.want)
			}
			if tt.kind == 0 {
				if err != nil {
					t.Fatalf("Check error %v", err)
				}
				return
			}
			assertKind(t, err, tt.kind, tt.status, tt.code)
			assertClean(t, "log", logs.String())
		})
	}
}

func TestNewTwilioVerifyConfig(t *testing.T) {
	t.Parallel()
	for _, cfg := range []TwilioConfig{
		{AuthToken: testToken, ServiceSID: twilioService},
		{AccountSID: twilioAccount, ServiceSID: twilioService},
		{AccountSID: twilioAccount, AuthToken: testToken},
		{AccountSID: twilioAccount, AuthToken: testToken, ServiceSID: twilioService, BaseURL: "mailto:x@y"},
	} {
		if _, err := NewTwilioVerify(cfg); !isConfigErr(err) {
			t.Errorf("NewTwilioVerify = %v, want ErrConfig", err)
		}
	}
}
