package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/jobq"
)

// runQueue implements `atlas queue …`.
func runQueue(ctx context.Context, e *env, cfg *Config, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: queue needs a subcommand (ls, show, jobs, retry, promote, remove, clean, pause, resume)", errUsage)
	}
	sub, rest := args[0], args[1:]
	b, err := queues.OpenBackend(ctx, queues.BackendConfig{
		RedisURL: cfg.Redis.URL, RedisPrefix: cfg.Redis.Prefix, AllowUnsafeRedis: cfg.Redis.AllowUnsafe,
		DataDir: cfg.DataDir, Logger: e.log,
	})
	if err != nil {
		return err
	}
	defer b.Close()
	if sub == "ls" {
		return queueList(ctx, e.stdout, b)
	}
	if len(rest) == 0 {
		return fmt.Errorf("%w: queue %s needs a queue name", errUsage, sub)
	}
	q := jobq.NewQueue(rest[0], b.Driver, nil)
	rest = rest[1:]
	fs := flag.NewFlagSet("queue "+sub, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	state := fs.String("state", "", "job state: waiting, prioritized, delayed, active, completed, failed, waiting-children")
	limit := fs.Int("limit", 0, "how many jobs")
	grace := fs.Duration("grace", 0, "clean only jobs older than this")
	all := fs.Bool("all", false, "retry every failed job")
	if err := fs.Parse(rest); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	pos := fs.Args()
	needID := func() (string, error) {
		if len(pos) != 1 {
			return "", fmt.Errorf("%w: queue %s %s needs one job id", errUsage, sub, q.Name())
		}
		return pos[0], nil
	}
	switch sub {
	case "show":
		return queueShow(ctx, e.stdout, q)
	case "jobs":
		return queueJobs(ctx, e.stdout, q, *state, *limit)
	case "retry":
		if *all {
			n, err := q.RetryAll(ctx)
			if err == nil {
				fmt.Fprintf(e.stdout, "retried %d failed job(s) in %s\n", n, q.Name())
			}
			return err
		}
		id, err := needID()
		if err != nil {
			return err
		}
		return report(e.stdout, q.Retry(ctx, id), "retried %s/%s", q.Name(), id)
	case "promote":
		id, err := needID()
		if err != nil {
			return err
		}
		return report(e.stdout, q.Promote(ctx, id), "promoted %s/%s", q.Name(), id)
	case "remove":
		id, err := needID()
		if err != nil {
			return err
		}
		return report(e.stdout, q.Remove(ctx, id, false), "removed %s/%s", q.Name(), id)
	case "clean":
		st := jobq.State(*state)
		if st == "" {
			st = jobq.StateCompleted
		}
		ids, err := q.Clean(ctx, *grace, *limit, st)
		if err == nil {
			fmt.Fprintf(e.stdout, "removed %d %s job(s) from %s\n", len(ids), st, q.Name())
		}
		return err
	case "pause":
		return report(e.stdout, q.Pause(ctx), "paused %s", q.Name())
	case "resume":
		return report(e.stdout, q.Resume(ctx), "resumed %s", q.Name())
	}
	return fmt.Errorf("%w: unknown queue subcommand %q", errUsage, sub)
}

func report(w io.Writer, err error, format string, args ...any) error {
	if err != nil {
		return err
	}
	fmt.Fprintf(w, format+"\n", args...)
	return nil
}

var countStates = []jobq.State{jobq.StateWaiting, jobq.StatePrioritized, jobq.StateDelayed, jobq.StateActive,
	jobq.StateCompleted, jobq.StateFailed, jobq.StateWaitingChildren}

func queueList(ctx context.Context, w io.Writer, b *queues.Backend) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "QUEUE\tPAUSED")
	for _, s := range countStates {
		fmt.Fprintf(tw, "\t%s", strings.ToUpper(string(s)))
	}
	fmt.Fprintln(tw)
	for _, name := range queues.Queues {
		q := jobq.NewQueue(name, b.Driver, nil)
		counts, err := q.GetJobCounts(ctx, countStates...)
		if err != nil {
			return err
		}
		paused, err := q.IsPaused(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%v", name, paused)
		for _, s := range countStates {
			fmt.Fprintf(tw, "\t%d", counts[s])
		}
		fmt.Fprintln(tw)
	}
	fmt.Fprintf(tw, "(%s backend: %s)\n", b.Kind, b.Location)
	return tw.Flush()
}

func queueShow(ctx context.Context, w io.Writer, q *jobq.Queue) error {
	counts, err := q.GetJobCounts(ctx, countStates...)
	if err != nil {
		return err
	}
	paused, err := q.IsPaused(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "queue %s (paused: %v)\n", q.Name(), paused)
	for _, s := range countStates {
		fmt.Fprintf(w, "  %-17s %d\n", s, counts[s])
	}
	scheds, err := q.GetJobSchedulers(ctx)
	if err != nil {
		return err
	}
	for _, s := range scheds {
		when := s.Pattern
		if when == "" {
			when = "every " + s.Every.String()
		}
		fmt.Fprintf(w, "  scheduler %s (%s %s) next %s, %d run(s)\n", s.ID, when, s.TZ, s.Next.UTC().Format(time.RFC3339), s.Iterations)
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
		fmt.Fprintf(w, "  %s in the last hour: %d (total %d)\n", kind, hour, m.Count)
	}
	return nil
}

func queueJobs(ctx context.Context, w io.Writer, q *jobq.Queue, state string, limit int) error {
	states := countStates
	if state != "" {
		if !slices.Contains(countStates, jobq.State(state)) {
			return fmt.Errorf("%w: unknown state %q", errUsage, state)
		}
		states = []jobq.State{jobq.State(state)}
	}
	if limit <= 0 {
		limit = 20
	}
	list, err := q.GetJobs(ctx, states, 0, limit-1, false)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSTATE\tATTEMPTS\tCREATED\tREASON")
	for _, j := range list {
		st, err := j.State(ctx)
		if err != nil && !errors.Is(err, jobq.ErrJobNotFound) {
			return err
		}
		reason := j.FailedReason
		if len(reason) > 60 {
			reason = reason[:57] + "..."
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", j.ID, j.Name, st, j.AttemptsMade,
			j.Timestamp.UTC().Format(time.RFC3339), strings.ReplaceAll(reason, "\n", " "))
	}
	return tw.Flush()
}
