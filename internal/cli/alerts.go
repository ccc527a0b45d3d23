package cli

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sevra/atlas/internal/dashboard"
	"github.com/sevra/atlas/internal/queues"
)

// alertSettings are the dashboard's alert thresholds. Each value is a
// comma-separated list of a default and queue=value overrides, such as
// "0.1,notifications=0.02,analytics=off"; off (or 0) disables.
func (c *Config) alertSettings() []setting {
	return []setting{
		{flag: "alert-failed-rate", env: "ATLAS_ALERT_FAILED_RATE", def: "",
			usage: "failed share of the last hour's finished jobs (0..1) above which a queue alerts; default,queue=value,…",
			set: func(v string) error {
				m, err := parseAlertList(v, func(s string) (float64, error) {
					f, err := strconv.ParseFloat(s, 64)
					if err != nil || f < 0 || f > 1 {
						return 0, fmt.Errorf("%q is not a ratio between 0 and 1", s)
					}
					return f, nil
				})
				c.alertRate = m
				c.mergeAlerts()
				return err
			}},
		{flag: "alert-oldest-waiting", env: "ATLAS_ALERT_OLDEST_WAITING", def: "",
			usage: "age of the oldest waiting job above which a queue alerts, e.g. 5m; default,queue=value,…",
			set: func(v string) error {
				m, err := parseAlertList(v, func(s string) (time.Duration, error) {
					d, err := time.ParseDuration(s)
					if err != nil || d < 0 {
						return 0, fmt.Errorf("%q is not a duration such as 5m", s)
					}
					return d, nil
				})
				c.alertOldest = m
				c.mergeAlerts()
				return err
			}},
	}
}

// parseAlertList parses "default,queue=value,…" ("" key: the default).
func parseAlertList[T any](v string, parse func(string) (T, error)) (map[string]T, error) {
	out := map[string]T{}
	for _, item := range splitList(v) {
		queue, val, ok := strings.Cut(item, "=")
		if !ok {
			queue, val = "", item
		}
		queue, val = strings.TrimSpace(queue), strings.TrimSpace(val)
		if queue != "" && !slices.Contains(queues.Queues, queue) {
			return nil, fmt.Errorf("unknown queue %q (queues: %s)", queue, strings.Join(queues.Queues, ", "))
		}
		if val == "off" {
			val = "0"
		}
		t, err := parse(val)
		if err != nil {
			return nil, err
		}
		out[queue] = t
	}
	return out, nil
}

// mergeAlerts builds app.Config.Alerts from both threshold lists: each
// queue named in either gets its own value or the list's default.
func (c *Config) mergeAlerts() {
	c.Alerts = nil
	keys := map[string]bool{}
	for k := range c.alertRate {
		keys[k] = true
	}
	for k := range c.alertOldest {
		keys[k] = true
	}
	if len(keys) == 0 {
		return
	}
	keys[""] = true
	c.Alerts = map[string]dashboard.Thresholds{}
	for k := range keys {
		t := dashboard.Thresholds{FailedRate: c.alertRate[""], OldestWaiting: c.alertOldest[""]}
		if v, ok := c.alertRate[k]; ok {
			t.FailedRate = v
		}
		if v, ok := c.alertOldest[k]; ok {
			t.OldestWaiting = v
		}
		c.Alerts[k] = t
	}
}
