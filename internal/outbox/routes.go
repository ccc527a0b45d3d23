package outbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/jobq"
)

// Route says which job an event becomes. Templates in JobID and Dedup name
// payload fields in braces ("media-{mediaId}"); {eventId} is the event's id.
// A field used in a template must be a string or an integer of letters,
// digits, '_', '.' or '-' (job ids may not contain ':').
type Route struct {
	Event  string
	Module rollout.Module
	Queue  string
	Job    string
	// JobID is the custom job id template; a republish of the same event
	// finds the job and is a no-op.
	JobID string
	// Dedup, when set, is a deduplication id template: adds with the same
	// id are dropped for DedupTTL after the first (the coalescing window).
	Dedup    string
	DedupTTL time.Duration
	// Delay postpones the job. With Dedup, Delay must exceed DedupTTL so
	// that an add dropped by deduplication always happens before the
	// surviving job starts reading: coalescing never loses an update.
	Delay time.Duration
}

// Routes is the event-to-job table, keyed by event type.
type Routes map[string]Route

// EventJobID is the job id template that gives every event its own job:
// "evt-<event id>". A republish of the same event is then a no-op.
const EventJobID = "evt-{eventId}"

// NewRoutes builds a routing table from the routes each module declares.
// Two routes for one event type, or a route without an event, queue, job
// or job id, is a wiring error.
func NewRoutes(rs ...Route) (Routes, error) {
	m := make(Routes, len(rs))
	for _, r := range rs {
		if r.Event == "" || r.Queue == "" || r.Job == "" || r.JobID == "" {
			return nil, fmt.Errorf("outbox: incomplete route %+v", r)
		}
		if _, dup := m[r.Event]; dup {
			return nil, fmt.Errorf("outbox: two routes for event %s", r.Event)
		}
		if r.Dedup != "" && r.Delay <= r.DedupTTL {
			return nil, fmt.Errorf("outbox: route %s: delay %s must exceed the dedup TTL %s, or a coalesced update can be lost",
				r.Event, r.Delay, r.DedupTTL)
		}
		m[r.Event] = r
	}
	return m, nil
}

// JobIDFor expands r's job id template with the fields of payload (a
// struct or map that encodes as a JSON object), as Build would for an
// event with that payload: callers that know a resource's id learn its
// job id without repeating the template.
func (r Route) JobIDFor(payload any) (string, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadPayload, err)
	}
	fields, err := payloadFields(b)
	if err != nil {
		return "", err
	}
	return expand(r.JobID, fields)
}

// Errors of Route.Build; both are permanent (a retry cannot fix them).
var (
	ErrNoRoute    = errors.New("no route for event type")
	ErrBadPayload = errors.New("bad event payload")
)

// Meta is the part of every job's data that the outbox adds: the event it
// came from, the request's traceparent and the producer's rollout mode.
// Handlers embed it in their payload type.
type Meta struct {
	EventID string       `json:"eventId,omitempty"`
	Trace   string       `json:"trace,omitempty"`
	Mode    rollout.Mode `json:"mode,omitempty"`
}

// Shadow reports whether the job is a shadow run: the request already did
// the work, and the handler must only compute a side result and compare.
func (m Meta) Shadow() bool { return m.Mode == rollout.Shadow }

// Build turns e into job data and options: the payload's fields plus
// eventId, trace and mode, and the expanded job id and deduplication id.
func (r Route) Build(e Event) (json.RawMessage, *jobq.JobOptions, error) {
	fields, err := payloadFields(e.Payload)
	if err != nil {
		return nil, nil, err
	}
	fields["eventId"] = mustJSON(e.ID)
	if e.Trace != "" {
		fields["trace"] = mustJSON(e.Trace)
	}
	mode := e.Mode
	if mode == "" {
		mode = rollout.DefaultMode
	}
	fields["mode"] = mustJSON(string(mode))
	opts := &jobq.JobOptions{Delay: r.Delay}
	if opts.JobID, err = expand(r.JobID, fields); err != nil {
		return nil, nil, err
	}
	if r.Dedup != "" {
		id, err := expand(r.Dedup, fields)
		if err != nil {
			return nil, nil, err
		}
		opts.Deduplication = &jobq.Deduplication{ID: id, TTL: r.DedupTTL}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(fields); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrBadPayload, err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), opts, nil
}

// payloadFields parses a payload, which must be a JSON object (or empty).
func payloadFields(p json.RawMessage) (map[string]json.RawMessage, error) {
	fields := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(p)) == 0 {
		return fields, nil
	}
	if err := json.Unmarshal(p, &fields); err != nil {
		return nil, fmt.Errorf("%w: want a JSON object: %w", ErrBadPayload, err)
	}
	if fields == nil { // "null"
		fields = map[string]json.RawMessage{}
	}
	return fields, nil
}

// expand replaces each {field} in tmpl with the field's value.
func expand(tmpl string, fields map[string]json.RawMessage) (string, error) {
	var b strings.Builder
	for {
		i := strings.IndexByte(tmpl, '{')
		if i < 0 {
			b.WriteString(tmpl)
			return b.String(), nil
		}
		j := strings.IndexByte(tmpl[i:], '}')
		if j < 0 {
			return "", fmt.Errorf("%w: unclosed template %q", ErrBadPayload, tmpl)
		}
		b.WriteString(tmpl[:i])
		name := tmpl[i+1 : i+j]
		v, err := idPart(fields[name])
		if err != nil {
			return "", fmt.Errorf("%w: field %q: %w", ErrBadPayload, name, err)
		}
		b.WriteString(v)
		tmpl = tmpl[i+j+1:]
	}
}

// idPart renders a JSON string or integer as part of a job id.
func idPart(raw json.RawMessage) (string, error) {
	if len(raw) == 0 {
		return "", errors.New("missing")
	}
	var s string
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
	} else {
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return "", errors.New("not a string or an integer")
		}
		s = strconv.FormatInt(n, 10)
	}
	if s == "" || len(s) > 128 {
		return "", errors.New("empty or longer than 128 bytes")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return "", fmt.Errorf("character %q not allowed in a job id", c)
		}
	}
	return s, nil
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // strings always marshal
	}
	return b
}
