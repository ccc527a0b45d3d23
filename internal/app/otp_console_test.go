package app_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/app"
)

// lockedBuffer is a goroutine-safe log sink.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestOTPConsoleProvider: with the default console provider a request is
// answered, the send-otp job "sends" by logging the masked number, and no
// log line holds the code or the whole number.
func TestOTPConsoleProvider(t *testing.T) {
	t.Parallel()
	logs := &lockedBuffer{}
	r := newOTPRig(t, func(c *app.Config) {
		c.OTP.Provider = "" // the default: console
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	id := r.request(t, "0912 765 4321")
	deadline := time.Now().Add(20 * time.Second)
	for {
		var sent int
		if err := r.st.DB().QueryRow(r.st.Rebind("SELECT count(*) FROM otp_challenges WHERE id = ? AND sent_at IS NOT NULL"), id).Scan(&sent); err != nil {
			t.Fatal(err)
		}
		if sent == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the console provider never sent challenge %s\n%s", id, logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	out := logs.String()
	if !strings.Contains(out, "+98912***4321") {
		t.Fatalf("no log line names the masked number +98912***4321:\n%s", out)
	}
	if strings.Contains(out, "+989127654321") || strings.Contains(out, "9127654321") {
		t.Fatalf("the whole number is logged:\n%s", out)
	}
	// The code exists only sealed; the provider's log lines must not hold
	// a 6-digit number once the challenge id and the masked number are
	// taken out.
	var box []byte
	if err := r.st.DB().QueryRow(r.st.Rebind("SELECT code_box FROM otp_challenges WHERE id = ?"), id).Scan(&box); err != nil || len(box) == 0 {
		t.Fatalf("no sealed code: %v", err)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "console") || strings.Contains(line, "code sent") {
			stripped := strings.NewReplacer(id, "", "+98912***4321", "").Replace(line)
			if i := strings.Index(stripped, "msg="); i >= 0 && sixDigits(stripped[i:]) {
				t.Errorf("a provider log line holds a 6-digit number: %q", line)
			}
		}
	}
}

// sixDigits reports a run of exactly six digits outside time stamps.
func sixDigits(s string) bool {
	run := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] >= '0' && s[i] <= '9' {
			run++
			continue
		}
		if run == 6 {
			return true
		}
		run = 0
	}
	return false
}
