package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// setting is one configuration knob: a flag, its ATLAS_* variable and its
// built-in default. The default is applied first, then the variable, then
// the flag, so a flag wins over the environment.
type setting struct {
	flag, env, def, usage string
	isBool                bool
	set                   func(string) error
}

func stringSetting(p *string, flag, env, def, usage string) setting {
	return setting{flag: flag, env: env, def: def, usage: usage, set: func(v string) error { *p = v; return nil }}
}

func intSetting(p *int, flag, env string, def int, usage string) setting {
	return setting{flag: flag, env: env, def: strconv.Itoa(def), usage: usage, set: func(v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			return fmt.Errorf("%q is not a non-negative integer", v)
		}
		*p = n
		return nil
	}}
}

func uintSetting(p *uint64, flag, env string, def uint64, usage string) setting {
	return setting{flag: flag, env: env, def: strconv.FormatUint(def, 10), usage: usage, set: func(v string) error {
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a non-negative integer", v)
		}
		*p = n
		return nil
	}}
}

func durationSetting(p *time.Duration, flag, env string, def time.Duration, usage string) setting {
	return setting{flag: flag, env: env, def: def.String(), usage: usage, set: func(v string) error {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil || d < 0 {
			return fmt.Errorf("%q is not a duration such as 30s or 1m", v)
		}
		*p = d
		return nil
	}}
}

func boolSetting(p *bool, flag, env string, def bool, usage string) setting {
	return setting{flag: flag, env: env, def: strconv.FormatBool(def), usage: usage, isBool: true, set: func(v string) error {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not a boolean (true/false/1/0)", v)
		}
		*p = b
		return nil
	}}
}

// errUsage marks a command-line mistake (exit status 2).
var errUsage = errors.New("usage")

// parseSettings applies defaults, then getenv's ATLAS_* values, then the
// flags in args, and returns the remaining positional arguments. -h and
// --help return flag.ErrHelp.
func parseSettings(name string, settings []setting, args []string, getenv func(string) string) ([]string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	for _, s := range settings {
		if err := s.set(s.def); err != nil {
			return nil, fmt.Errorf("default of --%s: %w", s.flag, err) // a programming error
		}
		if v := getenv(s.env); v != "" {
			if err := s.set(v); err != nil {
				return nil, fmt.Errorf("%w: %s: %w", errUsage, s.env, err)
			}
		}
		if s.isBool {
			fs.BoolFunc(s.flag, s.usage, s.set)
		} else {
			fs.Func(s.flag, s.usage, s.set)
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	return fs.Args(), nil
}

// printSettings writes a table of flags, variables and defaults.
func printSettings(w io.Writer, settings []setting) {
	if len(settings) == 0 {
		fmt.Fprintln(w, "\nThis command has no settings.")
		return
	}
	fmt.Fprintln(w, "\nSettings (a flag wins over its variable):")
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  FLAG\tVARIABLE\tDEFAULT\tMEANING")
	for _, s := range settings {
		def := s.def
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(tw, "  --%s\t%s\t%s\t%s\n", s.flag, s.env, def, s.usage)
	}
	tw.Flush()
}
