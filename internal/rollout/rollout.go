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
	"slices"
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
type Module string

// The modules.
const (
	Media   Module = "media"
	Sitemap Module = "sitemap"
	Reviews Module = "reviews"
	Geo     Module = "geo"
	Views   Module = "views"
	SMS     Module = "sms"
)

// Modules lists every module, in the order settings show them.
var Modules = []Module{Media, Sitemap, Reviews, Geo, Views, SMS}

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

// Known reports whether m is one of Modules.
func Known(m Module) bool { return slices.Contains(Modules, m) }

// String lists the modes as "media=async,sitemap=async,…".
func (ms Modes) String() string {
	parts := make([]string, len(Modules))
	for i, m := range Modules {
		parts[i] = string(m) + "=" + string(ms.Mode(m))
	}
	return strings.Join(parts, ",")
}
