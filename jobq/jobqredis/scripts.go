package jobqredis

import (
	"context"
	"crypto/sha1"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/redis/go-redis/v9"
)

//go:embed lua/*.lua
var luaFS embed.FS

// scriptSet holds the operation scripts in their two forms: EVAL scripts,
// each with the parts of lib.lua it uses prepended, and one Redis
// function library (Redis 7+) that holds lib.lua once and every
// operation as a function.
type scriptSet struct {
	eval map[string]*redis.Script
	// lib is the library's source for FUNCTION LOAD; libName its name,
	// "jobq_" and a hash of the source, so that processes running other
	// jobq versions keep their own library beside it.
	lib, libName string
	fn           map[string]string // operation -> function name
}

// scriptNames lists the operation scripts under lua/.
var scriptNames = []string{
	"add", "addmany", "addflow", "fetch", "finish", "retry", "delay", "release",
	"extendlocks", "stalled", "progress", "addlog", "state", "pause",
	"promote", "reprocess", "remove", "clean", "drain", "obliterate",
	"scheduler_upsert", "scheduler_next", "scheduler_remove",
}

// defsMarker ends lib.lua's head: the state and bind, which every script
// gets; the definitions after it go only into the scripts that use them.
const defsMarker = "-- @definitions"

func loadScripts() (*scriptSet, error) {
	lib, err := luaFS.ReadFile("lua/lib.lua")
	if err != nil {
		return nil, fmt.Errorf("jobqredis: read lib.lua: %w", err)
	}
	head, defs, err := splitLib(string(lib))
	if err != nil {
		return nil, err
	}
	set := &scriptSet{eval: map[string]*redis.Script{}, fn: map[string]string{}}
	srcs := map[string]string{}
	var all strings.Builder
	for _, name := range scriptNames {
		src, err := luaFS.ReadFile("lua/" + name + ".lua")
		if err != nil {
			return nil, fmt.Errorf("jobqredis: read %s.lua: %w", name, err)
		}
		srcs[name] = string(src)
		all.Write(src)
		all.WriteString("\n")
		set.eval[name] = redis.NewScript(head + libFor(defs, string(src)) + "\nbind(KEYS, ARGV)\n" + string(src))
	}
	// The library: KEYS and ARGV are upvalues each function sets from its
	// arguments; lib.lua's definitions are made once, when Redis loads the
	// library, instead of on every call as in the EVAL form.
	var body strings.Builder
	body.WriteString("local KEYS, ARGV\n")
	body.WriteString(head)
	body.WriteString(libFor(defs, all.String()))
	for _, name := range scriptNames {
		fmt.Fprintf(&body, "\nlocal function op_%s()\n%s\nend\n", name, srcs[name])
	}
	body.WriteString("\nlocal function register(name, op)\n" +
		"  redis.register_function(name, function(keys, argv)\n" +
		"    KEYS, ARGV = keys, argv\n" +
		"    bind(keys, argv)\n" +
		"    return op()\n" +
		"  end)\n" +
		"end\n")
	sum := sha1.Sum([]byte(body.String()))
	set.libName = "jobq_" + hex.EncodeToString(sum[:8])
	for _, name := range scriptNames {
		set.fn[name] = set.libName + "_" + name
		fmt.Fprintf(&body, "register(%q, op_%s)\n", set.fn[name], name)
	}
	set.lib = "#!lua name=" + set.libName + "\n" + body.String()
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

// splitLib splits lib.lua at defsMarker into its head, which every
// script gets, and its top-level definitions ("local function f" or
// "local x ="), in order.
func splitLib(lib string) (head string, defs []libDef, err error) {
	i := strings.Index(lib, defsMarker)
	if i < 0 {
		return "", nil, fmt.Errorf("jobqredis: lib.lua lacks the %q line", defsMarker)
	}
	head = lib[:i]
	var cur *libDef
	var cb strings.Builder
	flush := func() {
		if cur != nil {
			cur.text = cb.String()
			defs = append(defs, *cur)
		}
		cb.Reset()
	}
	for _, line := range strings.SplitAfter(lib[i:], "\n") {
		if m := libDefStart.FindStringSubmatch(line); m != nil {
			if libMultiLocal.MatchString(line) {
				return "", nil, fmt.Errorf("jobqredis: lib.lua: one name per top-level local after %q: %q", defsMarker, strings.TrimSpace(line))
			}
			flush()
			cur = &libDef{name: m[1]}
		}
		if cur != nil {
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
	return head, defs, nil
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

// run executes an operation over the queue's key set plus ARGV (the
// prefix first): as a function (FCALL) while the server takes them, else
// as an EVAL script.
func (d *Driver) run(ctx context.Context, name, queue string, args ...any) (any, error) {
	keys := d.keysOf(queue)
	argv := append([]any{d.prefixOf(queue)}, args...)
	var v any
	var err error
	if d.functionsOn() {
		v, err = d.client.FCall(ctx, d.scripts.fn[name], keys, argv...).Result()
		if isNoFunction(err) {
			if err = d.loadLibrary(ctx); err == nil {
				v, err = d.client.FCall(ctx, d.scripts.fn[name], keys, argv...).Result()
			}
		}
		if d.functionsOff(err) {
			v, err = d.scripts.eval[name].Run(ctx, d.client, keys, argv...).Result()
		}
	} else {
		v, err = d.scripts.eval[name].Run(ctx, d.client, keys, argv...).Result()
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("jobqredis: %s on %q: %w%s", name, queue, err, d.crossSlotHint(err))
	}
	return v, nil
}

// functionsOn reports whether operations run as functions: not on Redis
// Cluster (a library would have to be loaded on every primary, and
// resharding moves keys, not libraries), not when Config.NoFunctions is
// set, and not after the server refused them.
func (d *Driver) functionsOn() bool { return !d.noFunctions.Load() }

// functionsOff switches the driver to EVAL scripts for good when err
// says the server cannot run functions: a Redis before 7.0 ("unknown
// command"), or a user whose ACL denies FCALL or FUNCTION LOAD. It reports
// whether it did, so that the caller re-runs the call as a script.
func (d *Driver) functionsOff(err error) bool {
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return false
	}
	msg := rerr.Error()
	low := strings.ToLower(msg)
	if !strings.HasPrefix(msg, "NOPERM") && !strings.HasPrefix(msg, "ERR unknown command") {
		return false
	}
	if !strings.Contains(low, "fcall") && !strings.Contains(low, "function") {
		return false
	}
	if !d.noFunctions.Swap(true) {
		d.log.Warn("jobqredis: Redis functions unavailable, using EVAL scripts", "err", msg)
	}
	return true
}

// isNoFunction reports that the library is not loaded: new to this
// server, or gone after a restart without persistence or a FUNCTION
// FLUSH.
func isNoFunction(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "ERR Function not found")
}

// loadLibrary loads the function library. Another process (or goroutine)
// loading the same version first is fine: its name says its content.
func (d *Driver) loadLibrary(ctx context.Context) error {
	err := d.client.FunctionLoad(ctx, d.scripts.lib).Err()
	if err != nil && strings.Contains(err.Error(), "already exists") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("jobqredis: load function library %s: %w", d.scripts.libName, err)
	}
	d.log.Info("jobqredis: loaded function library", "library", d.scripts.libName)
	return nil
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

// runPiped runs operation calls in one pipeline, as functions (FCALL) or
// scripts (EVALSHA). Calls that find the library or their script missing
// are re-run after loading it; each call's own error stays on its cmd.
func (d *Driver) runPiped(ctx context.Context, calls []*pipedCall) error {
	exec := func(cs []*pipedCall, fn bool) error {
		pipe := d.client.Pipeline()
		for _, c := range cs {
			argv := append([]any{d.prefixOf(c.queue)}, c.args...)
			if fn {
				c.cmd = pipe.FCall(ctx, d.scripts.fn[c.name], d.keysOf(c.queue), argv...)
			} else {
				c.cmd = d.scripts.eval[c.name].EvalSha(ctx, pipe, d.keysOf(c.queue), argv...)
			}
		}
		_, err := pipe.Exec(ctx)
		var rerr redis.Error
		if err != nil && !errors.As(err, &rerr) && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("jobqredis: pipeline: %w", err)
		}
		return nil
	}
	fn := d.functionsOn()
	if err := exec(calls, fn); err != nil {
		return err
	}
	var retry []*pipedCall
	if fn {
		var off bool
		for _, c := range calls {
			switch err := c.cmd.Err(); {
			case isNoFunction(err):
				retry = append(retry, c)
			case d.functionsOff(err):
				off = true
				retry = append(retry, c)
			}
		}
		if len(retry) == 0 {
			return nil
		}
		if !off {
			if err := d.loadLibrary(ctx); err != nil {
				if !d.functionsOff(err) {
					return err
				}
				off = true
			}
		}
		if err := exec(retry, !off); err != nil {
			return err
		}
		if !off {
			return nil
		}
		// now on scripts: fall through to load those the cache lacks
		calls = retry
	}
	retry = nil
	loaded := map[string]bool{}
	for _, c := range calls {
		if isNoScript(c.cmd.Err()) {
			if !loaded[c.name] {
				if err := d.scripts.eval[c.name].Load(ctx, d.client).Err(); err != nil {
					return fmt.Errorf("jobqredis: load %s: %w", c.name, err)
				}
				loaded[c.name] = true
			}
			retry = append(retry, c)
		}
	}
	if len(retry) > 0 {
		return exec(retry, false)
	}
	return nil
}
