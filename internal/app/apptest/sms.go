package apptest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"testing"
	"time"
)

// SMS is one message written by the file SMS provider
// (ATLAS_SMS_PROVIDER=file:PATH), one JSON line each.
type SMS struct {
	Time     time.Time `json:"time"`
	To       string    `json:"to"`
	Text     string    `json:"text"`
	Code     string    `json:"code"`
	Ref      string    `json:"ref"`
	Provider string    `json:"provider"`
}

// ReadSMS returns the complete lines of the file at path, oldest first;
// none when the file does not exist yet. A line that is not a message
// fails t.
func ReadSMS(t testing.TB, path string) []SMS {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatalf("read sms file: %v", err)
	}
	var out []SMS
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			break // a line being written
		}
		var m SMS
		dec := json.NewDecoder(bytes.NewReader(b[:i]))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("sms file line %q: %v", b[:i], err)
		}
		out = append(out, m)
		b = b[i+1:]
	}
	return out
}

// WaitSMS polls the file at path until a message whose Ref is ref (the
// challenge id) appears and returns it; t fails after timeout.
func WaitSMS(t testing.TB, path, ref string, timeout time.Duration) SMS {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, m := range ReadSMS(t, path) {
			if m.Ref == ref {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no SMS for challenge %s in %s within %s", ref, path, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
