package sms

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// Environment variables read by Open.
const (
	// EnvBaseURL, when set, replaces the API root of the HTTP providers
	// (to point them at a fake).
	EnvBaseURL = "ATLAS_SMS_BASE_URL"
	// EnvKavenegarAPIKey is Kavenegar's API key.
	EnvKavenegarAPIKey = "ATLAS_KAVENEGAR_API_KEY"
	// EnvKavenegarTemplate is Kavenegar's verify template name.
	EnvKavenegarTemplate = "ATLAS_KAVENEGAR_TEMPLATE"
	// EnvSMSIRAPIKey is SMS.ir's API key.
	EnvSMSIRAPIKey = "ATLAS_SMSIR_API_KEY"
	// EnvSMSIRTemplateID is SMS.ir's numeric verify template id.
	EnvSMSIRTemplateID = "ATLAS_SMSIR_TEMPLATE_ID"
	// EnvSMSIRParameter is SMS.ir's template parameter name (default CODE).
	EnvSMSIRParameter = "ATLAS_SMSIR_PARAMETER"
	// EnvTwilioAccountSID is the Twilio account SID.
	EnvTwilioAccountSID = "TWILIO_ACCOUNT_SID"
	// EnvTwilioAuthToken is the Twilio auth token.
	EnvTwilioAuthToken = "TWILIO_AUTH_TOKEN"
	// EnvTwilioServiceSID is the Twilio Verify service SID.
	EnvTwilioServiceSID = "TWILIO_VERIFY_SERVICE_SID"
)

// choices lists the specs Open understands, for error messages.
const choices = `console (the default), file:PATH, kavenegar, smsir, twilio-verify`

// Open returns the provider named by spec, the value of
// ATLAS_SMS_PROVIDER:
//
//	"", "console"   Console, logging to log
//	"file:PATH"     File appending to PATH
//	"kavenegar"     Kavenegar: ATLAS_KAVENEGAR_API_KEY, ATLAS_KAVENEGAR_TEMPLATE
//	"smsir"         SMSIR: ATLAS_SMSIR_API_KEY, ATLAS_SMSIR_TEMPLATE_ID,
//	                ATLAS_SMSIR_PARAMETER (default CODE)
//	"twilio-verify" TwilioVerify: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN,
//	                TWILIO_VERIFY_SERVICE_SID
//
// The HTTP providers also read ATLAS_SMS_BASE_URL, which replaces their
// API root when set, and log to log. Settings come from getenv (nil means
// nothing is set). An unknown spec is an error wrapping ErrUnknownProvider
// that lists the choices; missing or malformed settings are an error
// wrapping ErrConfig that names the variables (never their values).
func Open(spec string, getenv func(string) string, log *slog.Logger) (Provider, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	env := func(name string) string { return strings.TrimSpace(getenv(name)) }
	spec = strings.TrimSpace(spec)
	switch {
	case spec == "" || spec == "console":
		return NewConsole(log), nil
	case strings.HasPrefix(spec, "file:"):
		return NewFile(strings.TrimPrefix(spec, "file:"))
	case spec == "kavenegar":
		if err := require(spec, env, EnvKavenegarAPIKey, EnvKavenegarTemplate); err != nil {
			return nil, err
		}
		return NewKavenegar(KavenegarConfig{APIKey: env(EnvKavenegarAPIKey), Template: env(EnvKavenegarTemplate),
			BaseURL: env(EnvBaseURL), Logger: log})
	case spec == "smsir":
		if err := require(spec, env, EnvSMSIRAPIKey, EnvSMSIRTemplateID); err != nil {
			return nil, err
		}
		id, err := strconv.Atoi(env(EnvSMSIRTemplateID))
		if err != nil || id <= 0 {
			return nil, fmt.Errorf("%w: %s must be a positive integer", ErrConfig, EnvSMSIRTemplateID)
		}
		return NewSMSIR(SMSIRConfig{APIKey: env(EnvSMSIRAPIKey), TemplateID: id, Parameter: env(EnvSMSIRParameter),
			BaseURL: env(EnvBaseURL), Logger: log})
	case spec == "twilio-verify":
		if err := require(spec, env, EnvTwilioAccountSID, EnvTwilioAuthToken, EnvTwilioServiceSID); err != nil {
			return nil, err
		}
		return NewTwilioVerify(TwilioConfig{AccountSID: env(EnvTwilioAccountSID), AuthToken: env(EnvTwilioAuthToken),
			ServiceSID: env(EnvTwilioServiceSID), BaseURL: env(EnvBaseURL), Logger: log})
	}
	shown := spec
	if len(shown) > 40 {
		shown = shown[:40] + "…"
	}
	return nil, fmt.Errorf("%w %q: choose one of %s", ErrUnknownProvider, shown, choices)
}

// require returns an error naming every variable in names that is unset.
func require(spec string, env func(string) string, names ...string) error {
	var missing []string
	for _, n := range names {
		if env(n) == "" {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("%w: ATLAS_SMS_PROVIDER=%s needs %s", ErrConfig, spec, strings.Join(missing, ", "))
}
