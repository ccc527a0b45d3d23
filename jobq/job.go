package jobq

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// Job is one job as read from the backend, or as handed to a processor.
type Job struct {
	ID    string // job id
	Name  string // job name
	Queue string // queue name
	// Data is the payload as stored: JSON.
	Data json.RawMessage
	// Opts are the options the job was added with.
	Opts JobOptions
	// Timestamp is when the job was added (producer clock).
	Timestamp time.Time
	// Delay is the delay the job was added with.
	Delay time.Duration
	// Priority is the job's priority (0 = none).
	Priority int
	// ProcessedOn is when the latest attempt started (zero if never).
	ProcessedOn time.Time
	// FinishedOn is when the job completed or failed (zero if not yet).
	FinishedOn time.Time
	// AttemptsMade counts finished attempts (failed tries plus the final one).
	AttemptsMade int
	// AttemptsStarted counts started attempts.
	AttemptsStarted int
	// StalledCount counts how often the job stalled.
	StalledCount int
	// Progress is the last progress value (JSON), nil if never set.
	Progress json.RawMessage
	// ReturnValue is the processor's result (JSON) once completed.
	ReturnValue json.RawMessage
	// FailedReason is the last failure's message.
	FailedReason string
	// Stacktrace holds one entry per failed attempt, newest last.
	Stacktrace []string
	// ParentKey is the parent's key ("<prefix>:<queue>:<id>"), empty if none.
	ParentKey string
	// RepeatJobKey is the id of the job scheduler that created the job.
	RepeatJobKey string
	// DeduplicationID is the deduplication id the job was added with.
	DeduplicationID string
	// ProcessedBy is the name of the worker that took it last.
	ProcessedBy string

	raw   *jobqdriver.Job
	drv   jobqdriver.Driver
	token string
	// slot is the worker slot the job runs in (nil outside a worker).
	slot *jobSlot
}

// Decode unmarshals the job's data into v.
func (j *Job) Decode(v any) error {
	if err := json.Unmarshal(j.Data, v); err != nil {
		return fmt.Errorf("jobq: decode data of job %s: %w", j.ID, err)
	}
	return nil
}

// UpdateProgress stores a progress value (any JSON-encodable value, often a
// number 0–100) and emits a "progress" event.
func (j *Job) UpdateProgress(ctx context.Context, progress any) error {
	b, err := jobqdriver.MarshalJSON(progress)
	if err != nil {
		return fmt.Errorf("jobq: encode progress: %w", err)
	}
	if err := j.drv.UpdateProgress(ctx, j.Queue, j.ID, b); err != nil {
		return fmt.Errorf("jobq: update progress of job %s: %w", j.ID, err)
	}
	j.Progress = b
	return nil
}

// Log appends a line to the job's log.
func (j *Job) Log(ctx context.Context, line string) error {
	if _, err := j.drv.AddLog(ctx, j.Queue, j.ID, line, j.Opts.KeepLogs); err != nil {
		return fmt.Errorf("jobq: log for job %s: %w", j.ID, err)
	}
	return nil
}

// ChildrenValues returns the results of the job's completed children,
// keyed by child key ("<prefix>:<queue>:<id>").
func (j *Job) ChildrenValues(ctx context.Context) (map[string]json.RawMessage, error) {
	v, err := j.drv.ChildrenValues(ctx, j.Queue, j.ID)
	if err != nil {
		return nil, fmt.Errorf("jobq: children values of job %s: %w", j.ID, err)
	}
	return v, nil
}

// ChildrenFailures returns the failure reasons of children that failed with
// ChildFailureIgnore or ChildFailureContinue, keyed by child key.
func (j *Job) ChildrenFailures(ctx context.Context) (map[string]string, error) {
	v, err := j.drv.ChildrenFailures(ctx, j.Queue, j.ID)
	if err != nil {
		return nil, fmt.Errorf("jobq: children failures of job %s: %w", j.ID, err)
	}
	return v, nil
}

// State returns the job's current state.
func (j *Job) State(ctx context.Context) (State, error) {
	s, err := j.drv.JobState(ctx, j.Queue, j.ID)
	if err != nil {
		return StateUnknown, fmt.Errorf("jobq: state of job %s: %w", j.ID, err)
	}
	return State(s), nil
}

// Logs returns the job's log lines.
func (j *Job) Logs(ctx context.Context) ([]string, error) {
	lines, _, err := j.drv.Logs(ctx, j.Queue, j.ID, 0, -1, true)
	if err != nil {
		return nil, fmt.Errorf("jobq: logs of job %s: %w", j.ID, err)
	}
	return lines, nil
}

// Key returns the job's key, as used in parent keys and ChildrenValues.
func (j *Job) Key() string { return j.drv.QueueKey(j.Queue) + ":" + j.ID }

func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// fromDriver wraps a stored job.
func fromDriver(d jobqdriver.Driver, r *jobqdriver.Job) *Job {
	return &Job{
		ID: r.ID, Name: r.Name, Queue: r.Queue, Data: r.Data,
		Opts:            optionsFromDriver(r.Opts),
		Timestamp:       msTime(r.Timestamp),
		Delay:           time.Duration(r.Delay) * time.Millisecond,
		Priority:        r.Priority,
		ProcessedOn:     msTime(r.ProcessedOn),
		FinishedOn:      msTime(r.FinishedOn),
		AttemptsMade:    r.AttemptsMade,
		AttemptsStarted: r.AttemptsStarted,
		StalledCount:    r.StalledCounter,
		Progress:        r.Progress,
		ReturnValue:     r.ReturnValue,
		FailedReason:    r.FailedReason,
		Stacktrace:      r.Stacktrace,
		ParentKey:       r.ParentKey,
		RepeatJobKey:    r.RepeatJobKey,
		DeduplicationID: r.DeduplicationID,
		ProcessedBy:     r.ProcessedBy,
		raw:             r, drv: d, token: r.Token,
	}
}
