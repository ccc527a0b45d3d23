// Package rollout holds the per-module rollout modes (sync, shadow, async)
// and records how shadow runs compare with the synchronous result.
//
// A module's mode says where its work runs:
//
//   - sync: in the request, as before the queues existed;
//   - shadow: in the request, and also enqueued; the worker recomputes into
//     a side result without unrepeatable side effects and compares it with
//     what the request wrote (see Recorder);
//   - async: only in the worker (the default).
package rollout

import (
	"errors"
	"fmt"
	"strings"
)

// Mode is a module's rollout mode.
type Mode string

// The modes.
const (
	Sync   Mode = "sync"
	Shadow Mode = "shadow"
	Async  Mode = "async"
)

// DefaultMode is the mode of a module that is not configured.
const DefaultMode = Async

// Inline reports whether the request does the work itself (sync, shadow).
func (m Mode) Inline() bool { return m == Sync || m == Shadow }

// Enqueues reports whether the work is also, or only, enqueued (shadow,
// async). An empty mode counts as the default.
func (m Mode) Enqueues() bool { return m == Shadow || m == Async || m == "" }

// Module names a part of Atlas whose background work can be rolled out.
// Each module package declares its own (media.Module, review.Module, …);
// the composition root lists them.
type Module string

// ErrInvalidMode reports a mode other than sync, shadow or async.
var ErrInvalidMode = errors.New("invalid rollout mode")

// ParseMode reads "sync", "shadow" or "async" (case-insensitive, trimmed);
// the empty string is the default mode.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(strings.TrimSpace(s))); m {
	case "":
		return DefaultMode, nil
	case Sync, Shadow, Async:
		return m, nil
	default:
		return "", fmt.Errorf("%w %.32q: want sync, shadow or async", ErrInvalidMode, s)
	}
}

// Modes is the mode of each module; modules not in the map run in
// DefaultMode. The zero value is ready to use (everything async).
type Modes map[Module]Mode

// Mode returns m's mode.
func (ms Modes) Mode(m Module) Mode {
	if v, ok := ms[m]; ok && v != "" {
		return v
	}
	return DefaultMode
}

// Format lists the modes of modules as "media=async,sitemap=async,…".
func (ms Modes) Format(modules []Module) string {
	parts := make([]string, len(modules))
	for i, m := range modules {
		parts[i] = string(m) + "=" + string(ms.Mode(m))
	}
	return strings.Join(parts, ",")
}
