package jobq

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// validQueueName rejects names BullMQ forbids: empty, or containing ':'
// (the key separator).
func validQueueName(name string) error {
	if name == "" || strings.Contains(name, ":") {
		return fmt.Errorf("%w: queue name %q is empty or contains ':'", ErrInvalidOption, name)
	}
	return nil
}

// validate checks options against BullMQ's rules.
func (o *JobOptions) validate() error {
	if o == nil {
		return nil
	}
	if o.Priority < 0 || o.Priority > MaxPriority {
		return fmt.Errorf("%w: priority %d outside 0…%d", ErrInvalidOption, o.Priority, MaxPriority)
	}
	if o.Delay < 0 {
		return fmt.Errorf("%w: negative delay %s", ErrInvalidOption, o.Delay)
	}
	if o.Attempts < 0 {
		return fmt.Errorf("%w: negative attempts %d", ErrInvalidOption, o.Attempts)
	}
	if o.JobID != "" {
		if o.JobID == "0" || strings.HasPrefix(o.JobID, "0:") {
			return fmt.Errorf("%w: custom job id %q is '0' or starts with '0:'", ErrInvalidOption, o.JobID)
		}
		if integerID(o.JobID) {
			return fmt.Errorf("%w: custom job id %q is an integer", ErrInvalidOption, o.JobID)
		}
		if n := strings.Count(o.JobID, ":"); n > 0 && n != 2 {
			return fmt.Errorf("%w: custom job id %q has ':' but not exactly three parts", ErrInvalidOption, o.JobID)
		}
	}
	if o.Backoff != nil {
		if o.Backoff.Delay < 0 || o.Backoff.Jitter < 0 || o.Backoff.Jitter > 1 {
			return fmt.Errorf("%w: backoff delay %s jitter %g", ErrInvalidOption, o.Backoff.Delay, o.Backoff.Jitter)
		}
	}
	if o.Deduplication != nil && o.Deduplication.ID == "" {
		return fmt.Errorf("%w: deduplication without id", ErrInvalidOption)
	}
	if o.Deduplication != nil && o.Deduplication.Extend && o.Deduplication.TTL <= 0 {
		return fmt.Errorf("%w: deduplication extend needs a TTL", ErrInvalidOption)
	}
	if o.Parent != nil && (o.Parent.ID == "" || o.Parent.Queue == "") {
		return fmt.Errorf("%w: parent needs id and queue", ErrInvalidOption)
	}
	return nil
}

// integerID reports whether BullMQ 6.7 refuses id as an integer: when
// JavaScript's String(parseInt(id, 10)) gives id back. That holds for
// "NaN" and for canonical decimal integers ("-5", "42", but not "007",
// "+5", "-0" or " 5") whose float64 value prints back unchanged, which
// excludes integers that do not round-trip through a float64 (such as
// 9007199254740993) and those of 10^21 or more (printed with an exponent).
func integerID(id string) bool {
	if id == "NaN" {
		return true
	}
	digits := strings.TrimPrefix(id, "-")
	if digits == "" || (digits[0] == '0' && (len(digits) > 1 || id != digits)) {
		return false // empty, a leading zero, or "-0" (printed as "0")
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	f, err := strconv.ParseFloat(id, 64)
	if err != nil || math.Abs(f) >= 1e21 {
		return false
	}
	// JavaScript prints an integer below 1e21 in full, with the shortest
	// digits that identify the float64, padded with zeros.
	return strconv.FormatFloat(f, 'f', -1, 64) == id
}

// toDriver builds the stored form of a new job.
func toDriver(d jobqdriver.Driver, queue, name string, data []byte, o *JobOptions, now time.Time) *jobqdriver.Job {
	if o == nil {
		o = &JobOptions{}
	}
	ts := now.UnixMilli()
	j := &jobqdriver.Job{
		Queue: queue, ID: o.JobID, Name: name, Data: data,
		Timestamp: ts,
		Delay:     o.Delay.Milliseconds(),
		Priority:  o.Priority,
	}
	op := jobqdriver.Opts{
		JobID:            o.JobID,
		Attempts:         o.Attempts,
		Delay:            o.Delay.Milliseconds(),
		Priority:         o.Priority,
		LIFO:             o.LIFO,
		RemoveOnComplete: o.RemoveOnComplete,
		RemoveOnFail:     o.RemoveOnFail,
		KeepLogs:         o.KeepLogs,
	}
	if o.Backoff != nil {
		op.Backoff = &jobqdriver.Backoff{Type: string(o.Backoff.Type), Delay: o.Backoff.Delay.Milliseconds(), Jitter: o.Backoff.Jitter}
	}
	if o.Deduplication != nil {
		op.Dedup = &jobqdriver.Dedup{ID: o.Deduplication.ID, TTL: o.Deduplication.TTL.Milliseconds(),
			Extend: o.Deduplication.Extend, Replace: o.Deduplication.Replace}
		j.DeduplicationID = o.Deduplication.ID
	}
	switch o.OnChildFailure {
	case ChildFailureFailParent:
		op.FailParentOnFailure = true
	case ChildFailureIgnore:
		op.IgnoreDependencyOnFail = true
	case ChildFailureContinue:
		op.ContinueParentOnFailure = true
	case ChildFailureRemove:
		op.RemoveDependencyOnFail = true
	}
	if o.Parent != nil {
		qk := o.Parent.Queue
		if !strings.Contains(qk, ":") {
			qk = d.QueueKey(qk) // a bare name: under this backend's prefix
		}
		j.Parent = &jobqdriver.ParentRef{ID: o.Parent.ID, QueueKey: qk}
		j.ParentKey = qk + ":" + o.Parent.ID
		op.Parent = &jobqdriver.OptsParent{ID: o.Parent.ID, Queue: qk}
	}
	j.Opts = op
	return j
}

// optionsFromDriver converts stored options back to JobOptions.
func optionsFromDriver(op jobqdriver.Opts) JobOptions {
	o := JobOptions{
		JobID:            op.JobID,
		Delay:            time.Duration(op.Delay) * time.Millisecond,
		Priority:         op.Priority,
		LIFO:             op.LIFO,
		Attempts:         op.Attempts,
		RemoveOnComplete: op.RemoveOnComplete,
		RemoveOnFail:     op.RemoveOnFail,
		KeepLogs:         op.KeepLogs,
	}
	if op.Backoff != nil {
		o.Backoff = &Backoff{Type: BackoffType(op.Backoff.Type), Delay: time.Duration(op.Backoff.Delay) * time.Millisecond, Jitter: op.Backoff.Jitter}
	}
	if op.Dedup != nil {
		o.Deduplication = &Deduplication{ID: op.Dedup.ID, TTL: time.Duration(op.Dedup.TTL) * time.Millisecond,
			Extend: op.Dedup.Extend, Replace: op.Dedup.Replace}
	}
	switch {
	case op.FailParentOnFailure:
		o.OnChildFailure = ChildFailureFailParent
	case op.IgnoreDependencyOnFail:
		o.OnChildFailure = ChildFailureIgnore
	case op.ContinueParentOnFailure:
		o.OnChildFailure = ChildFailureContinue
	case op.RemoveDependencyOnFail:
		o.OnChildFailure = ChildFailureRemove
	}
	return o
}

// mergeDefaults fills unset fields of o from defaults.
func mergeDefaults(o, defaults *JobOptions) *JobOptions {
	if defaults == nil {
		return o
	}
	if o == nil {
		c := *defaults
		c.JobID, c.Parent, c.Deduplication = "", nil, nil
		return &c
	}
	c := *o
	if c.Attempts == 0 {
		c.Attempts = defaults.Attempts
	}
	if c.Backoff == nil {
		c.Backoff = defaults.Backoff
	}
	if c.RemoveOnComplete == nil {
		c.RemoveOnComplete = defaults.RemoveOnComplete
	}
	if c.RemoveOnFail == nil {
		c.RemoveOnFail = defaults.RemoveOnFail
	}
	if c.Priority == 0 {
		c.Priority = defaults.Priority
	}
	if c.Delay == 0 {
		c.Delay = defaults.Delay
	}
	if c.KeepLogs == 0 {
		c.KeepLogs = defaults.KeepLogs
	}
	return &c
}
