package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/jobq"
)

// Exit statuses of `atlas queue` beyond 0 (success), 1 (any other
// failure) and 2 (usage: bad flags, unknown queue, subcommand or state).
const (
	exitNotFound   = 3 // the job or scheduler does not exist
	exitWrongState = 4 // the job is in a state the action does not apply to
)

// exitError carries an exit status for Run.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// ExitCode returns the process exit status.
func (e *exitError) ExitCode() int { return e.code }

// queueSub describes one `atlas queue` subcommand: its positional
// arguments after the queue name and the flags it accepts (besides
// --json and the backend settings, which every subcommand accepts).
type queueSub struct {
	ids   string // "" none, "one" one job id, "one-or-all" an id or --all, "scheduler" a scheduler id
	queue bool   // takes a queue name
	flags []string
}

var queueSubs = map[string]queueSub{
	"ls":        {},
	"show":      {queue: true},
	"jobs":      {queue: true, flags: []string{"state", "limit"}},
	"retry":     {queue: true, ids: "one-or-all", flags: []string{"all"}},
	"promote":   {queue: true, ids: "one"},
	"remove":    {queue: true, ids: "one"},
	"clean":     {queue: true, flags: []string{"state", "grace", "limit"}},
	"drain":     {queue: true, flags: []string{"delayed"}},
	"pause":     {queue: true},
	"resume":    {queue: true},
	"run-now":   {queue: true, ids: "scheduler"},
	"scheduler": {queue: true, ids: "scheduler-action"},
}

// queueFlags are the subcommand flags after parsing.
type queueFlags struct {
	json, all, delayed bool
	state              string
	limit              int
	grace              string
}

// queueCmdSettings are the settings of `atlas queue`: the backend's and
// --json, which may also come before the subcommand.
func (c *Config) queueCmdSettings() []setting {
	return append(c.queueSettings(), boolSetting(&c.QueueJSON, "json", "ATLAS_QUEUE_JSON", false,
		"print results and errors as JSON (fields in docs/OPERATIONS.md)"))
}

// runQueue implements `atlas queue …`. Flags may come anywhere on the
// line; a flag the subcommand does not take is refused.
func runQueue(ctx context.Context, e *env, cfg *Config, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: queue needs a subcommand (%s)", errUsage, strings.Join(queueSubNames(), ", "))
	}
	sub, ok := queueSubs[args[0]]
	if !ok {
		return fmt.Errorf("%w: unknown queue subcommand %q (want %s)", errUsage, args[0], strings.Join(queueSubNames(), ", "))
	}
	name := args[0]
	f := queueFlags{json: cfg.QueueJSON}
	fs := flag.NewFlagSet("queue "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	for _, s := range cfg.queueSettings() {
		if s.isBool {
			fs.BoolFunc(s.flag, s.usage, s.set)
		} else {
			fs.Func(s.flag, s.usage, s.set)
		}
	}
	fs.BoolVar(&f.json, "json", f.json, "print JSON (see docs/OPERATIONS.md for the fields)")
	fs.StringVar(&f.state, "state", "", "job state")
	fs.IntVar(&f.limit, "limit", 0, "how many jobs")
	fs.StringVar(&f.grace, "grace", "0s", "only jobs older than this")
	fs.BoolVar(&f.all, "all", false, "every failed job")
	fs.BoolVar(&f.delayed, "delayed", false, "also delayed jobs")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return fmt.Errorf("%w: queue %s: %w", errUsage, name, err)
	}
	settingFlags := map[string]bool{"json": true}
	for _, s := range cfg.queueSettings() {
		settingFlags[s.flag] = true
	}
	var refused error
	fs.Visit(func(fl *flag.Flag) {
		if refused == nil && !settingFlags[fl.Name] && !slices.Contains(sub.flags, fl.Name) {
			refused = fmt.Errorf("%w: flag --%s does not apply to queue %s", errUsage, fl.Name, name)
		}
	})
	if refused != nil {
		return refused
	}
	if _, err := cfg.level(); err != nil {
		return err
	}
	out := queueOutput{w: e.stdout, json: f.json}
	err = queueDispatch(ctx, e, cfg, name, sub, f, pos, out)
	if err != nil && f.json {
		out.writeError(err)
	}
	return err
}

func queueSubNames() []string {
	names := make([]string, 0, len(queueSubs))
	for n := range queueSubs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// parseInterspersed parses flags that may come before, between or after
// positional arguments ("--" ends the flags).
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var tail []string
	if i := slices.Index(args, "--"); i >= 0 {
		args, tail = args[:i], args[i+1:]
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return append(pos, tail...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// explicitLogLevel reports whether the log level was asked for, by
// ATLAS_LOG_LEVEL or a --log-level flag among args.
func explicitLogLevel(getenv func(string) string, args []string) bool {
	if getenv("ATLAS_LOG_LEVEL") != "" {
		return true
	}
	for _, a := range args {
		if a == "--" {
			return false
		}
		n := strings.TrimLeft(a, "-")
		if strings.HasPrefix(a, "-") && (n == "log-level" || strings.HasPrefix(n, "log-level=")) {
			return true
		}
	}
	return false
}

// openQueueBackend opens the configured backend; for SQLite the queue
// file must exist already (a queue command never creates one).
func openQueueBackend(ctx context.Context, e *env, cfg *Config) (*queues.Backend, error) {
	if cfg.Redis.URL == "" {
		path := filepath.Join(cfg.DataDir, "queue.db")
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("no queue file at %s (wrong --data-dir or ATLAS_DATA_DIR? `atlas run` or `atlas worker` creates it): %w", path, err)
		}
	}
	return queues.OpenBackend(ctx, queues.BackendConfig{
		RedisURL: cfg.Redis.URL, RedisPrefix: cfg.Redis.Prefix, AllowUnsafeRedis: cfg.Redis.AllowUnsafe,
		DataDir: cfg.DataDir, Logger: e.log,
	})
}

// classify gives jobq errors their exit status.
func classify(err error) error {
	var se *jobq.StateError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		return &exitError{exitWrongState, err}
	case errors.Is(err, jobq.ErrJobNotFound):
		return &exitError{exitNotFound, err}
	}
	return err
}
