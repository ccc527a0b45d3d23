package otp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/sms"
	"github.com/sevra/atlas/jobq"
)

// fakeSMS is an sms.Provider that records every message it is asked to
// send (whether or not it then fails) and fails with the queued errors.
type fakeSMS struct {
	mu      sync.Mutex
	sent    []sms.Message
	fails   []error // the next Send calls' errors, in order; nil: accept
	lookups []sms.Message
	found   []lookupAnswer
	checks  []sms.Message // Check calls: To and Code
}

type lookupAnswer struct {
	sent bool
	err  error
}

func (f *fakeSMS) Name() string { return "fake" }

func (f *fakeSMS) Send(_ context.Context, m sms.Message) (sms.Receipt, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, m)
	if len(f.fails) > 0 {
		err := f.fails[0]
		f.fails = f.fails[1:]
		if err != nil {
			return sms.Receipt{}, err
		}
	}
	return sms.Receipt{Provider: "fake", MessageID: fmt.Sprintf("msg-%d", len(f.sent))}, nil
}

// failNext queues errors for the next Send calls.
func (f *fakeSMS) failNext(errs ...error) {
	f.mu.Lock()
	f.fails = append(f.fails, errs...)
	f.mu.Unlock()
}

func (f *fakeSMS) messages() []sms.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sms.Message(nil), f.sent...)
}

func (f *fakeSMS) lookupCalls() []sms.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sms.Message(nil), f.lookups...)
}

func (f *fakeSMS) checkCalls() []sms.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sms.Message(nil), f.checks...)
}

// last returns the last message sent to ref (a challenge id).
func (f *fakeSMS) last(t testing.TB, ref string) sms.Message {
	t.Helper()
	ms := f.messages()
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Ref == ref {
			return ms[i]
		}
	}
	t.Fatalf("no message for challenge %s among %d", ref, len(ms))
	return sms.Message{}
}

// reconcilingSMS is a fakeSMS that is also an sms.Reconciler.
type reconcilingSMS struct{ *fakeSMS }

func (r reconcilingSMS) Lookup(_ context.Context, m sms.Message) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lookups = append(r.lookups, m)
	if len(r.found) == 0 {
		return false, errors.New("fake lookup: no answer queued")
	}
	a := r.found[0]
	r.found = r.found[1:]
	return a.sent, a.err
}

func (r reconcilingSMS) answerLookup(sent bool, err error) {
	r.mu.Lock()
	r.found = append(r.found, lookupAnswer{sent, err})
	r.mu.Unlock()
}

// verifyingSMS is a fakeSMS that is also an sms.Verifier: it owns the
// codes, and the pending code of every number is ownedCode.
type verifyingSMS struct{ *fakeSMS }

const ownedCode = "48213597"

func (v verifyingSMS) Check(_ context.Context, to, code string) (bool, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.checks = append(v.checks, sms.Message{To: to, Code: code})
	return code == ownedCode, nil
}

// smsErr returns a classified provider failure of kind k.
func smsErr(k sms.Kind) error {
	return &sms.Error{Provider: "fake", Kind: k, HTTPStatus: 503, Msg: "fake " + k.String() + " failure"}
}

// jobCall is one job the outbox added.
type jobCall struct {
	queue, name string
	data        json.RawMessage
	opts        jobq.JobOptions
}

// fakeJobs is the outbox's JobAdder: it records the jobs instead of
// queueing them.
type fakeJobs struct {
	mu    sync.Mutex
	calls []jobCall
}

func (j *fakeJobs) Add(_ context.Context, queue, name string, data any, opts *jobq.JobOptions) (*jobq.Job, error) {
	raw, ok := data.(json.RawMessage)
	if !ok {
		b, err := json.Marshal(data)
		if err != nil {
			return nil, err
		}
		raw = b
	}
	c := jobCall{queue: queue, name: name, data: append(json.RawMessage(nil), raw...)}
	if opts != nil {
		c.opts = *opts
	}
	j.mu.Lock()
	j.calls = append(j.calls, c)
	j.mu.Unlock()
	return &jobq.Job{ID: c.opts.JobID, Name: name, Queue: queue, Data: c.data, Opts: c.opts}, nil
}

func (j *fakeJobs) all() []jobCall {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]jobCall(nil), j.calls...)
}

// recOutbox is the real outbox, recording the events it is given.
type recOutbox struct {
	*outbox.Outbox
	mu     sync.Mutex
	events []outbox.Event
}

func (o *recOutbox) Add(ctx context.Context, tx outbox.Execer, events ...outbox.Event) error {
	o.mu.Lock()
	o.events = append(o.events, events...)
	o.mu.Unlock()
	return o.Outbox.Add(ctx, tx, events...)
}

func (o *recOutbox) added() []outbox.Event {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]outbox.Event(nil), o.events...)
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
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
