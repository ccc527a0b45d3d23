package jobqdriver

import (
	"encoding/json"
	"testing"
)

func TestKeepJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		keep Keep
		json string
	}{
		{Keep{Count: 0}, "true"},
		{Keep{Count: -1}, "false"},
		{Keep{Count: 100}, "100"},
		{Keep{Count: -1, Age: 3600, Object: true}, `{"age":3600}`},
		{Keep{Count: 10, Age: 60, Object: true}, `{"age":60,"count":10}`},
		// a Node producer's {count: N} stays an object, not N
		{Keep{Count: 5, Object: true}, `{"count":5}`},
		{Keep{Count: 0, Object: true}, `{"count":0}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.keep)
		if err != nil || string(b) != tt.json {
			t.Errorf("Marshal(%+v) = %s, %v; want %s", tt.keep, b, err, tt.json)
		}
		var back Keep
		if err := json.Unmarshal([]byte(tt.json), &back); err != nil || back != tt.keep {
			t.Errorf("Unmarshal(%s) = %+v, %v; want %+v", tt.json, back, err, tt.keep)
		}
	}
	// a policy with an age is an object even without Object
	if b, _ := json.Marshal(Keep{Count: 10, Age: 60}); string(b) != `{"age":60,"count":10}` {
		t.Errorf("Marshal(age 60, count 10) = %s", b)
	}
	var k Keep
	if err := json.Unmarshal([]byte(`"x"`), &k); err == nil {
		t.Error("Unmarshal of a string succeeded")
	}
}

func TestOptsRoundTripKeepsUnknownKeys(t *testing.T) {
	t.Parallel()
	in := `{"attempts":3,"backoff":{"type":"exponential","delay":1000},"removeOnComplete":{"age":3600},"de":{"id":"d1","ttl":500},"fpof":true,"tm":{"x":1},"kl":5}`
	var o Opts
	if err := json.Unmarshal([]byte(in), &o); err != nil {
		t.Fatal(err)
	}
	if o.Attempts != 3 || o.Backoff.Type != "exponential" || o.Backoff.Delay != 1000 || o.Dedup.ID != "d1" || o.Dedup.TTL != 500 || !o.FailParentOnFailure || o.KeepLogs != 5 {
		t.Fatalf("decoded %+v", o)
	}
	if o.RemoveOnComplete.Age != 3600 || o.RemoveOnComplete.Count != -1 {
		t.Fatalf("removeOnComplete %+v", o.RemoveOnComplete)
	}
	if string(o.Extra["tm"]) != `{"x":1}` {
		t.Fatalf("extra %v", o.Extra)
	}
	out, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	var a, b map[string]any
	_ = json.Unmarshal([]byte(in), &a)
	_ = json.Unmarshal(out, &b)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Fatalf("round trip\n got %s\nwant %s", jb, ja)
	}
}

func TestOptsNumericBackoff(t *testing.T) {
	t.Parallel()
	var o Opts
	if err := json.Unmarshal([]byte(`{"backoff":2000}`), &o); err != nil {
		t.Fatal(err)
	}
	if o.Backoff == nil || o.Backoff.Type != "fixed" || o.Backoff.Delay != 2000 {
		t.Fatalf("backoff %+v", o.Backoff)
	}
}

func TestMarshalJSONNoHTMLEscape(t *testing.T) {
	t.Parallel()
	b, err := MarshalJSON(map[string]string{"a": "<b>&"})
	if err != nil || string(b) != `{"a":"<b>&"}` {
		t.Fatalf("got %s, %v", b, err)
	}
}

func FuzzOptsUnmarshal(f *testing.F) {
	f.Add([]byte(`{"attempts":3,"backoff":5}`))
	f.Add([]byte(`{"removeOnFail":{"count":3}}`))
	f.Add([]byte(`{"de":{"id":"x"},"zz":[1]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var o Opts
		if err := json.Unmarshal(b, &o); err != nil {
			return
		}
		out, err := json.Marshal(o)
		if err != nil {
			t.Fatalf("marshal after successful unmarshal: %v", err)
		}
		var again Opts
		if err := json.Unmarshal(out, &again); err != nil {
			t.Fatalf("re-unmarshal %s: %v", out, err)
		}
	})
}
