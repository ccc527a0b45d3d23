package sms

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Secrets used by every test: none may appear in an error or a log line.
const (
	testKey   = "kv-SECRET-api-key-4f3c2b1a"
	testToken = "tw-SECRET-auth-token-9e8d7c"
	testCode  = "731904"
	testText  = "Your Atlas code is 731904"
	testTo    = "+989121234567"
	testMask  = "+98912***4567"
)

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// captureLog returns a debug-level JSON logger writing to the buffer.
func captureLog() (*slog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// assertClean fails when s contains a secret, the code, the text or the
// unmasked number.
func assertClean(t *testing.T, what, s string) {
	t.Helper()
	for _, secret := range []string{testKey, testToken, testCode, testText, testTo} {
		if strings.Contains(s, secret) {
			t.Errorf("%s contains %q: %s", what, secret, s)
		}
	}
}

// assertKind checks err is an *Error with the given classification.
func assertKind(t *testing.T, err error, kind Kind, status int, code string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
	if e.Kind != kind || e.HTTPStatus != status || e.ProviderCode != code {
		t.Errorf("got kind %s, HTTP %d, code %q (%v); want %s, HTTP %d, code %q",
			e.Kind, e.HTTPStatus, e.ProviderCode, err, kind, status, code)
	}
	assertClean(t, "error", err.Error())
}

// testClient is the client every HTTP provider test uses: its timeout is
// what a "hang" reply runs into.
func testClient() *http.Client { return &http.Client{Timeout: 1500 * time.Millisecond} }

// closedURL returns the URL of a port that refuses connections.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// reply writes a canned response.
func reply(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(body))
	}
}

// hang holds the response until the client gives up, after the request
// was read and recorded as accepted: the provider has the message, the
// client never learns it.
func hang(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(5 * time.Second):
	}
}

// reset closes the connection after reading the request, without a
// response.
func reset(w http.ResponseWriter, r *http.Request) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	conn.Close()
}

// fakeServer starts a server that runs check on every request (to verify
// the provider's request shape), counts it, and answers with handle.
func fakeServer(t *testing.T, check func(*testing.T, *http.Request), handle http.HandlerFunc) (string, *counter) {
	t.Helper()
	n := &counter{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		check(t, r)
		n.add()
		handle(w, r)
	}))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv.URL, n
}

// counter counts requests.
type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) add() {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
}

func (c *counter) get() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// isConfigErr reports whether err wraps ErrConfig and leaks no secret.
func isConfigErr(err error) bool {
	return errors.Is(err, ErrConfig) && !strings.Contains(err.Error(), testKey) && !strings.Contains(err.Error(), testToken)
}
