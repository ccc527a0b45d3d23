package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/sevra/atlas/jobq"
)

// The JSON that `atlas queue … --json` prints. Field names are stable
// (docs/OPERATIONS.md lists them); times are RFC 3339 in UTC with
// milliseconds, or null.

type lsJSON struct {
	Backend  string      `json:"backend"`
	Location string      `json:"location"`
	Queues   []queueJSON `json:"queues"`
}

type queueJSON struct {
	Name   string           `json:"name"`
	Paused bool             `json:"paused"`
	Counts map[string]int64 `json:"counts"`
}

type showJSON struct {
	queueJSON
	Schedulers []schedulerJSON        `json:"schedulers"`
	Metrics    map[string]metricsJSON `json:"metrics"`
	Workers    []workerJSON           `json:"workers"`
}

type schedulerJSON struct {
	ID         string  `json:"id"`
	Name       string  `json:"name"`
	EveryMS    int64   `json:"every_ms"`
	Pattern    string  `json:"pattern"`
	TZ         string  `json:"tz"`
	Limit      int     `json:"limit"`
	Iterations int     `json:"iterations"`
	Next       *string `json:"next"`
	Paused     bool    `json:"paused"`
}

type metricsJSON struct {
	LastHour int64 `json:"last_hour"`
	Total    int64 `json:"total"`
}

type workerJSON struct {
	Name        string  `json:"name"`
	Host        string  `json:"host"`
	Pid         int     `json:"pid"`
	Concurrency int     `json:"concurrency"`
	Started     *string `json:"started"`
	LastSeen    *string `json:"last_seen"`
}

type jobsJSON struct {
	Queue string    `json:"queue"`
	State string    `json:"state"`
	Jobs  []jobJSON `json:"jobs"`
}

type jobJSON struct {
	ID           string          `json:"id"`
	Name         string          `json:"name"`
	State        string          `json:"state"`
	AttemptsMade int             `json:"attempts_made"`
	Timestamp    *string         `json:"timestamp"`
	ProcessedOn  *string         `json:"processed_on"`
	FinishedOn   *string         `json:"finished_on"`
	FailedReason string          `json:"failed_reason"`
	Data         json.RawMessage `json:"data"`
}

type actionJSON struct {
	Queue  string   `json:"queue"`
	Action string   `json:"action"`
	Count  int      `json:"count"`
	IDs    []string `json:"ids"`
}

type errorJSON struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		State   string `json:"state,omitempty"`
	} `json:"error"`
}

// jsonTime formats t for JSON output, nil for the zero time.
func jsonTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	return &s
}

func deref(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}

// queueOutput writes a result as JSON or as a table.
type queueOutput struct {
	w    io.Writer
	json bool
}

func (o queueOutput) write(v any, table func(w *tabwriter.Writer)) error {
	if o.json {
		enc := json.NewEncoder(o.w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(o.w, 0, 4, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

func (o queueOutput) action(queue, action string, ids []string, n int, text string) error {
	if ids == nil {
		ids = []string{}
	}
	return o.write(actionJSON{Queue: queue, Action: action, Count: n, IDs: ids}, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, text)
	})
}

// writeError prints err as {"error":{"code","message","state"}}: code is
// usage, not_found, wrong_state or failed.
func (o queueOutput) writeError(err error) {
	var e errorJSON
	e.Error.Message, e.Error.Code = err.Error(), "failed"
	var se *jobq.StateError
	switch {
	case errors.Is(err, errUsage):
		e.Error.Code = "usage"
	case errors.As(err, &se):
		e.Error.Code, e.Error.State = "wrong_state", string(se.State)
	case errors.Is(err, jobq.ErrJobNotFound):
		e.Error.Code = "not_found"
	}
	_ = o.write(e, nil)
}
