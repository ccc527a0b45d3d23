package jobqredis

import (
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
)

// FuzzDecodeJob decodes job hashes as BullMQ or a hostile writer could
// leave them: it must never panic; decimal fields must read back exactly;
// a stacktrace that is not a JSON array is kept as one entry; and two
// decodes of the same opts (the second from the cache) must be equal and
// share nothing.
func FuzzDecodeJob(f *testing.F) {
	f.Add(`{"attempts":3,"backoff":{"type":"exponential","delay":1000},"removeOnFail":{"age":604800}}`, `{"mediaId":7}`, "1700000000000", "2", `["boom"]`, `{"id":"p","queueKey":"bull:q"}`)
	f.Add(`{"jobId":"media-1","de":{"id":"x","ttl":5000},"kl":true,"fpof":true}`, `null`, "1.7e12", "-1", "not json", "")
	f.Add(`{`, ``, "", "", "null", "{")
	f.Add(`{"attempts":"3"}`, "\x00", "9223372036854775807", "99999999999999999999", `[1,2]`, `[]`)
	f.Fuzz(func(t *testing.T, opts, data, ts, atm, stack, parent string) {
		h := map[string]string{"name": "n", "opts": opts, "data": data, "timestamp": ts, "atm": atm,
			"stacktrace": stack, "parent": parent, "delay": ts, "priority": atm}
		j, err := decodeJob("q", "1", h)
		if err != nil {
			return // bad opts JSON: an error, never a panic
		}
		if n, perr := strconv.ParseInt(ts, 10, 64); perr == nil && (j.Timestamp != n || j.Delay != n) {
			t.Errorf("timestamp %q read as %d, delay as %d", ts, j.Timestamp, j.Delay)
		}
		if n, perr := strconv.ParseInt(atm, 10, 64); perr == nil && n != 0 && int64(j.AttemptsMade) != n {
			t.Errorf("atm %q read as %d", atm, j.AttemptsMade)
		}
		if stack != "" && len(j.Stacktrace) == 0 {
			// lost unless it is an empty JSON array (any spacing) or null
			var arr []json.RawMessage
			if err := json.Unmarshal([]byte(stack), &arr); err != nil || len(arr) > 0 {
				t.Errorf("stacktrace %q lost", stack)
			}
		}
		if opts == "" {
			return
		}
		a, err := decodeOpts(opts)
		if err != nil {
			t.Fatalf("opts %q decoded once, then failed: %v", opts, err)
		}
		if !reflect.DeepEqual(a, j.Opts) {
			t.Fatalf("two decodes of %q differ:\n%+v\n%+v", opts, a, j.Opts)
		}
		// mutate the first copy; a fresh decode must not see it
		if a.Backoff != nil {
			a.Backoff.Delay++
		}
		if a.Extra != nil {
			for k := range a.Extra {
				a.Extra[k] = nil
			}
		}
		b, _ := decodeOpts(opts)
		if !reflect.DeepEqual(b, j.Opts) {
			t.Fatalf("decoded opts share state with an earlier decode of %q", opts)
		}
	})
}
