package jobqredis

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// decodeJob builds a Job from a job hash.
func decodeJob(queue, id string, h map[string]string) (*jobqdriver.Job, error) {
	j := &jobqdriver.Job{Queue: queue, ID: id, Name: h["name"]}
	if v, ok := h["data"]; ok {
		j.Data = json.RawMessage(v)
	}
	if v := h["opts"]; v != "" {
		o, err := decodeOpts(v)
		if err != nil {
			return nil, fmt.Errorf("jobqredis: job %s/%s: %w", queue, id, err)
		}
		j.Opts = o
	}
	j.Timestamp = atoi64(h["timestamp"])
	j.Delay = atoi64(h["delay"])
	j.Priority = int(atoi64(h["priority"]))
	j.ProcessedOn = atoi64(h["processedOn"])
	j.FinishedOn = atoi64(h["finishedOn"])
	j.AttemptsStarted = int(atoi64(h["ats"]))
	j.AttemptsMade = int(atoi64(h["atm"]))
	if j.AttemptsMade == 0 {
		j.AttemptsMade = int(atoi64(h["attemptsMade"])) // legacy field
	}
	j.StalledCounter = int(atoi64(h["stc"]))
	if v, ok := h["progress"]; ok {
		j.Progress = json.RawMessage(v)
	}
	if v, ok := h["returnvalue"]; ok {
		j.ReturnValue = json.RawMessage(v)
	}
	j.FailedReason = h["failedReason"]
	if v := h["stacktrace"]; v != "" && v != "null" {
		if err := json.Unmarshal([]byte(v), &j.Stacktrace); err != nil {
			j.Stacktrace = []string{v}
		}
	}
	j.ParentKey = h["parentKey"]
	if v := h["parent"]; v != "" {
		var p jobqdriver.ParentRef
		if err := json.Unmarshal([]byte(v), &p); err == nil {
			j.Parent = &p
		}
	}
	j.ProcessedBy = h["pb"]
	j.RepeatJobKey = h["rjk"]
	j.DeduplicationID = h["deid"]
	j.DeferredFailure = h["defa"]
	return j, nil
}

// optsCache maps recently decoded opts JSON to its value: producers tend
// to add many jobs with the same options, and decoding them was a tenth of
// a busy worker's CPU. Emptied when full.
var optsCache struct {
	sync.Mutex
	m map[string]jobqdriver.Opts
}

const (
	optsCacheMax    = 256
	optsCacheMaxLen = 512 // longer opts are decoded every time
)

// decodeOpts decodes a job's opts JSON. The result shares nothing with
// other jobs' opts.
func decodeOpts(v string) (jobqdriver.Opts, error) {
	if len(v) <= optsCacheMaxLen {
		optsCache.Lock()
		o, ok := optsCache.m[v]
		optsCache.Unlock()
		if ok {
			return cloneOpts(o), nil
		}
	}
	var o jobqdriver.Opts
	if err := json.Unmarshal([]byte(v), &o); err != nil {
		return o, err
	}
	if len(v) <= optsCacheMaxLen {
		optsCache.Lock()
		if optsCache.m == nil || len(optsCache.m) >= optsCacheMax {
			optsCache.m = make(map[string]jobqdriver.Opts, optsCacheMax)
		}
		optsCache.m[v] = cloneOpts(o)
		optsCache.Unlock()
	}
	return o, nil
}

// cloneOpts copies o with its own pointers and Extra map.
func cloneOpts(o jobqdriver.Opts) jobqdriver.Opts {
	if o.Backoff != nil {
		b := *o.Backoff
		o.Backoff = &b
	}
	if o.RemoveOnComplete != nil {
		k := *o.RemoveOnComplete
		o.RemoveOnComplete = &k
	}
	if o.RemoveOnFail != nil {
		k := *o.RemoveOnFail
		o.RemoveOnFail = &k
	}
	if o.Dedup != nil {
		d := *o.Dedup
		o.Dedup = &d
	}
	if o.Extra != nil {
		m := make(map[string]json.RawMessage, len(o.Extra))
		for k, v := range o.Extra {
			m[k] = append(json.RawMessage(nil), v...)
		}
		o.Extra = m
	}
	return o
}

// pairsToMap turns a flat [field, value, ...] reply into a map.
func pairsToMap(v any) map[string]string {
	arr, _ := v.([]any)
	m := make(map[string]string, len(arr)/2)
	for i := 0; i+1 < len(arr); i += 2 {
		k, _ := arr[i].(string)
		s, _ := arr[i+1].(string)
		m[k] = s
	}
	return m
}

func atoi64(s string) int64 {
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil {
			return 0
		}
		return int64(f)
	}
	return n
}

func toInt64(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case string:
		return atoi64(x)
	}
	return 0
}
