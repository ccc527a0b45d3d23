package sms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"
)

// File is the development and end-to-end test provider: it appends each
// message, code included, as one JSON line to a file, so a test can read
// the code a user would have received:
//
//	{"time":"2025-01-02T03:04:05.123Z","to":"+989121234567","text":"…","code":"123456","ref":"ch_1","provider":"file"}
//
// The file is created with mode 0600 if missing and opened with O_APPEND
// for every message, so concurrent sends (and processes) never interleave
// lines. It is not synced to disk. Never use it in production: it stores
// codes in clear text.
type File struct {
	path string
	now  func() time.Time
	mu   sync.Mutex
}

// NewFile returns a File provider appending to path. An empty path is an
// error wrapping ErrConfig; the file itself is opened at each Send.
func NewFile(path string) (*File, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: file provider needs a path (file:PATH)", ErrConfig)
	}
	return &File{path: path, now: time.Now}, nil
}

// Name returns "file".
func (f *File) Name() string { return "file" }

// fileLine is one line of the file.
type fileLine struct {
	Time     time.Time `json:"time"`
	To       string    `json:"to"`
	Text     string    `json:"text"`
	Code     string    `json:"code"`
	Ref      string    `json:"ref"`
	Provider string    `json:"provider"`
}

// Send appends m as one JSON line. A file that cannot be opened for lack
// of permission or of its directory is a Permanent error; other I/O
// failures are Retryable.
func (f *File) Send(_ context.Context, m Message) (Receipt, error) {
	line, err := json.Marshal(fileLine{Time: f.now().UTC(), To: m.To, Text: m.Text, Code: m.Code, Ref: m.Ref, Provider: f.Name()})
	if err != nil {
		return Receipt{}, &Error{Provider: f.Name(), Kind: Permanent, Msg: "cannot encode message", Err: err}
	}
	line = append(line, '\n')
	f.mu.Lock()
	defer f.mu.Unlock()
	fh, err := os.OpenFile(f.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		kind := Retryable
		if errors.Is(err, fs.ErrPermission) || errors.Is(err, fs.ErrNotExist) {
			kind = Permanent
		}
		return Receipt{}, &Error{Provider: f.Name(), Kind: kind, Msg: "cannot open file", Err: err}
	}
	_, werr := fh.Write(line)
	cerr := fh.Close()
	if err := errors.Join(werr, cerr); err != nil {
		return Receipt{}, &Error{Provider: f.Name(), Kind: Retryable, Msg: "cannot write file", Err: err}
	}
	return Receipt{Provider: f.Name(), MessageID: m.Ref}, nil
}
