package review

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// MaxBodyRunes is the longest review body accepted, in characters.
const MaxBodyRunes = 2000

// MaxRequestBytes bounds the POST body read from the client.
const MaxRequestBytes = 16 << 10

// Input is a validated review submission.
type Input struct {
	Rating int
	Body   string
}

// InputError is a client mistake in a review submission, with a
// machine-readable code (the HTTP layer answers 400 with it).
type InputError struct {
	Code    string
	Message string
}

// Error returns the message shown to the client.
func (e *InputError) Error() string { return e.Message }

func inputError(code, format string, args ...any) error {
	return &InputError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ParseInput decodes and validates a POST body {"rating": 1..5, "body":
// "..."}: rating is a whole number from 1 to 5, body is valid UTF-8 of at
// most MaxBodyRunes characters after trimming (it may be empty); unknown
// fields and trailing data are rejected.
func ParseInput(data []byte) (Input, error) {
	var raw struct {
		Rating json.RawMessage `json:"rating"`
		Body   *string         `json:"body"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) && ute.Field == "body" {
			return Input{}, inputError("invalid_body", "body must be a string")
		}
		if strings.HasPrefix(err.Error(), "json: unknown field") {
			return Input{}, inputError("invalid_json", "%s", strings.TrimPrefix(err.Error(), "json: "))
		}
		return Input{}, inputError("invalid_json", "request body must be a JSON object {\"rating\": 1-5, \"body\": \"...\"}")
	}
	if _, err := dec.Token(); err != io.EOF {
		return Input{}, inputError("invalid_json", "unexpected data after the JSON object")
	}
	if len(raw.Rating) == 0 || string(raw.Rating) == "null" {
		return Input{}, inputError("invalid_rating", "rating is required: a whole number from 1 to 5")
	}
	var rating int
	if err := json.Unmarshal(raw.Rating, &rating); err != nil || rating < 1 || rating > 5 {
		return Input{}, inputError("invalid_rating", "rating must be a whole number from 1 to 5")
	}
	in := Input{Rating: rating}
	if raw.Body != nil {
		in.Body = strings.TrimSpace(*raw.Body)
	}
	if !utf8.ValidString(in.Body) {
		return Input{}, inputError("invalid_body", "body must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(in.Body); n > MaxBodyRunes {
		return Input{}, inputError("invalid_body", "body is %d characters long; the limit is %d", n, MaxBodyRunes)
	}
	return in, nil
}
