package cli

import (
	"fmt"
	"time"

	"github.com/sevra/atlas/internal/httpapi"
	"github.com/sevra/atlas/internal/otp"
	"github.com/sevra/atlas/internal/phone"
	"github.com/sevra/atlas/internal/ratelimit"
)

// otpSettings are the OTP login's settings (run, serve, worker).
func (c *Config) otpSettings() []setting {
	o := &c.OTP
	rules := func(p *[]ratelimit.Rule, flag, env, name, def, usage string) setting {
		return setting{flag: flag, env: env, def: def, usage: usage,
			set: func(v string) (err error) { *p, err = otp.ParseRules(name, v); return err }}
	}
	return []setting{
		stringSetting(&o.Provider, "sms-provider", "ATLAS_SMS_PROVIDER", "console",
			"SMS provider for login codes: console (logs a masked number, never the code), file:PATH (JSON lines, development only), kavenegar, smsir or twilio-verify (credentials from their variables, see docs/OPERATIONS.md)"),
		{flag: "auth-secret", env: "ATLAS_AUTH_SECRET", def: "",
			usage: "secret (32+ characters) keying login code hashes and sealed codes; every node must share it; empty uses one generated on first start and stored in the database",
			set: func(v string) error {
				if v != "" && len(v) < otp.MinSecretLen {
					return fmt.Errorf("ATLAS_AUTH_SECRET must be at least %d characters", otp.MinSecretLen)
				}
				o.Secret = []byte(v)
				return nil
			}},
		{flag: "otp-ttl", env: "ATLAS_OTP_TTL", def: "5m", usage: "lifetime of a login code, 2m to 10m",
			set: func(v string) error {
				d, err := time.ParseDuration(v)
				if err != nil || d < 2*time.Minute || d > 10*time.Minute {
					return fmt.Errorf("%q: want a duration from 2m to 10m", v)
				}
				o.TTL = d
				return nil
			}},
		{flag: "otp-countries", env: "ATLAS_OTP_COUNTRIES", def: "",
			usage: "calling codes allowed besides Iran (98), e.g. 1,44,971; numbers elsewhere get 400 phone_country_not_allowed",
			set:   func(v string) (err error) { o.Countries, err = phone.ParseAllowList(v); return err }},
		rules(&o.Limits.Phone, "otp-limit-phone", "ATLAS_OTP_LIMIT_PHONE", "phone", otp.DefaultPhoneRules,
			"code requests per phone number, as N/DURATION rules (or off)"),
		rules(&o.Limits.IP, "otp-limit-ip", "ATLAS_OTP_LIMIT_IP", "ip", otp.DefaultIPRules,
			"code requests per client address"),
		rules(&o.Limits.Home, "otp-limit-home", "ATLAS_OTP_LIMIT_HOME", "home", otp.DefaultHomeRules,
			"code requests to Iranian numbers, all together (a ceiling against abuse)"),
		rules(&o.Limits.Country, "otp-limit-country", "ATLAS_OTP_LIMIT_COUNTRY", "country", otp.DefaultCountryRules,
			"code requests per other allowed country calling code, all its numbers together (against SMS pumping)"),
		rules(&o.Limits.VerifyIP, "otp-limit-verify-ip", "ATLAS_OTP_LIMIT_VERIFY_IP", "verify-ip", otp.DefaultVerifyIPRules,
			"verify attempts per client address (each challenge also allows at most 5)"),
		{flag: "trusted-proxies", env: "ATLAS_TRUSTED_PROXIES", def: "",
			usage: "addresses or CIDR prefixes of the load balancers in front of Atlas, whose X-Forwarded-For names the client for rate limits (empty: the TCP peer is the client)",
			set:   func(v string) (err error) { o.TrustedProxies, err = httpapi.ParseTrustedProxies(v); return err }},
		durationSetting(&o.SessionTTL, "session-ttl", "ATLAS_SESSION_TTL", 30*24*time.Hour,
			"lifetime of a user session (the Bearer token from POST /api/v1/auth/otp/verify)"),
	}
}
