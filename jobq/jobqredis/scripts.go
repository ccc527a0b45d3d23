package jobqredis

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/redis/go-redis/v9"
)

//go:embed lua/*.lua
var luaFS embed.FS

// scriptSet holds the loaded operation scripts, each with the parts of
// lib.lua it uses prepended.
type scriptSet map[string]*redis.Script

// scriptNames lists the operation scripts under lua/.
var scriptNames = []string{
	"add", "addmany", "addflow", "fetch", "finish", "retry", "delay", "release",
	"extendlocks", "stalled", "progress", "addlog", "state", "pause",
	"promote", "reprocess", "remove", "clean", "drain", "obliterate",
	"scheduler_upsert", "scheduler_next", "scheduler_remove",
}

func loadScripts() (scriptSet, error) {
	lib, err := luaFS.ReadFile("lua/lib.lua")
	if err != nil {
		return nil, fmt.Errorf("jobqredis: read lib.lua: %w", err)
	}
	head, defs := splitLib(string(lib))
	set := scriptSet{}
	for _, name := range scriptNames {
		src, err := luaFS.ReadFile("lua/" + name + ".lua")
		if err != nil {
			return nil, fmt.Errorf("jobqredis: read %s.lua: %w", name, err)
		}
		set[name] = redis.NewScript(head + libFor(defs, string(src)) + "\n" + string(src))
	}
	return set, nil
}

// libDef is one top-level definition of lib.lua ("local function f" or
// "local x =") with the lines up to the next one.
type libDef struct {
	name, text string
	uses       []string // names of other definitions it refers to
}

var (
	libDefStart   = regexp.MustCompile(`^local (?:function )?([A-Za-z_][A-Za-z0-9_]*)\b`)
	libMultiLocal = regexp.MustCompile(`^local [A-Za-z_][A-Za-z0-9_]*\s*,`)
	luaIdent      = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)
)

// splitLib splits lib.lua into its head (everything before the first
// single-name top-level local: rcall, the KEYS names, prefix), which every
// script gets, and its definitions in order.
func splitLib(lib string) (head string, defs []libDef) {
	var hb strings.Builder
	var cur *libDef
	var cb strings.Builder
	flush := func() {
		if cur != nil {
			cur.text = cb.String()
			defs = append(defs, *cur)
		}
		cb.Reset()
	}
	for _, line := range strings.SplitAfter(lib, "\n") {
		if m := libDefStart.FindStringSubmatch(line); m != nil && !libMultiLocal.MatchString(line) && m[1] != "rcall" && m[1] != "prefix" {
			flush()
			cur = &libDef{name: m[1]}
		}
		if cur == nil {
			hb.WriteString(line)
		} else {
			cb.WriteString(line)
		}
	}
	flush()
	names := map[string]bool{}
	for _, d := range defs {
		names[d.name] = true
	}
	for i := range defs {
		for _, id := range identsOf(defs[i].text) {
			if names[id] && id != defs[i].name {
				defs[i].uses = append(defs[i].uses, id)
			}
		}
	}
	return hb.String(), defs
}

// identsOf lists the identifiers in Lua source, comments left out.
func identsOf(src string) []string {
	var out []string
	for _, line := range strings.Split(src, "\n") {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i]
		}
		out = append(out, luaIdent.FindAllString(line, -1)...)
	}
	return out
}

// libFor returns, in lib.lua's order, the definitions src needs, directly
// or through other definitions: a script re-runs its whole prelude on
// every call, so each carries only what it uses.
func libFor(defs []libDef, src string) string {
	byName := map[string]*libDef{}
	for i := range defs {
		byName[defs[i].name] = &defs[i]
	}
	need := map[string]bool{}
	var add func(name string)
	add = func(name string) {
		d, ok := byName[name]
		if !ok || need[name] {
			return
		}
		need[name] = true
		for _, u := range d.uses {
			add(u)
		}
	}
	for _, id := range identsOf(src) {
		add(id)
	}
	var b strings.Builder
	for _, d := range defs {
		if need[d.name] {
			b.WriteString(d.text)
		}
	}
	return b.String()
}

// run executes a script over the queue's key set plus ARGV (the prefix
// first).
func (d *Driver) run(ctx context.Context, name, queue string, args ...any) (any, error) {
	s := d.scripts[name]
	argv := append([]any{d.prefixOf(queue)}, args...)
	v, err := s.Run(ctx, d.client, d.keysOf(queue), argv...).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("jobqredis: %s on %q: %w%s", name, queue, err, d.crossSlotHint(err))
	}
	return v, nil
}

// crossSlotHint explains a CROSSSLOT error.
func (d *Driver) crossSlotHint(err error) string {
	if err == nil || !strings.HasPrefix(err.Error(), "CROSSSLOT") {
		return ""
	}
	return fmt.Sprintf(" (on Redis Cluster every key of a queue must hash to one slot: use a prefix with a hash tag, such as {%s}, instead of %q)", strings.Trim(d.prefix, "{}"), d.prefix)
}

// isNoScript reports a NOSCRIPT error (the script cache was flushed, e.g.
// after a Redis restart).
func isNoScript(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT")
}

// pipedCall is one script call queued in a pipeline.
type pipedCall struct {
	name  string
	queue string
	args  []any
	cmd   *redis.Cmd
}

// runPiped runs script calls in one pipeline with EVALSHA. Calls that hit
// NOSCRIPT are re-run after loading their script; each call's own error
// stays on its cmd.
func (d *Driver) runPiped(ctx context.Context, calls []*pipedCall) error {
	exec := func(cs []*pipedCall) error {
		pipe := d.client.Pipeline()
		for _, c := range cs {
			argv := append([]any{d.prefixOf(c.queue)}, c.args...)
			c.cmd = d.scripts[c.name].EvalSha(ctx, pipe, d.keysOf(c.queue), argv...)
		}
		_, err := pipe.Exec(ctx)
		var rerr redis.Error
		if err != nil && !errors.As(err, &rerr) && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("jobqredis: pipeline: %w", err)
		}
		return nil
	}
	if err := exec(calls); err != nil {
		return err
	}
	var retry []*pipedCall
	loaded := map[string]bool{}
	for _, c := range calls {
		if isNoScript(c.cmd.Err()) {
			if !loaded[c.name] {
				if err := d.scripts[c.name].Load(ctx, d.client).Err(); err != nil {
					return fmt.Errorf("jobqredis: load %s: %w", c.name, err)
				}
				loaded[c.name] = true
			}
			retry = append(retry, c)
		}
	}
	if len(retry) > 0 {
		return exec(retry)
	}
	return nil
}
