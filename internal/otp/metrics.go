package otp

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sevra/atlas/internal/promreg"
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
	if m.requests, err = promreg.Register(reg, m.requests); err != nil {
		return nil, err
	}
	if m.verifies, err = promreg.Register(reg, m.verifies); err != nil {
		return nil, err
	}
	if m.sends, err = promreg.Register(reg, m.sends); err != nil {
		return nil, err
	}
	if m.limited, err = promreg.Register(reg, m.limited); err != nil {
		return nil, err
	}
	if m.limiterErrors, err = promreg.Register(reg, m.limiterErrors); err != nil {
		return nil, err
	}
	return m, nil
}
