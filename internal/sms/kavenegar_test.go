package sms

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

const kavenegarOK = `{"return":{"status":200,"message":"تایید شد"},"entries":[{"messageid":8792343,"message":"کد شما 731904","status":5,"statusText":"ارسال به مخابرات","sender":"10004346","receptor":"09121234567","date":1356619709,"cost":120}]}`

// kavenegarEnvelope is Kavenegar's error envelope for code.
func kavenegarEnvelope(code int) string {
	return `{"return":{"status":` + strconv.Itoa(code) + `,"message":"خطا"},"entries":null}`
}

// checkKavenegar verifies the request has verify lookup's shape.
func checkKavenegar(t *testing.T, r *http.Request) {
	if r.Method != http.MethodPost {
		t.Errorf("method %s, want POST", r.Method)
	}
	if want := "/v1/" + testKey + "/verify/lookup.json"; r.URL.Path != want {
		t.Errorf("path %q, want %q", r.URL.Path, want)
	}
	if err := r.ParseForm(); err != nil {
		t.Errorf("form: %v", err)
	}
	for k, want := range map[string]string{"receptor": "09121234567", "token": testCode, "template": "atlas-otp"} {
		if got := r.PostForm.Get(k); got != want {
			t.Errorf("form %s = %q, want %q", k, got, want)
		}
	}
}

func newTestKavenegar(t *testing.T, base string) (*Kavenegar, *syncBuffer) {
	t.Helper()
	log, buf := captureLog()
	k, err := NewKavenegar(KavenegarConfig{APIKey: testKey, Template: "atlas-otp", BaseURL: base, HTTPClient: testClient(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	return k, buf
}

func TestKavenegarSend(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		handle http.HandlerFunc
		kind   Kind // 0: success
		status int
		code   string
	}{
		{"success", reply(200, kavenegarOK), 0, 0, ""},
		{"insufficient credit as HTTP status", reply(418, kavenegarEnvelope(418)), Permanent, 418, "418"},
		{"insufficient credit inside HTTP 200", reply(200, kavenegarEnvelope(418)), Permanent, 200, "418"},
		{"bad key", reply(403, kavenegarEnvelope(403)), Permanent, 403, "403"},
		{"invalid receptor", reply(411, kavenegarEnvelope(411)), Permanent, 411, "411"},
		{"template not found", reply(424, kavenegarEnvelope(424)), Permanent, 424, "424"},
		{"unknown 4xx code", reply(430, kavenegarEnvelope(430)), Permanent, 430, "430"},
		{"server busy 409", reply(409, kavenegarEnvelope(409)), Retryable, 409, "409"},
		{"bare 429", reply(429, "Too Many Requests"), Retryable, 429, ""},
		{"bare 500", reply(500, "<html>Internal Server Error</html>"), Ambiguous, 500, ""},
		{"bare 502", reply(502, "Bad Gateway"), Ambiguous, 502, ""},
		{"bare 503", reply(503, "Service Unavailable"), Retryable, 503, ""},
		{"malformed 200", reply(200, `{"return":`), Ambiguous, 200, ""},
		{"malformed 400", reply(400, `oops`), Permanent, 400, ""},
		{"timeout after accept", hang, Ambiguous, 0, ""},
		{"reset after accept", reset, Ambiguous, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base, n := fakeServer(t, checkKavenegar, tt.handle)
			k, logs := newTestKavenegar(t, base)
			rc, err := k.Send(context.Background(), Message{To: testTo, Code: testCode, Text: testText, Ref: "ch_1"})
			if n.get() != 1 {
				t.Errorf("server saw %d requests, want 1", n.get())
			}
			if tt.kind == 0 {
				if err != nil || rc != (Receipt{Provider: "kavenegar", MessageID: "8792343"}) {
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

func TestKavenegarClosedPort(t *testing.T) {
	t.Parallel()
	k, logs := newTestKavenegar(t, closedURL(t))
	_, err := k.Send(context.Background(), Message{To: testTo, Code: testCode})
	assertKind(t, err, Retryable, 0, "")
	assertClean(t, "log", logs.String())
}

func TestKavenegarRefusesBeforeSending(t *testing.T) {
	t.Parallel()
	base, n := fakeServer(t, checkKavenegar, reply(200, kavenegarOK))
	k, _ := newTestKavenegar(t, base)
	for _, m := range []Message{
		{To: "+14155552671", Code: testCode},
		{To: "+982112345678", Code: testCode},
		{To: testTo, Code: ""},
	} {
		_, err := k.Send(context.Background(), m)
		assertKind(t, err, Permanent, 0, "")
	}
	if n.get() != 0 {
		t.Errorf("server saw %d requests, want 0", n.get())
	}
}

func TestNewKavenegarConfig(t *testing.T) {
	t.Parallel()
	for _, cfg := range []KavenegarConfig{
		{Template: "t"},
		{APIKey: testKey},
		{APIKey: testKey, Template: "t", BaseURL: "ftp://x"},
		{APIKey: testKey, Template: "t", BaseURL: "not a url"},
	} {
		if _, err := NewKavenegar(cfg); !isConfigErr(err) {
			t.Errorf("NewKavenegar(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
}
