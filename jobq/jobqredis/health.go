package jobqredis

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// HealthReport is the backend-neutral jobqdriver.HealthReport (also
// jobq.HealthReport). Health fills Version with the Redis version and
// Settings with "maxmemory-policy" and "appendonly".
type HealthReport = jobqdriver.HealthReport

// Settings that Health reads.
const (
	settingMaxMemoryPolicy = "maxmemory-policy"
	settingAppendOnly      = "appendonly"
)

var (
	_ jobqdriver.Pinger         = (*Driver)(nil)
	_ jobqdriver.HealthReporter = (*Driver)(nil)
)

// Ping sends PING to Redis.
func (d *Driver) Ping(ctx context.Context) error {
	if err := d.checkOpen(); err != nil {
		return err
	}
	if err := d.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("jobqredis: ping: %w", err)
	}
	return nil
}

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
			h.Version = v
		}
	}
	if versionBelow(h.Version, 6, 2) {
		h.Warnings = append(h.Warnings, fmt.Sprintf("redis %s is older than 6.2", h.Version))
	}
	h.Settings = map[string]string{settingMaxMemoryPolicy: "", settingAppendOnly: ""}
	if m, err := d.client.ConfigGet(ctx, settingMaxMemoryPolicy).Result(); err == nil {
		h.Settings[settingMaxMemoryPolicy] = m[settingMaxMemoryPolicy]
	} else {
		h.Warnings = append(h.Warnings, "cannot read maxmemory-policy: "+err.Error())
	}
	if p := h.Settings[settingMaxMemoryPolicy]; p != "" && p != "noeviction" {
		h.Warnings = append(h.Warnings, "maxmemory-policy is "+p+", want noeviction")
	}
	if m, err := d.client.ConfigGet(ctx, settingAppendOnly).Result(); err == nil {
		h.Settings[settingAppendOnly] = m[settingAppendOnly]
	} else {
		h.Warnings = append(h.Warnings, "cannot read appendonly: "+err.Error())
	}
	if h.Settings[settingAppendOnly] == "no" {
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
