package jobqsqlite

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// jobCols are the columns scanJob reads, in order.
const jobCols = `queue, id, name, data, opts, ts, delay, priority, state, processed_on, finished_on,
	ats, atm, stc, progress, returnvalue, failed_reason, stacktrace, parent_key, parent, pb, rjk, deid, defa`

type scanner interface{ Scan(dest ...any) error }

// scanJob reads one row of jobCols.
func scanJob(s scanner) (*jobqdriver.Job, error) {
	var (
		j                                    jobqdriver.Job
		data, opts, progress, rv, st, parent []byte
	)
	err := s.Scan(&j.Queue, &j.ID, &j.Name, &data, &opts, &j.Timestamp, &j.Delay, &j.Priority, &j.State,
		&j.ProcessedOn, &j.FinishedOn, &j.AttemptsStarted, &j.AttemptsMade, &j.StalledCounter,
		&progress, &rv, &j.FailedReason, &st, &j.ParentKey, &parent, &j.ProcessedBy, &j.RepeatJobKey,
		&j.DeduplicationID, &j.DeferredFailure)
	if err != nil {
		return nil, fmt.Errorf("jobqsqlite: scan job: %w", err)
	}
	j.Data = raw(data)
	j.Progress = raw(progress)
	j.ReturnValue = raw(rv)
	if len(opts) > 0 {
		if err := json.Unmarshal(opts, &j.Opts); err != nil {
			return nil, fmt.Errorf("jobqsqlite: job %s opts: %w", j.ID, err)
		}
	}
	if len(st) > 0 {
		if err := json.Unmarshal(st, &j.Stacktrace); err != nil {
			return nil, fmt.Errorf("jobqsqlite: job %s stacktrace: %w", j.ID, err)
		}
	}
	if len(parent) > 0 {
		j.Parent = new(jobqdriver.ParentRef)
		if err := json.Unmarshal(parent, j.Parent); err != nil {
			return nil, fmt.Errorf("jobqsqlite: job %s parent: %w", j.ID, err)
		}
	}
	return &j, nil
}

// raw returns b as JSON, nil when empty.
func raw(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return json.RawMessage(b)
}

// nullJSON stores raw JSON as text, or NULL when empty.
func nullJSON(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// stacktraceJSON encodes a stacktrace, NULL when empty.
func stacktraceJSON(st []string) (any, error) {
	if st == nil {
		return nil, nil
	}
	b, err := jobqdriver.MarshalJSON(st)
	if err != nil {
		return nil, fmt.Errorf("jobqsqlite: encode stacktrace: %w", err)
	}
	return string(b), nil
}

// queryJobs runs q (selecting jobCols) on the write transaction.
func (t *wtx) queryJobs(q string, args ...any) ([]*jobqdriver.Job, error) {
	rows, err := t.query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*jobqdriver.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// parentOf returns the queue and id of a job's parent from its stored
// parent ref, or from its parent key.
func (d *Driver) parentOf(parentKey string, parent *jobqdriver.ParentRef) (queue, id string, ok bool) {
	if parent != nil && parent.ID != "" {
		return d.splitQueueKey(parent.QueueKey), parent.ID, true
	}
	if parentKey == "" {
		return "", "", false
	}
	rest := strings.TrimPrefix(parentKey, d.cfg.Prefix+":")
	queue, id, ok = strings.Cut(rest, ":")
	return queue, id, ok
}

// parentOfJSON is parentOf for a stored parent column.
func (d *Driver) parentOfJSON(parentKey string, parentJSON []byte) (queue, id string, ok bool) {
	var ref *jobqdriver.ParentRef
	if len(parentJSON) > 0 {
		ref = new(jobqdriver.ParentRef)
		if err := json.Unmarshal(parentJSON, ref); err != nil {
			ref = nil
		}
	}
	return d.parentOf(parentKey, ref)
}

// ordering returns the state, score and ord of a job made ready to run:
// delayed when runAt is in the future, else prioritized or waiting.
// front puts a waiting job first, a prioritized one first of its priority.
func readyPlace(m *meta, priority int, front bool) (state string, score, ord int64) {
	seq := m.nextSeq()
	if front {
		seq = -seq
	}
	if priority > 0 {
		return jobqdriver.StatePrioritized, int64(priority), seq
	}
	return jobqdriver.StateWaiting, 0, seq
}

// emitReady emits the event for a job that entered state: "delayed" with
// the absolute run time, else "waiting" (with prev when given).
func (t *wtx) emitReady(queue, id, state string, runAt int64, prev string) {
	switch state {
	case jobqdriver.StateDelayed:
		t.emit(queue, "delayed", "jobId", id, "delay", itoa(runAt))
	default:
		if prev == "" {
			t.emit(queue, "waiting", "jobId", id)
		} else {
			t.emit(queue, "waiting", "jobId", id, "prev", prev)
		}
	}
}
