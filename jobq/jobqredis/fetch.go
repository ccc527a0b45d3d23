package jobqredis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// fetchArgv encodes FetchParams for fetchMany in lib.lua.
func fetchArgv(p *jobqdriver.FetchParams) []any {
	return appendFetchArgv(make([]any, 0, 4+len(p.Tokens)), p)
}

func appendFetchArgv(args []any, p *jobqdriver.FetchParams) []any {
	limMax, limDur := "", ""
	if p.Limiter != nil && p.Limiter.Max > 0 {
		limMax = strconv.Itoa(p.Limiter.Max)
		limDur = strconv.FormatInt(p.Limiter.Duration, 10)
	}
	args = append(args, strconv.FormatInt(p.LockDuration, 10), p.WorkerName, limMax, limDur)
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
	return d.decodeFetch(ctx, p.Queue, v)
}

// decodeFetch reads fetchMany's reply. A fetch of LAZY_READ_MIN jobs or
// more (lib.lua) returns 0 in place of each job's fields: their hashes
// are read here, in one pipeline. The jobs are locked by then, so only
// this worker changes them; a hash gone meanwhile (a forced obliterate)
// leaves its job out of the result.
func (d *Driver) decodeFetch(ctx context.Context, queue string, v any) (jobqdriver.FetchResult, error) {
	var r jobqdriver.FetchResult
	arr, ok := v.([]any)
	if !ok || len(arr) < 4 {
		return r, fmt.Errorf("jobqredis: fetch from %q: unexpected reply %T", queue, v)
	}
	jobs, _ := arr[0].([]any)
	// The script has run: the jobs are this worker's now, so their read is
	// not cut short by ctx (a lost read would leave them to the stalled
	// check, as stalled).
	ctx = context.WithoutCancel(ctx)
	var lazy []*redis.MapStringStringCmd
	var pipe redis.Pipeliner
	for _, jv := range jobs {
		ja, _ := jv.([]any)
		if len(ja) < 3 {
			continue
		}
		id, _ := ja[0].(string)
		if _, isInt := ja[1].(int64); isInt {
			if pipe == nil {
				pipe = d.client.Pipeline()
				lazy = make([]*redis.MapStringStringCmd, len(jobs))
			}
			lazy[len(r.Jobs)] = pipe.HGetAll(ctx, d.jobKey(queue, id))
			j := &jobqdriver.Job{Queue: queue, ID: id}
			j.Token, _ = ja[2].(string)
			r.Jobs = append(r.Jobs, j)
			continue
		}
		j, err := decodeJob(queue, id, pairsToMap(ja[1]))
		if err != nil {
			return r, err
		}
		j.Token, _ = ja[2].(string)
		j.State = jobqdriver.StateActive
		r.Jobs = append(r.Jobs, j)
	}
	if pipe != nil {
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return jobqdriver.FetchResult{}, fmt.Errorf("jobqredis: fetch from %q: read jobs: %w", queue, err)
		}
		kept := r.Jobs[:0]
		for i, j := range r.Jobs {
			if lazy[i] == nil {
				kept = append(kept, j)
				continue
			}
			h := lazy[i].Val()
			if len(h) == 0 {
				d.log.Warn("jobqredis: fetched job vanished before it was read", "queue", queue, "id", j.ID)
				continue
			}
			full, err := decodeJob(queue, j.ID, h)
			if err != nil {
				return jobqdriver.FetchResult{}, err
			}
			full.Token, full.State = j.Token, jobqdriver.StateActive
			kept = append(kept, full)
		}
		clear(r.Jobs[len(kept):])
		r.Jobs = kept
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

// Finish completes or fails jobs with one script call per queue (the
// calls of several queues go in one pipeline); the call for next's queue
// also fetches next.
func (d *Driver) Finish(ctx context.Context, items []jobqdriver.FinishParams, next *jobqdriver.FetchParams) ([]error, jobqdriver.FetchResult, error) {
	if err := d.checkOpen(); err != nil {
		return nil, jobqdriver.FetchResult{}, err
	}
	if next != nil && len(next.Tokens) == 0 {
		next = nil
	}
	// group the items by queue, keeping their order within a queue
	type group struct {
		queue string
		idx   []int
		fetch bool
		call  *pipedCall
	}
	var groups []*group
	for i := range items {
		var g *group
		for _, x := range groups {
			if x.queue == items[i].Queue {
				g = x
				break
			}
		}
		if g == nil {
			g = &group{queue: items[i].Queue}
			groups = append(groups, g)
		}
		g.idx = append(g.idx, i)
	}
	calls := make([]*pipedCall, 0, len(groups)+1)
	fetchInFinish := false
	for _, g := range groups {
		args, err := finishArgv(items, g.idx, 6+len(items))
		if err != nil {
			return nil, jobqdriver.FetchResult{}, err
		}
		if next != nil && next.Queue == g.queue && !fetchInFinish {
			g.fetch, fetchInFinish = true, true
			args = append(args, "1")
			args = appendFetchArgv(args, next)
		} else {
			args = append(args, "0")
		}
		g.call = &pipedCall{name: "finish", queue: g.queue, args: args}
		calls = append(calls, g.call)
	}
	var fetchCall *pipedCall
	if next != nil && !fetchInFinish {
		args := append([]any{strconv.FormatInt(next.Now, 10)}, fetchArgv(next)...)
		fetchCall = &pipedCall{name: "fetch", queue: next.Queue, args: args}
		calls = append(calls, fetchCall)
	}
	if len(calls) == 0 {
		return nil, jobqdriver.FetchResult{}, nil
	}
	if err := d.runPiped(ctx, calls); err != nil {
		return nil, jobqdriver.FetchResult{}, err
	}
	errs := make([]error, len(items))
	var fetched jobqdriver.FetchResult
	for _, g := range groups {
		v, err := g.call.cmd.Result()
		if err != nil {
			for _, i := range g.idx {
				errs[i] = fmt.Errorf("jobqredis: finish %s/%s: %w%s", g.queue, items[i].ID, err, d.crossSlotHint(err))
			}
			continue
		}
		arr, _ := v.([]any)
		codes, _ := arrAt(arr, 0).([]any)
		if len(arr) < 2 || len(codes) != len(g.idx) {
			for _, i := range g.idx {
				errs[i] = fmt.Errorf("jobqredis: finish %s/%s: unexpected reply", g.queue, items[i].ID)
			}
			continue
		}
		for k, i := range g.idx {
			errs[i] = finishErr(toInt64(codes[k]), g.queue, items[i].ID)
		}
		if g.fetch {
			if fetched, err = d.decodeFetch(ctx, g.queue, arr[1]); err != nil {
				return errs, fetched, err
			}
		}
	}
	if fetchCall != nil {
		v, err := fetchCall.cmd.Result()
		if err != nil {
			return errs, fetched, fmt.Errorf("jobqredis: fetch from %q: %w", fetchCall.queue, err)
		}
		if fetched, err = d.decodeFetch(ctx, fetchCall.queue, v); err != nil {
			return errs, fetched, err
		}
	}
	return errs, fetched, nil
}

func arrAt(a []any, i int) any {
	if i < len(a) {
		return a[i]
	}
	return nil
}

// finishArgv returns finish.lua's ARGV from [2] for the items at idx,
// with room for extra more entries: the number of jobs n, the number of
// profiles m, m profiles of 5 entries (target, keep count, keep age,
// retries exhausted, metrics max points), then 7 entries per job (id,
// token, now, return value or failed reason, stacktrace, attempts made
// when plain, profile number). The entries that are the same for most
// jobs of a batch go once per call in a profile: a script argument costs
// Redis an object and a Lua string each.
func finishArgv(items []jobqdriver.FinishParams, idx []int, extra int) ([]any, error) {
	type profile struct{ target, count, age, exhausted, mp string }
	var profs []profile
	jobs := make([]any, 0, 7*len(idx))
	for _, i := range idx {
		it := &items[i]
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
		plain := ""
		if it.Plain {
			plain = strconv.Itoa(it.AttemptsMade)
		}
		p := profile{target, count, age, exhausted, strconv.Itoa(it.MetricsMaxDataPoints)}
		n := slices.Index(profs, p)
		if n < 0 {
			n = len(profs)
			profs = append(profs, p)
		}
		jobs = append(jobs, it.ID, it.Token, strconv.FormatInt(it.Now, 10), value, st, plain, strconv.Itoa(n+1))
	}
	args := make([]any, 0, 2+5*len(profs)+len(jobs)+extra)
	args = append(args, strconv.Itoa(len(idx)), strconv.Itoa(len(profs)))
	for _, p := range profs {
		args = append(args, p.target, p.count, p.age, p.exhausted, p.mp)
	}
	return append(args, jobs...), nil
}
