package sms

import (
	"context"
	"strings"
	"testing"
)

func TestConsole(t *testing.T) {
	t.Parallel()
	log, buf := captureLog()
	c := NewConsole(log)
	rc, err := c.Send(context.Background(), Message{To: testTo, Code: testCode, Text: testText, Ref: "ch_1"})
	if err != nil || rc != (Receipt{Provider: "console", MessageID: "ch_1"}) {
		t.Fatalf("Send = %+v, %v", rc, err)
	}
	out := buf.String()
	for _, want := range []string{`"to":"` + testMask + `"`, `"ref":"ch_1"`, `"provider":"console"`, `"level":"INFO"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s: %s", want, out)
		}
	}
	assertClean(t, "log", out)
	if NewConsole(nil).Name() != "console" {
		t.Error("console with a nil logger")
	}
}
