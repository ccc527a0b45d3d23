package sms

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestFileConcurrentSends(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sms.jsonl")
	f, err := NewFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const n = 64
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			m := Message{To: testTo, Code: fmt.Sprintf("%06d", i), Text: fmt.Sprintf("code %06d\nline two \"quoted\"", i), Ref: fmt.Sprintf("ch_%d", i)}
			rc, err := f.Send(context.Background(), m)
			if err != nil || rc.MessageID != m.Ref || rc.Provider != "file" {
				t.Errorf("Send = %+v, %v", rc, err)
			}
		})
	}
	wg.Wait()

	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	seen := map[string]bool{}
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		var l struct {
			Time     time.Time `json:"time"`
			To       string    `json:"to"`
			Text     string    `json:"text"`
			Code     string    `json:"code"`
			Ref      string    `json:"ref"`
			Provider string    `json:"provider"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if l.To != testTo || l.Provider != "file" || l.Time.IsZero() || l.Text != "code "+l.Code+"\nline two \"quoted\"" ||
			l.Ref == "" || seen[l.Ref] {
			t.Errorf("bad line %q", sc.Text())
		}
		seen[l.Ref] = true
	}
	if len(seen) != n {
		t.Errorf("%d lines, want %d", len(seen), n)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
}

func TestFileLineShape(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sms.jsonl")
	if err := os.WriteFile(path, []byte("existing\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, _ := NewFile(path)
	f.now = func() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("IRST", 3*3600+1800)) }
	if _, err := f.Send(context.Background(), Message{To: testTo, Code: "123456", Text: "Code 123456", Ref: "ch_9"}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := "existing\n" +
		`{"time":"2025-01-01T23:34:05Z","to":"+989121234567","text":"Code 123456","code":"123456","ref":"ch_9","provider":"file"}` + "\n"
	if string(got) != want {
		t.Errorf("file\n%s\nwant\n%s", got, want)
	}
}

func TestFileFailures(t *testing.T) {
	t.Parallel()
	if _, err := NewFile(""); !isConfigErr(err) {
		t.Errorf("NewFile(\"\") = %v, want ErrConfig", err)
	}
	f, _ := NewFile(filepath.Join(t.TempDir(), "missing", "sms.jsonl"))
	_, err := f.Send(context.Background(), Message{To: testTo, Code: testCode})
	assertKind(t, err, Permanent, 0, "")
}
