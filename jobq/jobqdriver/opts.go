package jobqdriver

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// MarshalJSON writes BullMQ's forms: true (remove all), a number (keep the
// last N), or, when Object is set, {"age": seconds, "count": N} with the
// unset limit left out.
func (k Keep) MarshalJSON() ([]byte, error) {
	switch {
	case k.Object && k.Count < 0:
		return []byte(fmt.Sprintf(`{"age":%d}`, k.Age)), nil
	case k.Object && k.Age == 0:
		return []byte(fmt.Sprintf(`{"count":%d}`, k.Count)), nil
	case k.Count == 0 && k.Age == 0:
		return []byte("true"), nil
	case k.Age == 0 && k.Count > 0:
		return []byte(fmt.Sprint(k.Count)), nil
	case k.Age == 0 && k.Count < 0:
		return []byte("false"), nil
	case k.Count < 0:
		return []byte(fmt.Sprintf(`{"age":%d}`, k.Age)), nil
	default:
		return []byte(fmt.Sprintf(`{"age":%d,"count":%d}`, k.Age, k.Count)), nil
	}
}

// UnmarshalJSON reads every form BullMQ accepts.
func (k *Keep) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("true")):
		*k = Keep{}
	case bytes.Equal(b, []byte("false")), bytes.Equal(b, []byte("null")):
		*k = Keep{Count: -1}
	case len(b) > 0 && b[0] == '{':
		var v struct {
			Age   *int64 `json:"age"`
			Count *int   `json:"count"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			return fmt.Errorf("keep policy: %w", err)
		}
		*k = Keep{Count: -1, Object: true}
		if v.Age != nil {
			k.Age = *v.Age
		}
		if v.Count != nil {
			k.Count = *v.Count
		}
	default:
		var n float64
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("keep policy %s: %w", b, err)
		}
		*k = Keep{Count: int(n)}
	}
	return nil
}

// optsAlias has Opts's fields without its methods.
type optsAlias Opts

var knownOptKeys = map[string]bool{
	"jobId": true, "attempts": true, "delay": true, "priority": true, "lifo": true,
	"timestamp": true, "backoff": true, "removeOnComplete": true, "removeOnFail": true,
	"de": true, "kl": true, "fpof": true, "cpof": true, "idof": true, "rdof": true,
	"repeatJobKey": true, "parent": true,
}

// MarshalJSON writes the known options and then any Extra keys.
func (o Opts) MarshalJSON() ([]byte, error) {
	b, err := marshalNoEscape(optsAlias(o))
	if err != nil {
		return nil, err
	}
	if len(o.Extra) == 0 {
		return b, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range o.Extra {
		if !knownOptKeys[k] {
			m[k] = v
		}
	}
	return marshalNoEscape(m)
}

// UnmarshalJSON reads known options and keeps the rest in Extra. A backoff
// given as a bare number means fixed backoff of that many ms (BullMQ's form).
func (o *Opts) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("job opts: %w", err)
	}
	if raw, ok := m["backoff"]; ok && len(raw) > 0 && raw[0] != '{' && raw[0] != 'n' {
		var d float64
		if err := json.Unmarshal(raw, &d); err != nil {
			return fmt.Errorf("job opts backoff: %w", err)
		}
		m["backoff"], _ = json.Marshal(Backoff{Type: "fixed", Delay: int64(d)})
		b, _ = json.Marshal(m)
	}
	var a optsAlias
	if err := json.Unmarshal(b, &a); err != nil {
		return fmt.Errorf("job opts: %w", err)
	}
	*o = Opts(a)
	for k, v := range m {
		if !knownOptKeys[k] {
			if o.Extra == nil {
				o.Extra = map[string]json.RawMessage{}
			}
			o.Extra[k] = v
		}
	}
	return nil
}

// MarshalJSON encodes v as JSON without escaping <, > and &, as Node's
// JSON.stringify does, and without a trailing newline. Backends use it for
// every JSON field they store.
func MarshalJSON(v any) ([]byte, error) { return marshalNoEscape(v) }

func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
