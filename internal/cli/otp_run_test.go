package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sevra/atlas/internal/app/apptest"
	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/store"
	"github.com/sevra/atlas/internal/store/storetest"
	"github.com/sevra/atlas/jobq"
)

// testRedis returns ATLAS_TEST_REDIS_URL and a key prefix of the test's
// own, whose keys are deleted when the test ends. Without the variable the
// test is skipped, or failed under ATLAS_TEST_REQUIRE_SERVICES=1.
func testRedis(t *testing.T) (url, prefix string) {
	t.Helper()
	url = os.Getenv("ATLAS_TEST_REDIS_URL")
	if url == "" {
		if os.Getenv("ATLAS_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("ATLAS_TEST_REDIS_URL is not set but ATLAS_TEST_REQUIRE_SERVICES=1")
		}
		t.Skip("Redis tests skipped: set ATLAS_TEST_REDIS_URL=redis://… to run them")
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("ATLAS_TEST_REDIS_URL: %v", err)
	}
	var b [6]byte
	rand.Read(b[:])
	prefix = "atlastest" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		c := redis.NewClient(opt)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+":*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Logf("delete Redis keys %s:*: %v", prefix, err)
		}
	})
	return url, prefix
}

// otpEnv is the environment of an OTP end-to-end test: a loopback port,
// its own data dir and the file SMS provider in the test's temp dir.
func otpEnv(t *testing.T) map[string]string {
	t.Helper()
	return map[string]string{"ATLAS_ADDR": "127.0.0.1:0", "ATLAS_DATA_DIR": storetest.TempDataDir(t),
		"ATLAS_SMS_PROVIDER": "file:" + filepath.Join(t.TempDir(), "sms.jsonl"), "ATLAS_LOG_LEVEL": "warn"}
}

// withServices points env at an isolated PostgreSQL schema and the test
// Redis under a prefix of the test's own.
func withServices(t *testing.T, env map[string]string) {
	t.Helper()
	url, prefix := testRedis(t)
	env["ATLAS_DATABASE_URL"] = storetest.IsolatedPostgresURL(t)
	env["ATLAS_REDIS_URL"], env["ATLAS_REDIS_PREFIX"], env["ATLAS_REDIS_ALLOW_UNSAFE"] = url, prefix, "true"
}

// stopCommand cancels a command started by startCommand and wants exit 0.
func stopCommand(t *testing.T, name string, cancel context.CancelFunc, done <-chan int) {
	t.Helper()
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("%s exited %d after cancel, want 0", name, code)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("%s did not stop within 30s of cancel", name)
	}
}

// TestRunOTPLogin logs in through `atlas run` on SQLite, and on
// PostgreSQL with the Redis queue backend and rate limiter.
func TestRunOTPLogin(t *testing.T) {
	t.Parallel()
	for _, services := range []bool{false, true} {
		name := map[bool]string{false: "sqlite", true: "postgres+redis"}[services]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := otpEnv(t)
			if services {
				withServices(t, env)
			}
			base, cancel, done := startRun(t, env)
			defer stopCommand(t, "run", cancel, done)
			testOTPLogin(t, base, env)
		})
	}
}

// TestServeAndWorkerOTPLogin logs in with `atlas serve` and `atlas worker`
// as two processes on their own data dirs, sharing PostgreSQL, Redis and
// ATLAS_AUTH_SECRET: serve stores the challenge and its job, the worker
// opens the sealed code and sends it.
func TestServeAndWorkerOTPLogin(t *testing.T) {
	t.Parallel()
	serveEnv := otpEnv(t)
	withServices(t, serveEnv)
	serveEnv["ATLAS_AUTH_SECRET"] = "otp-e2e-secret-0123456789abcdef0123456789abcdef"
	workerEnv := maps.Clone(serveEnv)
	workerEnv["ATLAS_DATA_DIR"] = storetest.TempDataDir(t)
	delete(workerEnv, "ATLAS_ADDR")

	base, cancel, done := startServer(t, "serve", serveEnv)
	defer stopCommand(t, "serve", cancel, done)
	// Without a worker the code waits in its job (notifications jobs carry
	// a priority, so the job is prioritized rather than waiting).
	id := requestCode(t, base, "0935 000 1122")
	time.Sleep(300 * time.Millisecond)
	if st := jobState(t, serveEnv, "otp-"+id); st != jobq.StatePrioritized {
		t.Fatalf("send-otp job before a worker runs: %s, want prioritized", st)
	}
	if msgs := apptest.ReadSMS(t, smsPath(serveEnv)); len(msgs) != 0 {
		t.Fatalf("%d SMS before a worker runs: %+v", len(msgs), msgs)
	}
	_, _, wcancel, wdone := startCommand(t, "worker", workerEnv)
	defer stopCommand(t, "worker", wcancel, wdone)
	if m := apptest.WaitSMS(t, smsPath(serveEnv), id, 30*time.Second); m.To != "+989350001122" || !codeRE.MatchString(m.Code) {
		t.Fatalf("sms from the worker: %+v", m)
	}
	testOTPLogin(t, base, serveEnv)
	if n := countSecrets(t, serveEnv); n != 0 {
		t.Errorf("%d generated secrets stored although ATLAS_AUTH_SECRET is set", n)
	}
}

// countSecrets counts the generated secrets stored in the database env
// points at.
func countSecrets(t *testing.T, env map[string]string) int {
	t.Helper()
	st, err := store.Open(context.Background(), env["ATLAS_DATABASE_URL"], env["ATLAS_DATA_DIR"])
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var n int
	if err := st.DB().QueryRow("SELECT count(*) FROM app_secrets").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestServeAndWorkerWithoutSharedSecret: serve and worker on their own
// data dirs, sharing PostgreSQL and Redis, without ATLAS_AUTH_SECRET: the
// secret generated on first start is stored in the shared database, so the
// worker opens the code the API node sealed and the login works.
func TestServeAndWorkerWithoutSharedSecret(t *testing.T) {
	t.Parallel()
	serveEnv := otpEnv(t)
	withServices(t, serveEnv)
	delete(serveEnv, "ATLAS_AUTH_SECRET")
	workerEnv := maps.Clone(serveEnv)
	workerEnv["ATLAS_DATA_DIR"] = storetest.TempDataDir(t)
	delete(workerEnv, "ATLAS_ADDR")
	base, cancel, done := startServer(t, "serve", serveEnv)
	defer stopCommand(t, "serve", cancel, done)
	_, _, wcancel, wdone := startCommand(t, "worker", workerEnv)
	defer stopCommand(t, "worker", wcancel, wdone)

	id := requestCode(t, base, "0912 345 6789")
	if m := apptest.WaitSMS(t, smsPath(serveEnv), id, 30*time.Second); m.To != "+989123456789" || !codeRE.MatchString(m.Code) {
		t.Fatalf("sms from the worker: %+v", m)
	}
	if n := countSecrets(t, serveEnv); n != 1 {
		t.Errorf("%d generated secrets stored, want 1 shared by both nodes", n)
	}
}

var (
	challengeIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)
	codeRE        = regexp.MustCompile(`^[0-9]{6}$`)
	sixDigitsRE   = regexp.MustCompile(`^[0-9]{6}$`)
)

func smsPath(env map[string]string) string {
	return strings.TrimPrefix(env["ATLAS_SMS_PROVIDER"], "file:")
}

// post sends a JSON body (when not empty) with a Bearer token (when not
// empty) and returns the status, headers and body.
func post(t *testing.T, url, body, token string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
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

// requestAnswer is POST /api/v1/auth/otp/request's answer, with every
// field of its body.
type requestAnswer struct {
	status int
	ctype  string
	keys   []string
	id     string
	ttl    float64
}

func requestCodeAnswer(t *testing.T, base, phone string) requestAnswer {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"phone": phone})
	status, hdr, body := post(t, base+"/api/v1/auth/otp/request", string(b), "")
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("request %s: %d %q is not JSON", phone, status, body)
	}
	a := requestAnswer{status: status, ctype: hdr.Get("Content-Type"), keys: slices.Sorted(maps.Keys(m))}
	a.id, _ = m["challenge_id"].(string)
	a.ttl, _ = m["expires_in"].(float64)
	return a
}

// requestCode asks for a code and returns the challenge id.
func requestCode(t *testing.T, base, phone string) string {
	t.Helper()
	a := requestCodeAnswer(t, base, phone)
	if a.status != 202 || !slices.Equal(a.keys, []string{"challenge_id", "expires_in"}) || !challengeIDRE.MatchString(a.id) || a.ttl != 300 {
		t.Fatalf("request %s = %+v, want 202 {challenge_id: 32 hex digits, expires_in: 300}", phone, a)
	}
	return a.id
}

// wantErrorCode checks an error answer's status and error code.
func wantErrorCode(t *testing.T, what string, status int, body []byte, wantStatus int, wantCode string) {
	t.Helper()
	var e struct{ Error struct{ Code string } }
	if status != wantStatus || json.Unmarshal(body, &e) != nil || e.Error.Code != wantCode {
		t.Errorf("%s = %d %s, want %d %s", what, status, body, wantStatus, wantCode)
	}
}

// openQueue opens the notifications queue of the deployment env
// describes.
func openQueue(t *testing.T, env map[string]string) *jobq.Queue {
	t.Helper()
	b, err := queues.OpenBackend(context.Background(), queues.BackendConfig{RedisURL: env["ATLAS_REDIS_URL"],
		RedisPrefix: env["ATLAS_REDIS_PREFIX"], AllowUnsafeRedis: true, DataDir: env["ATLAS_DATA_DIR"]})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return jobq.NewQueue(queues.QueueNotifications, b.Driver, nil)
}

func jobState(t *testing.T, env map[string]string, id string) jobq.State {
	t.Helper()
	ctx := context.Background()
	j, err := openQueue(t, env).GetJob(ctx, id)
	if err != nil {
		t.Fatalf("job %s: %v", id, err)
	}
	st, err := j.State(ctx)
	if err != nil {
		t.Fatalf("job %s state: %v", id, err)
	}
	return st
}

// waitCompleted polls until job id is completed and returns it.
func waitCompleted(t *testing.T, env map[string]string, id string) *jobq.Job {
	t.Helper()
	ctx := context.Background()
	q := openQueue(t, env)
	deadline := time.Now().Add(30 * time.Second)
	for {
		j, err := q.GetJob(ctx, id)
		if err == nil {
			st, err := j.State(ctx)
			if err == nil && st == jobq.StateCompleted {
				return j
			}
			if st == jobq.StateFailed {
				t.Fatalf("job %s failed: %s", id, j.FailedReason)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s not completed within 30s (%v)", id, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testOTPLogin is the login story through a running deployment at base:
// request a code for 0912 345 6789, read it from the SMS file, verify,
// review a salon once (201) and twice (409), log out (204) and find the
// token refused (401). The answer for a number with a user matches the
// one for a new number, and no job holds the code.
func testOTPLogin(t *testing.T, base string, env map[string]string) {
	ctx := context.Background()
	st, err := store.Open(ctx, env["ATLAS_DATABASE_URL"], env["ATLAS_DATA_DIR"])
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	storetest.AddCity(t, st, 1, "tehran", "Tehran")
	storetest.AddSalon(t, st, 1, 1, "salon-otp", "Salon OTP", 0, 0, storetest.Base)
	storetest.Exec(t, st, "INSERT INTO users (phone, role, created_at) VALUES ('+989121111111', 'user', ?)", storetest.Base)
	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := st.DB().QueryRowContext(ctx, st.Rebind(q), args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}

	id := requestCode(t, base, "0912 345 6789")
	sms := smsPath(env)
	m := apptest.WaitSMS(t, sms, id, 30*time.Second)
	if m.To != "+989123456789" || !codeRE.MatchString(m.Code) || m.Provider != "file" || !strings.Contains(m.Text, m.Code) {
		t.Fatalf("sms %+v, want a 6-digit code to +989123456789", m)
	}
	if n := count("SELECT count(*) FROM users WHERE phone = '+989123456789'"); n != 0 {
		t.Errorf("a code request created %d user(s); users are created at verify", n)
	}

	b, _ := json.Marshal(map[string]string{"challenge_id": id, "code": m.Code})
	status, hdr, body := post(t, base+"/api/v1/auth/otp/verify", string(b), "")
	var login struct {
		Token     string `json:"token"`
		TokenType string `json:"token_type"`
		ExpiresAt string `json:"expires_at"`
		UserID    int64  `json:"user_id"`
	}
	if status != 200 || json.Unmarshal(body, &login) != nil || !strings.HasPrefix(login.Token, "ats_") || len(login.Token) != 47 ||
		login.TokenType != "Bearer" || hdr.Get("Cache-Control") != "no-store" {
		t.Fatalf("verify = %d %s %v", status, body, hdr)
	}
	exp, err := time.Parse(time.RFC3339, login.ExpiresAt)
	if want := time.Now().Add(30 * 24 * time.Hour); err != nil || exp.Before(want.Add(-time.Minute)) || exp.After(want.Add(time.Minute)) {
		t.Errorf("expires_at %q, want about %s (ATLAS_SESSION_TTL default 720h)", login.ExpiresAt, want.UTC().Format(time.RFC3339))
	}
	if n := count("SELECT count(*) FROM users WHERE phone = '+989123456789' AND role = 'user' AND id = ?", login.UserID); n != 1 {
		t.Errorf("user %d with phone +989123456789: %d rows, want 1", login.UserID, n)
	}
	if n := count(`SELECT count(*) FROM otp_challenges WHERE id = ? AND phone = '+989123456789' AND attempts = 1
		AND consumed_at IS NOT NULL AND sent_at IS NOT NULL AND provider = 'file' AND last_error IS NULL`, id); n != 1 {
		t.Errorf("challenge %s is not stored as sent by file, verified once and consumed", id)
	}

	const review = `{"rating":4,"body":"OTP login review"}`
	status, _, body = post(t, base+"/api/v1/salons/salon-otp/reviews", review, login.Token)
	var rv struct {
		UserID  int64 `json:"user_id"`
		SalonID int64 `json:"salon_id"`
		Rating  int   `json:"rating"`
	}
	if status != 201 || json.Unmarshal(body, &rv) != nil || rv.UserID != login.UserID || rv.SalonID != 1 || rv.Rating != 4 {
		t.Fatalf("review with the session = %d %s", status, body)
	}
	status, _, body = post(t, base+"/api/v1/salons/salon-otp/reviews", `{"rating":2,"body":"again"}`, login.Token)
	wantErrorCode(t, "second review", status, body, 409, "already_reviewed")
	if n := count("SELECT count(*) FROM reviews WHERE salon_id = 1 AND user_id = ? AND rating = 4", login.UserID); n != 1 ||
		count("SELECT count(*) FROM reviews") != 1 {
		t.Errorf("reviews stored: want exactly the first one")
	}

	status, _, body = post(t, base+"/api/v1/auth/logout", "", login.Token)
	if status != 204 || len(body) != 0 {
		t.Fatalf("logout = %d %q, want 204", status, body)
	}
	if n := count("SELECT count(*) FROM sessions WHERE user_id = ? AND revoked_at IS NOT NULL", login.UserID); n != 1 {
		t.Errorf("%d revoked sessions of user %d, want 1", n, login.UserID)
	}
	status, _, body = post(t, base+"/api/v1/salons/salon-otp/reviews", `{"rating":3}`, login.Token)
	wantErrorCode(t, "review after logout", status, body, 401, "unauthorized")
	status, _, body = post(t, base+"/api/v1/auth/logout", "", login.Token)
	wantErrorCode(t, "logout after logout", status, body, 401, "unauthorized")

	// A second code for the number within a minute is refused by the
	// per-number limit (ATLAS_OTP_LIMIT_PHONE 1/1m,…), counted by the
	// in-process limiter or, with ATLAS_REDIS_URL, by Redis.
	status, hdr, body = post(t, base+"/api/v1/auth/otp/request", `{"phone":"+98 912 345 6789"}`, "")
	wantErrorCode(t, "second request for the number", status, body, 429, "rate_limited")
	if ra, err := strconv.Atoi(hdr.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
		t.Errorf("Retry-After %q, want whole seconds from 1 to 60", hdr.Get("Retry-After"))
	}

	// A number with a user and a new one get the same answer, and both get
	// a code.
	known, fresh := requestCodeAnswer(t, base, "09121111111"), requestCodeAnswer(t, base, "09357654321")
	for _, a := range []requestAnswer{known, fresh} {
		if a.status != 202 || !slices.Equal(a.keys, []string{"challenge_id", "expires_in"}) || !challengeIDRE.MatchString(a.id) ||
			a.ttl != 300 || a.ctype != "application/json; charset=utf-8" {
			t.Errorf("request answer %+v, want 202 {challenge_id, expires_in: 300} as JSON", a)
		}
	}
	if known.status != fresh.status || known.ctype != fresh.ctype || !slices.Equal(known.keys, fresh.keys) || known.ttl != fresh.ttl {
		t.Errorf("answers differ: known number %+v, new number %+v", known, fresh)
	}
	apptest.WaitSMS(t, sms, known.id, 30*time.Second)
	apptest.WaitSMS(t, sms, fresh.id, 30*time.Second)
	if n := count("SELECT count(*) FROM users WHERE phone = '+989357654321'"); n != 0 {
		t.Errorf("a code request for a new number created %d user(s)", n)
	}

	// The send-otp jobs hold the challenge id, never the code or the
	// number.
	for _, c := range []struct{ id, code string }{{id, m.Code}, {known.id, ""}, {fresh.id, ""}} {
		j := waitCompleted(t, env, "otp-"+c.id)
		if c.code == "" {
			c.code = apptest.WaitSMS(t, sms, c.id, time.Second).Code
		}
		var data map[string]any
		if err := json.Unmarshal(j.Data, &data); err != nil {
			t.Fatalf("job %s data %s: %v", j.ID, j.Data, err)
		}
		keys := slices.Sorted(maps.Keys(data))
		keys = slices.DeleteFunc(keys, func(k string) bool { return k == "trace" }) // present when the request was traced
		if !slices.Equal(keys, []string{"challengeId", "eventId", "mode"}) || data["challengeId"] != c.id || data["mode"] != "async" || j.Name != "send-otp" {
			t.Errorf("job %s: name %s, data %s; want send-otp {challengeId: %s, eventId, mode: async}", j.ID, j.Name, j.Data, c.id)
		}
		for k, v := range data {
			if s, _ := v.(string); sixDigitsRE.MatchString(s) {
				t.Errorf("job %s data field %s is a 6-digit code: %s", j.ID, k, j.Data)
			}
		}
		for _, leak := range []string{`"` + c.code + `"`, "9123456789", "9121111111", "9357654321"} {
			if bytes.Contains(j.Data, []byte(leak)) || bytes.Contains(j.ReturnValue, []byte(leak)) {
				t.Errorf("job %s holds %s: data %s, return value %s", j.ID, leak, j.Data, j.ReturnValue)
			}
		}
	}
	var out, errb strings.Builder
	if code := Run(ctx, []string{"queue", "jobs", "notifications", "--state", "completed"}, mapEnv(env), &out, &errb); code != 0 {
		t.Fatalf("atlas queue jobs = %d: %s", code, errb.String())
	}
	for _, c := range []string{id, known.id, fresh.id} {
		if !regexp.MustCompile(`(?m)^otp-` + c + ` +send-otp +completed +1 `).MatchString(out.String()) {
			t.Errorf("atlas queue jobs notifications --state completed lacks otp-%s as a completed send-otp, 1 attempt:\n%s", c, out.String())
		}
	}
}
