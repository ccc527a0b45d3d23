package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/jobq"
)

// queueDispatch runs one parsed `atlas queue` subcommand.
func queueDispatch(ctx context.Context, e *env, cfg *Config, name string, sub queueSub, f queueFlags, pos []string, out queueOutput) error {
	want := 0
	if sub.queue {
		want++
	}
	switch sub.ids {
	case "one", "scheduler":
		want++
	case "one-or-all":
		if !f.all {
			want++
		}
	case "scheduler-action":
		want += 2
	}
	if len(pos) != want {
		return fmt.Errorf("%w: queue %s takes %s, got %d argument(s) %q", errUsage, name, queueArgsHelp(name, sub), len(pos), pos)
	}
	if sub.queue && !slices.Contains(queues.Queues, pos[0]) {
		return fmt.Errorf("%w: unknown queue %q (queues: %s)", errUsage, pos[0], strings.Join(queues.Queues, ", "))
	}
	var state jobq.State
	if f.state != "" {
		state = jobq.State(f.state)
		if !slices.Contains(countStates, state) {
			return fmt.Errorf("%w: unknown state %q (want one of %s)", errUsage, f.state, joinStates(countStates))
		}
	}
	grace, err := time.ParseDuration(f.grace)
	if err != nil || grace < 0 {
		return fmt.Errorf("%w: --grace %q: want a duration such as 1h", errUsage, f.grace)
	}
	b, err := openQueueBackend(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer b.Close()
	if name == "ls" {
		return queueList(ctx, out, b)
	}
	q := jobq.NewQueue(pos[0], b.Driver, nil)
	act := func(action string, ids []string, err error) error {
		if err != nil {
			return classify(err)
		}
		return out.action(q.Name(), action, ids, len(ids), fmt.Sprintf("%s %s/%s", pastTense[action], q.Name(), strings.Join(ids, ", ")))
	}
	switch name {
	case "show":
		return queueShow(ctx, out, q)
	case "jobs":
		return queueJobs(ctx, out, q, state, f.limit)
	case "retry":
		if f.all {
			n, err := q.RetryAll(ctx)
			if err != nil {
				return err
			}
			return out.action(q.Name(), "retry", nil, n, fmt.Sprintf("retried %d failed job(s) in %s", n, q.Name()))
		}
		return act("retry", pos[1:], q.Retry(ctx, pos[1]))
	case "promote":
		return act("promote", pos[1:], q.Promote(ctx, pos[1]))
	case "remove":
		return act("remove", pos[1:], q.Remove(ctx, pos[1], false))
	case "clean":
		if state == "" {
			state = jobq.StateCompleted
		}
		ids, err := q.Clean(ctx, grace, f.limit, state)
		if err != nil {
			return err
		}
		return out.action(q.Name(), "clean", ids, len(ids), fmt.Sprintf("removed %d %s job(s) from %s", len(ids), state, q.Name()))
	case "drain":
		before, err := q.GetJobCounts(ctx, jobq.StateWaiting, jobq.StatePrioritized, jobq.StateDelayed)
		if err != nil {
			return err
		}
		if err := q.Drain(ctx, f.delayed); err != nil {
			return err
		}
		n := before[jobq.StateWaiting] + before[jobq.StatePrioritized]
		if f.delayed {
			n += before[jobq.StateDelayed]
		}
		return out.action(q.Name(), "drain", nil, int(n), fmt.Sprintf("drained %s (%d job(s) were waiting)", q.Name(), n))
	case "pause", "resume":
		var err error
		if name == "pause" {
			err = q.Pause(ctx)
		} else {
			err = q.Resume(ctx)
		}
		if err != nil {
			return err
		}
		return out.action(q.Name(), name, nil, 0, fmt.Sprintf("%s %s", pastTense[name], q.Name()))
	case "run-now":
		j, err := q.RunJobSchedulerNow(ctx, pos[1])
		if err != nil {
			return classify(err)
		}
		return out.action(q.Name(), "run-now", []string{j.ID}, 1, fmt.Sprintf("added job %s from scheduler %s", j.ID, pos[1]))
	case "scheduler":
		return queueScheduler(ctx, out, q, pos[1], pos[2])
	}
	return fmt.Errorf("%w: unknown queue subcommand %q", errUsage, name)
}

var pastTense = map[string]string{"retry": "retried", "promote": "promoted", "remove": "removed", "pause": "paused", "resume": "resumed"}

func queueArgsHelp(name string, sub queueSub) string {
	switch {
	case name == "ls":
		return "no arguments"
	case sub.ids == "one":
		return "a queue and a job id"
	case sub.ids == "one-or-all":
		return "a queue and a job id, or a queue and --all"
	case sub.ids == "scheduler":
		return "a queue and a scheduler id"
	case sub.ids == "scheduler-action":
		return "a queue, a scheduler id and pause, resume or remove"
	}
	return "a queue name"
}

func joinStates(ss []jobq.State) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return strings.Join(out, ", ")
}

// queueScheduler pauses, resumes or removes a job scheduler.
func queueScheduler(ctx context.Context, out queueOutput, q *jobq.Queue, id, action string) error {
	var changed bool
	var err error
	switch action {
	case "pause":
		changed, err = q.PauseJobScheduler(ctx, id)
	case "resume":
		changed, err = q.ResumeJobScheduler(ctx, id)
	case "remove":
		changed, err = q.RemoveJobScheduler(ctx, id)
		if err == nil && !changed {
			err = fmt.Errorf("scheduler %s: %w", id, jobq.ErrJobNotFound)
		}
	default:
		return fmt.Errorf("%w: scheduler action %q: want pause, resume or remove", errUsage, action)
	}
	if err != nil {
		return classify(err)
	}
	n, msg := 0, fmt.Sprintf("scheduler %s: %s (no change)", id, action)
	if changed {
		n, msg = 1, fmt.Sprintf("scheduler %s: %s done", id, action)
	}
	return out.action(q.Name(), "scheduler-"+action, []string{id}, n, msg)
}

var countStates = []jobq.State{jobq.StateWaiting, jobq.StatePrioritized, jobq.StateDelayed, jobq.StateActive,
	jobq.StateCompleted, jobq.StateFailed, jobq.StateWaitingChildren}

func queueList(ctx context.Context, out queueOutput, b *queues.Backend) error {
	res := lsJSON{Backend: b.Kind, Location: b.Location, Queues: []queueJSON{}}
	for _, name := range queues.Queues {
		q := jobq.NewQueue(name, b.Driver, nil)
		qj, err := summarizeQueue(ctx, q)
		if err != nil {
			return err
		}
		res.Queues = append(res.Queues, qj)
	}
	return out.write(res, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "QUEUE\tPAUSED")
		for _, s := range countStates {
			fmt.Fprintf(w, "\t%s", strings.ToUpper(string(s)))
		}
		fmt.Fprintln(w)
		for _, q := range res.Queues {
			fmt.Fprintf(w, "%s\t%v", q.Name, q.Paused)
			for _, s := range countStates {
				fmt.Fprintf(w, "\t%d", q.Counts[string(s)])
			}
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "(%s backend: %s)\n", b.Kind, b.Location)
	})
}

func summarizeQueue(ctx context.Context, q *jobq.Queue) (queueJSON, error) {
	counts, err := q.GetJobCounts(ctx, countStates...)
	if err != nil {
		return queueJSON{}, err
	}
	paused, err := q.IsPaused(ctx)
	if err != nil {
		return queueJSON{}, err
	}
	qj := queueJSON{Name: q.Name(), Paused: paused, Counts: map[string]int64{}}
	for _, s := range countStates {
		qj.Counts[string(s)] = counts[s]
	}
	return qj, nil
}

func queueShow(ctx context.Context, out queueOutput, q *jobq.Queue) error {
	qj, err := summarizeQueue(ctx, q)
	if err != nil {
		return err
	}
	res := showJSON{queueJSON: qj, Schedulers: []schedulerJSON{}, Metrics: map[string]metricsJSON{}, Workers: []workerJSON{}}
	scheds, err := q.GetJobSchedulers(ctx)
	if err != nil {
		return err
	}
	for _, s := range scheds {
		res.Schedulers = append(res.Schedulers, schedulerJSON{ID: s.ID, Name: s.Name, EveryMS: s.Every.Milliseconds(),
			Pattern: s.Pattern, TZ: s.TZ, Limit: s.Limit, Iterations: s.Iterations, Next: jsonTime(s.Next), Paused: s.Paused})
	}
	for _, kind := range []jobq.MetricsKind{jobq.MetricsCompleted, jobq.MetricsFailed} {
		m, err := q.GetMetrics(ctx, kind, 0, 59)
		if err != nil {
			return err
		}
		var hour int64
		for _, v := range m.Data {
			hour += v
		}
		res.Metrics[string(kind)] = metricsJSON{LastHour: hour, Total: m.Count}
	}
	ws, err := q.GetWorkers(ctx)
	if err != nil && err != jobq.ErrNoWorkerList {
		return err
	}
	for _, w := range ws {
		res.Workers = append(res.Workers, workerJSON{Name: w.Name, Host: w.Host, Pid: w.Pid, Concurrency: w.Concurrency,
			Started: jsonTime(w.Started), LastSeen: jsonTime(w.LastSeen)})
	}
	return out.write(res, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "queue %s (paused: %v)\n", q.Name(), qj.Paused)
		for _, s := range countStates {
			fmt.Fprintf(w, "  %-17s %d\n", s, qj.Counts[string(s)])
		}
		for _, s := range res.Schedulers {
			when := s.Pattern
			if when == "" {
				when = fmt.Sprintf("every %s", time.Duration(s.EveryMS)*time.Millisecond)
			}
			paused := ""
			if s.Paused {
				paused = " (paused)"
			}
			fmt.Fprintf(w, "  scheduler %s (%s %s ) next %s, %d run(s)%s\n", s.ID, when, s.TZ, deref(s.Next), s.Iterations, paused)
		}
		for _, k := range []string{"completed", "failed"} {
			fmt.Fprintf(w, "  %s in the last hour: %d (total %d)\n", k, res.Metrics[k].LastHour, res.Metrics[k].Total)
		}
		for _, wk := range res.Workers {
			fmt.Fprintf(w, "  worker %s: host %s pid %d concurrency %d, last seen %s\n", wk.Name, wk.Host, wk.Pid, wk.Concurrency, deref(wk.LastSeen))
		}
	})
}

func queueJobs(ctx context.Context, out queueOutput, q *jobq.Queue, state jobq.State, limit int) error {
	states := countStates
	if state != "" {
		states = []jobq.State{state}
	}
	if limit <= 0 {
		limit = 20
	}
	list, err := q.GetJobs(ctx, states, 0, limit-1, false)
	if err != nil {
		return err
	}
	res := jobsJSON{Queue: q.Name(), State: string(state), Jobs: []jobJSON{}}
	for _, j := range list {
		st, err := j.State(ctx)
		if err != nil {
			return err
		}
		res.Jobs = append(res.Jobs, jobJSON{ID: j.ID, Name: j.Name, State: string(st), AttemptsMade: j.AttemptsMade,
			Timestamp: jsonTime(j.Timestamp), ProcessedOn: jsonTime(j.ProcessedOn), FinishedOn: jsonTime(j.FinishedOn),
			FailedReason: j.FailedReason, Data: j.Data})
	}
	return out.write(res, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "ID\tNAME\tSTATE\tATTEMPTS\tCREATED\tREASON")
		for _, j := range res.Jobs {
			reason := j.FailedReason
			if len(reason) > 60 {
				reason = reason[:57] + "..."
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\n", j.ID, j.Name, j.State, j.AttemptsMade, deref(j.Timestamp),
				strings.ReplaceAll(reason, "\n", " "))
		}
	})
}
