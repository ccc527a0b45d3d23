package jobqredis

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// codeOf runs a script that answers with an integer code.
func (d *Driver) codeOf(ctx context.Context, name, queue string, args ...any) (int64, error) {
	if err := d.checkOpen(); err != nil {
		return 0, err
	}
	v, err := d.run(ctx, name, queue, args...)
	if err != nil {
		return 0, err
	}
	return toInt64(v), nil
}

// Retry moves an active job back to delayed or to the front of waiting,
// counting an attempt. p.Stacktrace is stored as the job's whole
// stacktrace.
func (d *Driver) Retry(ctx context.Context, p jobqdriver.RetryParams) error {
	st := ""
	if p.Stacktrace != nil {
		b, err := jobqdriver.MarshalJSON(p.Stacktrace)
		if err != nil {
			return fmt.Errorf("jobqredis: encode stacktrace: %w", err)
		}
		st = string(b)
	}
	code, err := d.codeOf(ctx, "retry", p.Queue, p.ID, p.Token, itoa(p.Now), itoa(p.Delay), p.FailedReason, st)
	if err != nil {
		return err
	}
	return finishErr(code, p.Queue, p.ID)
}

// MoveToDelayed moves an active job to delayed until untilMs.
func (d *Driver) MoveToDelayed(ctx context.Context, queue, id, token string, untilMs, now int64) error {
	code, err := d.codeOf(ctx, "delay", queue, id, token, itoa(untilMs), itoa(now))
	if err != nil {
		return err
	}
	return finishErr(code, queue, id)
}

// Release moves an active job back to the front of waiting.
func (d *Driver) Release(ctx context.Context, queue, id, token string, now int64) error {
	code, err := d.codeOf(ctx, "release", queue, id, token, itoa(now))
	if err != nil {
		return err
	}
	return finishErr(code, queue, id)
}

// RateLimit sets the limiter key to a huge count for d, as BullMQ's
// Worker.rateLimit does, so every fetch sees the limit exhausted.
func (d *Driver) RateLimit(ctx context.Context, queue string, dur time.Duration) error {
	if err := d.checkOpen(); err != nil {
		return err
	}
	if dur <= 0 {
		return nil
	}
	const maxSafeInteger = 1<<53 - 1
	if err := d.client.Set(ctx, d.key(queue, "limiter"), maxSafeInteger, dur).Err(); err != nil {
		return fmt.Errorf("jobqredis: rate limit %q: %w", queue, err)
	}
	return nil
}

// ExtendLocks renews locks and returns the ids whose lock was lost.
func (d *Driver) ExtendLocks(ctx context.Context, queue string, locks []jobqdriver.Lock, duration int64, now int64) ([]string, error) {
	if err := d.checkOpen(); err != nil {
		return nil, err
	}
	if len(locks) == 0 {
		return nil, nil
	}
	args := []any{itoa(duration)}
	for _, l := range locks {
		args = append(args, l.ID, l.Token)
	}
	v, err := d.run(ctx, "extendlocks", queue, args...)
	if err != nil {
		return nil, err
	}
	return toStrings(v), nil
}

// CheckStalled runs one stalled sweep (see jobqdriver.Driver).
func (d *Driver) CheckStalled(ctx context.Context, p jobqdriver.StalledParams) (jobqdriver.StalledResult, error) {
	if err := d.checkOpen(); err != nil {
		return jobqdriver.StalledResult{}, err
	}
	interval := p.Interval
	if interval <= 0 {
		interval = 1
	}
	v, err := d.run(ctx, "stalled", p.Queue, strconv.Itoa(p.MaxStalledCount), itoa(interval), itoa(p.Now))
	if err != nil {
		return jobqdriver.StalledResult{}, err
	}
	arr, _ := v.([]any)
	var r jobqdriver.StalledResult
	if len(arr) == 2 {
		r.Recovered, r.Failed = toStrings(arr[0]), toStrings(arr[1])
	}
	return r, nil
}

// UpdateProgress stores progress and emits "progress".
func (d *Driver) UpdateProgress(ctx context.Context, queue, id string, progress json.RawMessage) error {
	if len(progress) == 0 {
		progress = json.RawMessage("0")
	}
	code, err := d.codeOf(ctx, "progress", queue, id, string(progress))
	if err != nil {
		return err
	}
	return finishErr(code, queue, id)
}

// AddLog appends a log line and returns the number of lines.
func (d *Driver) AddLog(ctx context.Context, queue, id, line string, keep int) (int, error) {
	n, err := d.codeOf(ctx, "addlog", queue, id, line, strconv.Itoa(keep))
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, finishErr(n, queue, id)
	}
	return int(n), nil
}

// Logs returns log lines [start, end] (end -1 = all) and the total, in
// insertion order when asc, else newest first.
func (d *Driver) Logs(ctx context.Context, queue, id string, start, end int, asc bool) ([]string, int, error) {
	if err := d.checkOpen(); err != nil {
		return nil, 0, err
	}
	k := d.jobKey(queue, id) + ":logs"
	pipe := d.client.Pipeline()
	lo, hi := int64(start), int64(end)
	if !asc {
		lo, hi = int64(-(end + 1)), int64(-(start + 1))
		if end < 0 {
			lo = 0
		}
	}
	rng := pipe.LRange(ctx, k, lo, hi)
	total := pipe.LLen(ctx, k)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, 0, fmt.Errorf("jobqredis: logs of %s/%s: %w", queue, id, err)
	}
	lines := rng.Val()
	if !asc {
		for i, j := 0, len(lines)-1; i < j; i, j = i+1, j-1 {
			lines[i], lines[j] = lines[j], lines[i]
		}
	}
	return lines, int(total.Val()), nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func toStrings(v any) []string {
	arr, _ := v.([]any)
	out := make([]string, 0, len(arr))
	for _, x := range arr {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
