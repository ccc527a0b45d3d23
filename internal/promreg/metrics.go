// Package promreg holds what Atlas's packages share about Prometheus
// metrics: registering a collector so that two instances on one registry
// (two services in one test, or a service rebuilt in one process) share
// the counters rather than failing or silently counting into unregistered
// ones.
package promreg

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers c with reg and returns it; when an equal collector is
// already registered it returns that one instead. A nil reg registers
// nothing and returns c.
func Register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if reg == nil {
		return c, nil
	}
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("register metrics: %w", err)
}
