// Package cli implements the atlas command: its subcommands, their
// configuration (flags and ATLAS_* variables) and the process lifecycle.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/sevra/atlas/internal/tracing"
)

// command is one subcommand.
type command struct {
	name, args, summary, long string
	// positional commands take arguments after their flags.
	positional bool
	// quietLog commands log only when a log level is given explicitly.
	quietLog bool
	settings func(*Config) []setting
	run      func(ctx context.Context, e *env, cfg *Config, args []string) error
}

// env is what a command talks to.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	log            *slog.Logger
}

func commands() map[string]command {
	none := func(*Config) []setting { return nil }
	list := []command{
		{name: "run", summary: "serve the API, workers, schedulers and dashboard in one process",
			long: "Applies migrations, optionally seeds demo data (--demo), serves HTTP and runs every\n" +
				"component (queue workers for every queue with handlers) until SIGINT or SIGTERM, then\n" +
				"drains requests, lets active jobs finish within the shutdown timeout, and stops.",
			settings: (*Config).runSettings, run: runAll},
		{name: "serve", summary: "serve the API only",
			long:     "Like run, without queue workers or schedulers.",
			settings: (*Config).serverSettings, run: runServe},
		{name: "worker", summary: "run queue workers only",
			long: "Runs the queue workers (all queues with handlers, or --queues) until SIGINT or SIGTERM,\n" +
				"then lets active jobs finish within the shutdown timeout.",
			settings: (*Config).workerSettings, run: runWorker},
		{name: "migrate", summary: "apply the embedded database migrations",
			settings: (*Config).storeSettings, run: runMigrate},
		{name: "seed", args: "[--cities N] [--salons N] [--reviews N] [--posts N] [--seed S]",
			summary: "insert realistic, deterministic demo data",
			long: "Applies migrations, then bulk-inserts cities, users, salons, reviews (power-law counts,\n" +
				"consistent rating aggregates), posts and a few slug redirects.",
			settings: (*Config).seedSettings, run: runSeed},
		{name: "queue", args: "ls | show Q | jobs Q [--state S] [--limit N] | retry Q ID|--all | promote Q ID | remove Q ID | clean Q [--state S] [--grace D] [--limit N] | drain Q [--delayed] | pause Q | resume Q | run-now Q SCHEDULER | scheduler Q SCHEDULER pause|resume|remove  [--json]",
			summary: "inspect and manage job queues", positional: true, quietLog: true,
			long: "Works on the configured queue backend (SQLite <data-dir>/queue.db, which must exist, or Redis with\n" +
				"--redis-url). Flags may come anywhere on the line; a flag a subcommand does not take is refused.\n" +
				"--json prints the result (or {\"error\":{code,message,state}}) as JSON; docs/OPERATIONS.md lists the fields.\n" +
				"Log lines go to stderr only with --log-level. Exit status: 0 done, 1 failed, 2 usage (bad flag,\n" +
				"unknown queue, subcommand or state), 3 job or scheduler not found, 4 job in the wrong state.",
			settings: (*Config).queueCmdSettings, run: runQueue},
		{name: "version", summary: "print the version", settings: none, run: runVersion},
	}
	m := map[string]command{}
	for _, c := range list {
		m[c.name] = c
	}
	return m
}

// Run executes the atlas command line args (without the program name) and
// returns the process exit status: 0 on success (including shutdown by a
// cancelled ctx), 1 on failure, 2 on a usage error. getenv reads the
// environment (os.Getenv in production). Run never traps signals: cancel
// ctx to stop a long-running command.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 {
		usage(stderr, cmds)
		return 2
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "--help", "-help":
		if len(rest) == 0 {
			usage(stdout, cmds)
			return 0
		}
		c, ok := cmds[rest[0]]
		if !ok {
			fmt.Fprintf(stderr, "atlas: unknown command %q\n", rest[0])
			return 2
		}
		commandHelp(stdout, c)
		return 0
	}
	c, ok := cmds[name]
	if !ok {
		fmt.Fprintf(stderr, "atlas: unknown command %q\n", name)
		usage(stderr, cmds)
		return 2
	}
	cfg := &Config{}
	pos, err := parseSettings(c.name, c.settings(cfg), rest, getenv)
	if errors.Is(err, flag.ErrHelp) {
		commandHelp(stdout, c)
		return 0
	}
	if err == nil && len(pos) > 0 && !c.positional {
		err = fmt.Errorf("%w: unexpected argument %q", errUsage, pos[0])
	}
	level := slog.LevelInfo
	if err == nil && cfg.LogLevel != "" {
		level, err = cfg.level()
	}
	if err != nil {
		fmt.Fprintf(stderr, "atlas %s: %v\nRun 'atlas help %s' for usage.\n", c.name, err, c.name)
		return 2
	}
	e := &env{stdout: stdout, stderr: stderr, getenv: getenv,
		log: slog.New(tracing.NewLogHandler(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})))}
	if c.quietLog && !explicitLogLevel(getenv, rest) {
		e.log = slog.New(slog.DiscardHandler) // scripts read stderr: log lines only when asked for
	}
	if err := c.run(ctx, e, cfg, pos); err != nil {
		var coded interface{ ExitCode() int }
		if errors.As(err, &coded) {
			fmt.Fprintf(stderr, "atlas %s: %v\n", c.name, err)
			return coded.ExitCode()
		}
		if errors.Is(err, errUsage) {
			fmt.Fprintf(stderr, "atlas %s: %v\n", c.name, err)
			return 2
		}
		fmt.Fprintf(stderr, "atlas %s: %v\n", c.name, err)
		return 1
	}
	return 0
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "Atlas: an SEO-driven salon directory.\n\nUsage: atlas <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'atlas help <command>' for its settings. Every flag is also an ATLAS_* variable.")
}

func commandHelp(w io.Writer, c command) {
	fmt.Fprintf(w, "Usage: atlas %s [flags] %s\n\n%s.\n", c.name, c.args, strings.ToUpper(c.summary[:1])+c.summary[1:])
	if c.long != "" {
		fmt.Fprintf(w, "\n%s\n", c.long)
	}
	printSettings(w, c.settings(&Config{}))
}

// Version is the module version of the running binary, or "devel".
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

func runVersion(_ context.Context, e *env, _ *Config, _ []string) error {
	fmt.Fprintf(e.stdout, "atlas %s %s %s/%s\n", Version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
