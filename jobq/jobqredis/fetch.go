package jobqredis

import (
	"context"
	"fmt"
	"strconv"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// fetchArgv encodes FetchParams for fetchMany in lib.lua.
func fetchArgv(p *jobqdriver.FetchParams) []any {
	limMax, limDur := "", ""
	if p.Limiter != nil && p.Limiter.Max > 0 {
		limMax = strconv.Itoa(p.Limiter.Max)
		limDur = strconv.FormatInt(p.Limiter.Duration, 10)
	}
	args := []any{strconv.FormatInt(p.LockDuration, 10), p.WorkerName, limMax, limDur}
	for _, t := range p.Tokens {
		args = append(args, t)
	}
	return args
}

// Fetch moves up to len(p.Tokens) ready jobs to active in one script call.
func (d *Driver) Fetch(ctx context.Context, p jobqdriver.FetchParams) (jobqdriver.FetchResult, error) {
	if err := d.ensureMeta(ctx, p.Queue); err != nil {
		return jobqdriver.FetchResult{}, err
	}
	if len(p.Tokens) == 0 {
		return jobqdriver.FetchResult{}, fmt.Errorf("jobqredis: fetch from %q: no tokens", p.Queue)
	}
	args := append([]any{strconv.FormatInt(p.Now, 10)}, fetchArgv(&p)...)
	v, err := d.run(ctx, "fetch", p.Queue, args...)
	if err != nil {
		return jobqdriver.FetchResult{}, err
	}
	return decodeFetch(p.Queue, v)
}

// decodeFetch reads fetchMany's reply.
func decodeFetch(queue string, v any) (jobqdriver.FetchResult, error) {
	var r jobqdriver.FetchResult
	arr, ok := v.([]any)
	if !ok || len(arr) < 4 {
		return r, fmt.Errorf("jobqredis: fetch from %q: unexpected reply %T", queue, v)
	}
	jobs, _ := arr[0].([]any)
	for _, jv := range jobs {
		ja, _ := jv.([]any)
		if len(ja) < 3 {
			continue
		}
		id, _ := ja[0].(string)
		j, err := decodeJob(queue, id, pairsToMap(ja[1]))
		if err != nil {
			return r, err
		}
		j.Token, _ = ja[2].(string)
		j.State = jobqdriver.StateActive
		r.Jobs = append(r.Jobs, j)
	}
	r.RateLimitDelay = toInt64(arr[1])
	if s, ok := arr[2].(string); ok {
		f, _ := strconv.ParseFloat(s, 64)
		r.NextDelayed = int64(f)
	}
	r.Paused = toInt64(arr[3]) == 1
	return r, nil
}

// finishErr maps finish/retry/delay script codes to errors.
func finishErr(code int64, queue, id string) error {
	switch code {
	case 0:
		return nil
	case -1:
		return fmt.Errorf("jobqredis: job %s/%s: %w", queue, id, jobqdriver.ErrJobNotFound)
	case -2, -6:
		return fmt.Errorf("jobqredis: job %s/%s: %w", queue, id, jobqdriver.ErrLockMismatch)
	case -3:
		return fmt.Errorf("jobqredis: job %s/%s not active: %w", queue, id, jobqdriver.ErrNotInState)
	case -4, -9:
		return fmt.Errorf("jobqredis: job %s/%s: %w", queue, id, jobqdriver.ErrPendingChildren)
	}
	return fmt.Errorf("jobqredis: job %s/%s: script code %d", queue, id, code)
}

// Finish completes or fails jobs in one pipeline; the last item's script
// also fetches next when next is set and targets the same queue.
func (d *Driver) Finish(ctx context.Context, items []jobqdriver.FinishParams, next *jobqdriver.FetchParams) ([]error, jobqdriver.FetchResult, error) {
	if err := d.checkOpen(); err != nil {
		return nil, jobqdriver.FetchResult{}, err
	}
	calls := make([]*pipedCall, 0, len(items)+1)
	fetchIdx := -1
	for i, it := range items {
		args, err := finishArgv(&it)
		if err != nil {
			return nil, jobqdriver.FetchResult{}, err
		}
		if i == len(items)-1 && next != nil && next.Queue == it.Queue && len(next.Tokens) > 0 {
			args = append(args, "1")
			args = append(args, fetchArgv(next)...)
			fetchIdx = i
		} else {
			args = append(args, "0")
		}
		calls = append(calls, &pipedCall{name: "finish", queue: it.Queue, args: args})
	}
	if next != nil && fetchIdx < 0 && len(next.Tokens) > 0 {
		args := append([]any{strconv.FormatInt(next.Now, 10)}, fetchArgv(next)...)
		calls = append(calls, &pipedCall{name: "fetch", queue: next.Queue, args: args})
	}
	if err := d.runPiped(ctx, calls); err != nil {
		return nil, jobqdriver.FetchResult{}, err
	}
	errs := make([]error, len(items))
	var fetched jobqdriver.FetchResult
	for i, c := range calls {
		v, err := c.cmd.Result()
		if err != nil {
			if i < len(items) {
				errs[i] = fmt.Errorf("jobqredis: finish %s/%s: %w%s", c.queue, items[i].ID, err, d.crossSlotHint(err))
				continue
			}
			return errs, fetched, fmt.Errorf("jobqredis: fetch from %q: %w", c.queue, err)
		}
		if i >= len(items) {
			if fetched, err = decodeFetch(c.queue, v); err != nil {
				return errs, fetched, err
			}
			continue
		}
		arr, _ := v.([]any)
		if len(arr) < 2 {
			errs[i] = fmt.Errorf("jobqredis: finish %s/%s: unexpected reply", c.queue, items[i].ID)
			continue
		}
		errs[i] = finishErr(toInt64(arr[0]), c.queue, items[i].ID)
		if i == fetchIdx {
			if fetched, err = decodeFetch(c.queue, arr[1]); err != nil {
				return errs, fetched, err
			}
		}
	}
	return errs, fetched, nil
}

func finishArgv(it *jobqdriver.FinishParams) ([]any, error) {
	target, value := "completed", string(it.ReturnValue)
	if it.Failed {
		target, value = "failed", it.FailedReason
	} else if value == "" {
		value = "null"
	}
	st := ""
	if it.Failed && it.Stacktrace != nil {
		b, err := jobqdriver.MarshalJSON(it.Stacktrace)
		if err != nil {
			return nil, fmt.Errorf("jobqredis: encode stacktrace: %w", err)
		}
		st = string(b)
	}
	count, age := "", ""
	if k := it.Keep; k != nil {
		if k.Count >= 0 {
			count = strconv.Itoa(k.Count)
		}
		if k.Age > 0 {
			age = strconv.FormatInt(k.Age, 10)
		}
		if k.Count == 0 && k.Age > 0 {
			count = "" // {age} only: keep by age
		}
	}
	exhausted := "0"
	if it.RetriesExhausted {
		exhausted = "1"
	}
	return []any{
		it.ID, it.Token, strconv.FormatInt(it.Now, 10), target, value, st, count, age,
		exhausted, strconv.Itoa(it.MetricsMaxDataPoints),
	}, nil
}
