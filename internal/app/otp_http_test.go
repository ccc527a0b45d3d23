package app_test

import (
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/app"
	"github.com/sevra/atlas/internal/app/apptest"
	"github.com/sevra/atlas/internal/otp"
	"github.com/sevra/atlas/internal/ratelimit"
	"github.com/sevra/atlas/internal/store"
	"github.com/sevra/atlas/internal/store/storetest"
)

const otpAdminToken = "otp-admin-token"

// otpRig is the OTP login through app.New: the HTTP handler chain on a
// loopback server, SQLite, the SQLite queue with its workers and the file
// SMS provider.
type otpRig struct {
	url string
	st  *store.Store
	sms string // the file provider's path
}

func newOTPRig(t *testing.T, tune func(*app.Config)) *otpRig {
	t.Helper()
	sms := filepath.Join(t.TempDir(), "sms.jsonl")
	cfg := app.Config{DataDir: storetest.TempDataDir(t), HTTP: true, Workers: true, AdminToken: otpAdminToken,
		OTP: app.OTPConfig{Provider: "file:" + sms}}
	if tune != nil {
		tune(&cfg)
	}
	a := apptest.Start(t, cfg, nil, false)
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return &otpRig{url: srv.URL, st: a.Store(), sms: sms}
}

// post sends body to path with Content-Type ctype ("" for none) and
// Bearer token ("" for none).
func (r *otpRig) post(t *testing.T, path, ctype, body, token string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", r.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// request asks for a code for phone and returns the challenge id.
func (r *otpRig) request(t *testing.T, phone string) string {
	t.Helper()
	status, _, b := r.post(t, "/api/v1/auth/otp/request", "application/json", `{"phone":`+strconv.Quote(phone)+`}`, "")
	var out struct {
		ChallengeID string `json:"challenge_id"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if status != 202 || json.Unmarshal(b, &out) != nil || !challengeIDRE.MatchString(out.ChallengeID) || out.ExpiresIn != 300 {
		t.Fatalf("request %s = %d %s, want 202 with a challenge id and expires_in 300", phone, status, b)
	}
	return out.ChallengeID
}

// verify posts a code for challenge id.
func (r *otpRig) verify(t *testing.T, id, code string) (int, http.Header, []byte) {
	t.Helper()
	return r.post(t, "/api/v1/auth/otp/verify", "application/json",
		`{"challenge_id":`+strconv.Quote(id)+`,"code":`+strconv.Quote(code)+`}`, "")
}

var (
	challengeIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)
	codeRE        = regexp.MustCompile(`^[0-9]{6}$`)
)

// wantError checks an error answer: its status and exactly
// {"error":{"code":code,"message":…}} with a non-empty message.
func wantError(t *testing.T, what string, status int, body []byte, wantStatus int, wantCode string) {
	t.Helper()
	var e map[string]map[string]string
	err := json.Unmarshal(body, &e)
	if status != wantStatus || err != nil || len(e) != 1 || len(e["error"]) != 2 || e["error"]["code"] != wantCode || e["error"]["message"] == "" {
		t.Errorf("%s = %d %s, want %d {\"error\":{\"code\":%q,\"message\":…}}", what, status, body, wantStatus, wantCode)
	}
}

// wrongCode returns a 6-digit code other than code.
func wrongCode(code string) string {
	n, _ := strconv.Atoi(code)
	return strconv.Itoa(100000 + (n+1)%900000)
}

func TestOTPRequestAndVerifyRejectBadInput(t *testing.T) {
	t.Parallel()
	r := newOTPRig(t, func(c *app.Config) { c.OTP.Countries = []string{"1"} })
	const req, ver = "/api/v1/auth/otp/request", "/api/v1/auth/otp/verify"
	// A body of exactly 4 KiB is read; one byte more is refused.
	pad := func(n int) string {
		s := `{"phone":"09121234567"` // 22 bytes, then spaces, then }
		return s + strings.Repeat(" ", n-len(s)-1) + "}"
	}
	tests := []struct {
		name, path, ctype, body string
		status                  int
		code                    string // error code; "" for the 202
	}{
		{"invalid phone", req, "application/json", `{"phone":"12345"}`, 400, "invalid_phone"},
		{"landline", req, "application/json", `{"phone":"02112345678"}`, 400, "invalid_phone"},
		{"empty phone", req, "application/json", `{"phone":""}`, 400, "invalid_phone"},
		{"disallowed country", req, "application/json", `{"phone":"+44 20 7946 0958"}`, 400, "phone_country_not_allowed"},
		{"text/plain", req, "text/plain", `{"phone":"09121234567"}`, 415, "unsupported_media_type"},
		{"form", req, "application/x-www-form-urlencoded", `phone=09121234567`, 415, "unsupported_media_type"},
		{"verify text/plain", ver, "text/plain", `{"challenge_id":"x","code":"123456"}`, 415, "unsupported_media_type"},
		{"4097 bytes", req, "application/json", pad(4097), 413, "body_too_large"},
		{"verify 5000 bytes", ver, "application/json", `{"code":"` + strings.Repeat("1", 5000) + `"}`, 413, "body_too_large"},
		{"malformed", req, "application/json", `{"phone":`, 400, "invalid_json"},
		{"empty body", req, "application/json", ``, 400, "invalid_json"},
		{"array", req, "application/json", `["09121234567"]`, 400, "invalid_json"},
		{"wrong type", req, "application/json", `{"phone":9121234567}`, 400, "invalid_json"},
		{"unknown field", req, "application/json", `{"phone":"09121234567","name":"x"}`, 400, "invalid_json"},
		{"verify unknown field", ver, "application/json", `{"challenge_id":"x","code":"1","otp":"1"}`, 400, "invalid_json"},
		{"verify malformed", ver, "application/json", `{"challenge_id":`, 400, "invalid_json"},
		{"verify unknown challenge", ver, "application/json", `{"challenge_id":"0123456789abcdef0123456789abcdef","code":"123456"}`, 401, "invalid_code"},
		{"verify malformed challenge", ver, "application/json", `{"challenge_id":"nope","code":"123456"}`, 401, "invalid_code"},
		{"4096 bytes", req, "application/json; charset=utf-8", pad(4096), 202, ""},
	}
	for _, tc := range tests {
		status, hdr, body := r.post(t, tc.path, tc.ctype, tc.body, "")
		if tc.code == "" {
			if status != tc.status {
				t.Errorf("%s: %d %s, want %d", tc.name, status, body, tc.status)
			}
			continue
		}
		wantError(t, tc.name, status, body, tc.status, tc.code)
		if ct := hdr.Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", tc.name, ct)
		}
	}
	// None of the refused requests stored a challenge; the 4 KiB one did.
	var n int
	if err := r.st.DB().QueryRow("SELECT count(*) FROM otp_challenges").Scan(&n); err != nil || n != 1 {
		t.Errorf("otp_challenges rows = %d (%v), want 1", n, err)
	}
}

// TestOTPRequestTrailingData: a body is one JSON object; anything after it
// is malformed.
func TestOTPRequestTrailingData(t *testing.T) {
	t.Parallel()
	r := newOTPRig(t, nil)
	for _, body := range []string{`{"phone":"09121234567"} {"phone":"09121234568"}`, `{"phone":"09121234567"}x`} {
		status, _, b := r.post(t, "/api/v1/auth/otp/request", "application/json", body, "")
		wantError(t, "request "+body, status, b, 400, "invalid_json")
	}
}

// TestOTPVerifyAttempts: each challenge allows five attempts; wrong codes
// answer 401 invalid_code, the sixth attempt 429 too_many_attempts even
// with the right code, and the challenge stays dead.
func TestOTPVerifyAttempts(t *testing.T) {
	t.Parallel()
	r := newOTPRig(t, nil)
	id := r.request(t, "0912 345 6789")
	m := apptest.WaitSMS(t, r.sms, id, 30*time.Second)
	if m.To != "+989123456789" || !codeRE.MatchString(m.Code) || m.Provider != "file" {
		t.Fatalf("sms %+v", m)
	}
	bad := wrongCode(m.Code)
	for i := 1; i <= otp.MaxAttempts; i++ {
		status, _, b := r.verify(t, id, bad)
		wantError(t, "wrong code attempt "+strconv.Itoa(i), status, b, 401, "invalid_code")
	}
	status, _, b := r.verify(t, id, m.Code)
	wantError(t, "sixth attempt with the right code", status, b, 429, "too_many_attempts")
	status, _, b = r.verify(t, id, m.Code)
	wantError(t, "seventh attempt", status, b, 429, "too_many_attempts")
	var attempts, sessions int
	var consumed sql.NullTime
	if err := r.st.DB().QueryRow("SELECT attempts, consumed_at FROM otp_challenges WHERE id = ?", id).Scan(&attempts, &consumed); err != nil {
		t.Fatal(err)
	}
	r.st.DB().QueryRow("SELECT count(*) FROM sessions").Scan(&sessions)
	if attempts != 7 || consumed.Valid || sessions != 0 {
		t.Errorf("after 7 attempts: attempts %d, consumed %v, sessions %d; want 7, nil, 0", attempts, consumed, sessions)
	}
}

// TestOTPVerifySingleUse: a wrong code, then the right one (200), then the
// right one again (401: the challenge is used).
func TestOTPVerifySingleUse(t *testing.T) {
	t.Parallel()
	r := newOTPRig(t, nil)
	id := r.request(t, "09351112233")
	m := apptest.WaitSMS(t, r.sms, id, 30*time.Second)
	status, _, b := r.verify(t, id, wrongCode(m.Code))
	wantError(t, "wrong code", status, b, 401, "invalid_code")
	// Persian digits and spaces, as typed on a Persian keyboard.
	persian := strings.Map(func(c rune) rune { return c - '0' + '۰' }, m.Code[:3]) + " " + m.Code[3:]
	status, hdr, b := r.verify(t, id, persian)
	var login struct {
		Token     string `json:"token"`
		TokenType string `json:"token_type"`
		ExpiresAt string `json:"expires_at"`
		UserID    int64  `json:"user_id"`
	}
	if status != 200 || json.Unmarshal(b, &login) != nil || !strings.HasPrefix(login.Token, "ats_") || login.TokenType != "Bearer" {
		t.Fatalf("verify = %d %s", status, b)
	}
	if cc := hdr.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	var uid int64
	if err := r.st.DB().QueryRow("SELECT id FROM users WHERE phone = '+989351112233' AND role = 'user'").Scan(&uid); err != nil || uid != login.UserID {
		t.Errorf("user row %d (%v), want %d", uid, err, login.UserID)
	}
	status, _, b = r.verify(t, id, m.Code)
	wantError(t, "second use", status, b, 401, "invalid_code")
}

// TestOTPRateLimits: a second request for one number within a minute is
// 429 rate_limited with Retry-After in whole seconds; so is a verify over
// the per-address budget.
func TestOTPRateLimits(t *testing.T) {
	t.Parallel()
	r := newOTPRig(t, func(c *app.Config) {
		c.OTP.Limits = otp.Limits{Phone: []ratelimit.Rule{{Name: "phone-1", Limit: 1, Window: time.Minute}},
			IP: []ratelimit.Rule{}, Country: []ratelimit.Rule{},
			VerifyIP: []ratelimit.Rule{{Name: "verify-ip-1", Limit: 2, Window: 30 * time.Second}}}
	})
	wantLimited := func(what string, status int, hdr http.Header, b []byte, window int) {
		t.Helper()
		wantError(t, what, status, b, 429, "rate_limited")
		ra := hdr.Get("Retry-After")
		if n, err := strconv.Atoi(ra); err != nil || n < 1 || n > window {
			t.Errorf("%s: Retry-After %q, want whole seconds from 1 to %d", what, ra, window)
		}
	}
	r.request(t, "09121234567")
	status, hdr, b := r.post(t, "/api/v1/auth/otp/request", "application/json", `{"phone":"+98 912 123 4567"}`, "")
	wantLimited("second request for a number", status, hdr, b, 60)
	// Another number is not limited by the first one's rule.
	r.request(t, "09121234568")

	const unknown = "0123456789abcdef0123456789abcdef"
	for range 2 { // the budget: two attempts, each a 401
		status, _, b := r.verify(t, unknown, "123456")
		wantError(t, "verify within budget", status, b, 401, "invalid_code")
	}
	status, hdr, b = r.verify(t, unknown, "123456")
	wantLimited("third verify from one address", status, hdr, b, 30)
}

// TestLogoutAnswers: logout needs a session; the admin token is not one.
func TestLogoutAnswers(t *testing.T) {
	t.Parallel()
	r := newOTPRig(t, nil)
	const path = "/api/v1/auth/logout"
	status, hdr, b := r.post(t, path, "", "", "")
	wantError(t, "logout without a token", status, b, 401, "unauthorized")
	if hdr.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
	status, _, b = r.post(t, path, "", "", "ats_"+strings.Repeat("A", 43))
	wantError(t, "logout with an unknown session", status, b, 401, "unauthorized")
	status, _, b = r.post(t, path, "", "", otpAdminToken)
	wantError(t, "logout with the admin token", status, b, 400, "not_a_session")

	id := r.request(t, "09129876543")
	m := apptest.WaitSMS(t, r.sms, id, 30*time.Second)
	status, _, b = r.verify(t, id, m.Code)
	var login struct{ Token string }
	if status != 200 || json.Unmarshal(b, &login) != nil {
		t.Fatalf("verify = %d %s", status, b)
	}
	if status, _, b = r.post(t, path, "", "", login.Token); status != 204 || len(b) != 0 {
		t.Fatalf("logout = %d %q, want 204 and no body", status, b)
	}
	var revoked int
	r.st.DB().QueryRow("SELECT count(*) FROM sessions WHERE revoked_at IS NOT NULL").Scan(&revoked)
	if revoked != 1 {
		t.Errorf("%d revoked sessions, want 1", revoked)
	}
	status, _, b = r.post(t, path, "", "", login.Token)
	wantError(t, "second logout", status, b, 401, "unauthorized")
}
