package otp

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests      *prometheus.CounterVec
	verifies      *prometheus.CounterVec
	sends         *prometheus.CounterVec
	limited       *prometheus.CounterVec
	limiterErrors prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "atlas_otp_requests_total",
			Help: "OTP code requests by result (accepted, invalid, limited)."}, []string{"result"}),
		verifies: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "atlas_otp_verifications_total",
			Help: "OTP verifications by result (ok, wrong, expired, exhausted, invalid, limited)."}, []string{"result"}),
		sends: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "atlas_otp_sends_total",
			Help: "SMS sends by result (sent, reconciled, retryable, permanent, ambiguous)."}, []string{"result"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "atlas_otp_rate_limited_total",
			Help: "OTP requests refused by a rate limit, by rule kind (phone, ip, country, verify-ip)."}, []string{"rule"}),
		limiterErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "atlas_otp_rate_limiter_errors_total",
			Help: "Rate limiter failures; the request was allowed."}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.requests, err = register(reg, m.requests); err != nil {
		return nil, err
	}
	if m.verifies, err = register(reg, m.verifies); err != nil {
		return nil, err
	}
	if m.sends, err = register(reg, m.sends); err != nil {
		return nil, err
	}
	if m.limited, err = register(reg, m.limited); err != nil {
		return nil, err
	}
	if m.limiterErrors, err = register(reg, m.limiterErrors); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c with reg; when an equal collector is already
// registered (a second Service on one registry) it returns that one, so
// the counts of every Service reach the registry.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
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
	return c, fmt.Errorf("register otp metrics: %w", err)
}
