package jobqredis

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// TestDecodeOptsCache checks that cached opts decode like json.Unmarshal
// and that jobs never share their opts' pointers or maps.
func TestDecodeOptsCache(t *testing.T) {
	const v = `{"attempts":3,"backoff":{"type":"fixed","delay":100},"removeOnComplete":true,"removeOnFail":{"age":60,"count":5},"de":{"id":"x"},"kl":2,"foo":{"a":1}}`
	var want jobqdriver.Opts
	if err := json.Unmarshal([]byte(v), &want); err != nil {
		t.Fatal(err)
	}
	a, err := decodeOpts(v)
	if err != nil {
		t.Fatal(err)
	}
	a.Backoff.Delay, a.RemoveOnComplete.Count, a.RemoveOnFail.Age, a.Dedup.ID = 1, 7, 1, "y"
	a.Extra["foo"][0] = 'X'
	a.Extra["bar"] = nil
	for range 2 {
		b, err := decodeOpts(v)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(b, want) {
			t.Fatalf("cached opts %+v, want %+v", b, want)
		}
	}
	if _, err := decodeOpts(`{"attempts":`); err == nil {
		t.Fatal("bad JSON decoded")
	}
}
