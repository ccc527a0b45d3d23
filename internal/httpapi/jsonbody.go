package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"
)

// readJSON is the one reader of JSON request bodies. It reads at most
// limit bytes of r's body and checks the envelope every JSON endpoint
// shares, before any domain parsing:
//
//   - 415 unsupported_media_type unless the Content-Type is
//     application/json (a missing Content-Type is taken as JSON);
//   - 413 body_too_large past limit;
//   - 400 invalid_json for a body that is not valid UTF-8, not one JSON
//     object (nothing after it), has a key twice in any object (the first
//     would never be validated), or has a NUL character in any string
//     (PostgreSQL text cannot hold it; no field needs it).
//
// It returns the body for the caller to decode into its own type.
func readJSON(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, _ := splitMediaType(ct); mt != "application/json" {
			return nil, &statusError{status: http.StatusUnsupportedMediaType, code: "unsupported_media_type",
				msg: "send the body as application/json"}
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &statusError{status: http.StatusRequestEntityTooLarge, code: "body_too_large",
				msg: fmt.Sprintf("request body is larger than %s", sizeText(limit))}
		}
		return nil, badRequest("invalid_json", "request body could not be read")
	}
	if err := checkJSONObject(body); err != nil {
		return nil, badRequest("invalid_json", err.Error())
	}
	return body, nil
}

// decodeJSON is readJSON, then a strict decode into v: unknown fields are
// refused.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	body, err := readJSON(w, r, limit)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("invalid_json", "request body must be a JSON object with the documented fields")
	}
	return nil
}

// checkJSONObject reports why data is not exactly one JSON object of
// valid UTF-8 with unique keys and no NUL in any string; nil if it is.
func checkJSONObject(data []byte) error {
	if !utf8.Valid(data) {
		return errors.New("request body is not valid UTF-8")
	}
	type frame struct {
		keys    map[string]bool // nil for an array
		wantKey bool
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var stack []*frame
	done := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			if !done {
				return errors.New("request body must be a JSON object")
			}
			return nil
		}
		if err != nil {
			return errors.New("request body is not valid JSON")
		}
		if done {
			return errors.New("request body must be one JSON object, with nothing after it")
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top == nil && tok != json.Delim('{') {
			return errors.New("request body must be a JSON object")
		}
		if s, ok := tok.(string); ok {
			if strings.IndexByte(s, 0) >= 0 {
				return errors.New("request body has a NUL character in a string")
			}
			if top.keys != nil && top.wantKey {
				if top.keys[s] {
					return fmt.Errorf("request body has the key %q twice", s)
				}
				top.keys[s], top.wantKey = true, false
				continue
			}
		}
		if top != nil && top.keys != nil {
			top.wantKey = true // a value: a key comes next
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{keys: map[string]bool{}, wantKey: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			done = len(stack) == 0
		}
	}
}

// sizeText writes a byte limit for people: "16 KiB".
func sizeText(n int64) string {
	if n%1024 == 0 {
		return fmt.Sprintf("%d KiB", n/1024)
	}
	return fmt.Sprintf("%d bytes", n)
}
