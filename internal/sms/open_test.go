package sms

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// env is a getenv backed by a map.
func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestOpen(t *testing.T) {
	t.Parallel()
	full := map[string]string{
		EnvKavenegarAPIKey: testKey, EnvKavenegarTemplate: "atlas-otp",
		EnvSMSIRAPIKey: testKey, EnvSMSIRTemplateID: "123",
		EnvTwilioAccountSID: twilioAccount, EnvTwilioAuthToken: testToken, EnvTwilioServiceSID: twilioService,
	}
	tests := []struct {
		spec     string
		env      map[string]string
		wantType string
		wantErr  error
		mentions []string
	}{
		{"", nil, "*sms.Console", nil, nil},
		{"console", nil, "*sms.Console", nil, nil},
		{"  console ", nil, "*sms.Console", nil, nil},
		{"file:/tmp/atlas-sms.jsonl", nil, "*sms.File", nil, nil},
		{"file:", nil, "", ErrConfig, []string{"file:PATH"}},
		{"kavenegar", full, "*sms.Kavenegar", nil, nil},
		{"kavenegar", nil, "", ErrConfig, []string{EnvKavenegarAPIKey, EnvKavenegarTemplate}},
		{"kavenegar", map[string]string{EnvKavenegarAPIKey: testKey}, "", ErrConfig, []string{EnvKavenegarTemplate}},
		{"smsir", full, "*sms.SMSIR", nil, nil},
		{"smsir", map[string]string{EnvSMSIRTemplateID: "123"}, "", ErrConfig, []string{EnvSMSIRAPIKey}},
		{"smsir", map[string]string{EnvSMSIRAPIKey: testKey, EnvSMSIRTemplateID: "12x"}, "", ErrConfig, []string{EnvSMSIRTemplateID}},
		{"smsir", map[string]string{EnvSMSIRAPIKey: testKey, EnvSMSIRTemplateID: "0"}, "", ErrConfig, []string{EnvSMSIRTemplateID}},
		{"twilio-verify", full, "*sms.TwilioVerify", nil, nil},
		{"twilio-verify", map[string]string{EnvTwilioAccountSID: twilioAccount}, "", ErrConfig,
			[]string{EnvTwilioAuthToken, EnvTwilioServiceSID}},
		{"kavenegar", map[string]string{EnvKavenegarAPIKey: testKey, EnvKavenegarTemplate: "t", EnvBaseURL: "localhost:8080"},
			"", ErrConfig, []string{"base URL"}},
		{"twilio", nil, "", ErrUnknownProvider, []string{`"twilio"`, "console", "file:PATH", "kavenegar", "smsir", "twilio-verify"}},
		{"Kavenegar", full, "", ErrUnknownProvider, nil},
		{"FILE:/tmp/x", nil, "", ErrUnknownProvider, nil},
	}
	for _, tt := range tests {
		p, err := Open(tt.spec, env(tt.env), nil)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Open(%q) = %v, %v; want %v", tt.spec, p, err, tt.wantErr)
				continue
			}
			for _, m := range tt.mentions {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("Open(%q) error %q does not mention %s", tt.spec, err, m)
				}
			}
			assertClean(t, "Open error", err.Error())
			continue
		}
		if err != nil || reflect.TypeOf(p).String() != tt.wantType {
			t.Errorf("Open(%q) = %T, %v; want %s", tt.spec, p, err, tt.wantType)
		}
	}
}

func TestOpenDefaults(t *testing.T) {
	t.Parallel()
	p, err := Open("smsir", env(map[string]string{EnvSMSIRAPIKey: testKey, EnvSMSIRTemplateID: " 77 "}), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := p.(*SMSIR)
	if s.cfg.Parameter != "CODE" || s.cfg.TemplateID != 77 || s.base != "https://api.sms.ir" || s.cfg.LookupPages != 10 {
		t.Errorf("smsir defaults: %+v, base %s", s.cfg, s.base)
	}
	if s.hc.Timeout != DefaultTimeout {
		t.Errorf("client timeout %v", s.hc.Timeout)
	}
	p, _ = Open("kavenegar", env(map[string]string{EnvKavenegarAPIKey: testKey, EnvKavenegarTemplate: "t"}), nil)
	if k := p.(*Kavenegar); k.base != "https://api.kavenegar.com" {
		t.Errorf("kavenegar base %s", k.base)
	}
	p, _ = Open("twilio-verify", env(map[string]string{EnvTwilioAccountSID: "a", EnvTwilioAuthToken: "b", EnvTwilioServiceSID: "c"}), nil)
	if tv := p.(*TwilioVerify); tv.base != "https://verify.twilio.com" {
		t.Errorf("twilio base %s", tv.base)
	}
}

// TestOpenBaseURL sends through a provider built by Open and pointed at a
// fake with ATLAS_SMS_BASE_URL.
func TestOpenBaseURL(t *testing.T) {
	t.Parallel()
	base, n := fakeServer(t, checkKavenegar, reply(200, kavenegarOK))
	log, logs := captureLog()
	p, err := Open("kavenegar", env(map[string]string{
		EnvKavenegarAPIKey: testKey, EnvKavenegarTemplate: "atlas-otp", EnvBaseURL: base + "/",
	}), log)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := p.Send(context.Background(), Message{To: testTo, Code: testCode, Ref: "ch_1"})
	if err != nil || rc.MessageID != "8792343" || n.get() != 1 {
		t.Fatalf("Send = %+v, %v after %d requests", rc, err, n.get())
	}
	assertClean(t, "log", logs.String())
}
