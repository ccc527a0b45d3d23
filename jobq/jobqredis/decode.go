package jobqredis

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// decodeJob builds a Job from a job hash.
func decodeJob(queue, id string, h map[string]string) (*jobqdriver.Job, error) {
	j := &jobqdriver.Job{Queue: queue, ID: id, Name: h["name"]}
	if v, ok := h["data"]; ok {
		j.Data = json.RawMessage(v)
	}
	if v := h["opts"]; v != "" {
		if err := json.Unmarshal([]byte(v), &j.Opts); err != nil {
			return nil, fmt.Errorf("jobqredis: job %s/%s: %w", queue, id, err)
		}
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
