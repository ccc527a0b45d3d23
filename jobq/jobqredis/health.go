package jobqredis

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// HealthReport describes how safe the Redis server is for queues.
type HealthReport struct {
	RedisVersion    string   // e.g. "7.0.15"
	MaxMemoryPolicy string   // "" when CONFIG GET is not allowed
	AppendOnly      string   // "yes", "no", or "" when unknown
	Warnings        []string // empty when everything is as required
}

// OK reports whether there are no warnings.
func (h HealthReport) OK() bool { return len(h.Warnings) == 0 }

// Health checks the server version (>= 6.2), maxmemory-policy
// (noeviction, since eviction loses locks and jobs) and AOF (appendonly
// yes). CONFIG GET may be disabled on managed Redis; that is a warning,
// not an error.
func (d *Driver) Health(ctx context.Context) (HealthReport, error) {
	var h HealthReport
	if err := d.checkOpen(); err != nil {
		return h, err
	}
	info, err := d.client.Info(ctx, "server").Result()
	if err != nil {
		return h, fmt.Errorf("jobqredis: health: %w", err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			h.RedisVersion = v
		}
	}
	if versionBelow(h.RedisVersion, 6, 2) {
		h.Warnings = append(h.Warnings, fmt.Sprintf("redis %s is older than 6.2", h.RedisVersion))
	}
	if m, err := d.client.ConfigGet(ctx, "maxmemory-policy").Result(); err == nil {
		h.MaxMemoryPolicy = m["maxmemory-policy"]
	} else {
		h.Warnings = append(h.Warnings, "cannot read maxmemory-policy: "+err.Error())
	}
	if h.MaxMemoryPolicy != "" && h.MaxMemoryPolicy != "noeviction" {
		h.Warnings = append(h.Warnings, "maxmemory-policy is "+h.MaxMemoryPolicy+", want noeviction")
	}
	if m, err := d.client.ConfigGet(ctx, "appendonly").Result(); err == nil {
		h.AppendOnly = m["appendonly"]
	} else {
		h.Warnings = append(h.Warnings, "cannot read appendonly: "+err.Error())
	}
	if h.AppendOnly == "no" {
		h.Warnings = append(h.Warnings, "AOF is off (appendonly no); jobs may be lost on restart")
	}
	return h, nil
}

// versionBelow reports whether version v ("7.0.15") is below major.minor.
func versionBelow(v string, major, minor int) bool {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return ma < major || (ma == major && mi < minor)
}
