package sms

import (
	"strings"
	"testing"
)

// fuzzStatus maps any int onto an HTTP status code.
func fuzzStatus(n int) int {
	if n < 0 {
		n = -n
	}
	return 100 + n%500
}

// checkParsed asserts the properties every response parser shares: a nil
// error only for a 2xx, otherwise a well-formed *Error that leaks no secret.
func checkParsed(t *testing.T, provider string, status int, e *Error) {
	t.Helper()
	if e == nil {
		if !is2xx(status) {
			t.Fatalf("success for HTTP %d", status)
		}
		return
	}
	if e.Provider != provider || e.Kind < Retryable || e.Kind > Ambiguous || e.HTTPStatus != status {
		t.Fatalf("malformed error %+v", e)
	}
	if msg := e.Error(); strings.Contains(msg, testKey) || strings.Contains(msg, testToken) || strings.Contains(msg, testCode) {
		t.Fatalf("error leaks a secret: %s", msg)
	}
}

func FuzzParseKavenegar(f *testing.F) {
	f.Add(200, []byte(kavenegarOK))
	f.Add(418, []byte(`{"return":{"status":418,"message":"key `+testKey+` code `+testCode+`"},"entries":null}`))
	f.Fuzz(func(t *testing.T, n int, body []byte) {
		status := fuzzStatus(n)
		_, e := parseKavenegar(status, body, scrubber{testKey}.with(testCode))
		checkParsed(t, "kavenegar", status, e)
	})
}

func FuzzParseSMSIR(f *testing.F) {
	f.Add(200, []byte(smsirOK))
	f.Add(400, []byte(`{"status":102,"message":"`+testKey+`","data":null}`))
	f.Fuzz(func(t *testing.T, n int, body []byte) {
		status := fuzzStatus(n)
		sc := scrubber{testKey}.with(testCode)
		_, e := parseSMSIRSend(status, body, sc)
		checkParsed(t, "smsir", status, e)
		_, e = parseSMSIRLive(status, body, sc)
		checkParsed(t, "smsir", status, e)
		if e != nil && e.Kind == Ambiguous {
			t.Fatalf("a read classified Ambiguous: %v", e)
		}
	})
}

func FuzzParseTwilio(f *testing.F) {
	f.Add(201, []byte(`{"sid":"VE1","status":"pending"}`))
	f.Add(429, []byte(`{"code":60203,"message":"token `+testToken+`","status":429}`))
	f.Fuzz(func(t *testing.T, n int, body []byte) {
		status := fuzzStatus(n)
		sc := scrubber{testToken}.with(testCode)
		_, e := parseTwilioVerification(status, body, sc)
		checkParsed(t, "twilio-verify", status, e)
		if e != nil && e.Kind == Ambiguous {
			t.Fatalf("a Twilio send classified Ambiguous: %v", e)
		}
		ok, err := parseTwilioCheck(status, body, sc)
		if ok && (err != nil || !is2xx(status)) {
			t.Fatalf("approved with HTTP %d, %v", status, err)
		}
		if err != nil {
			checkParsed(t, "twilio-verify", status, err.(*Error))
		}
	})
}

// FuzzOpen checks that Open never panics and that its errors never
// repeat a setting's value.
func FuzzOpen(f *testing.F) {
	for _, s := range []string{"", "console", "file:/dev/null", "file:", "kavenegar", "smsir", "twilio-verify", "sms.ir"} {
		f.Add(s, "value")
	}
	f.Add("smsir", "12")
	f.Add("kavenegar", "http://127.0.0.1:1")
	f.Fuzz(func(t *testing.T, spec, value string) {
		secret := "zQ9-" + value + "-Xk7"
		p, err := Open(spec, func(string) string { return secret }, nil)
		if err == nil {
			if p == nil || p.Name() == "" {
				t.Fatalf("Open(%q) = %v without an error", spec, p)
			}
			return
		}
		if strings.Contains(err.Error(), secret) && !strings.Contains(spec, secret) {
			t.Fatalf("Open(%q) error repeats a setting: %v", spec, err)
		}
	})
}
