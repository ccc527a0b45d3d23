package jobq

import (
	"context"
	"fmt"
	"time"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// Backend is a storage backend for queues, workers and subscribers, such
// as a *jobqredis.Driver or a *jobqsqlite.Driver. It is an alias of
// jobqdriver.Driver, the contract backends implement, so applications can
// hold and pass backends without importing jobqdriver.
type Backend = jobqdriver.Driver

// Pinger is the optional ability of a Backend to check cheaply that its
// storage answers; both jobqredis and jobqsqlite have it. Use Ping rather
// than asserting it. It is an alias of jobqdriver.Pinger.
type Pinger = jobqdriver.Pinger

// HealthReporter is the optional ability of a Backend to report whether
// its storage is configured to keep jobs safely; jobqredis has it (server
// version, maxmemory-policy, appendonly). Use Health rather than
// asserting it. It is an alias of jobqdriver.HealthReporter.
type HealthReporter = jobqdriver.HealthReporter

// HealthReport describes how safe a backend's storage is for queues: the
// server's Version, the Settings that matter, and a Warning for each
// problem (OK reports none). It is an alias of jobqdriver.HealthReport.
type HealthReport = jobqdriver.HealthReport

// pingQueue is the queue Ping's fallback reads.
const pingQueue = "jobq-ping"

// Ping checks that b's storage answers. It calls b's Ping method when b is
// a Pinger. Otherwise it falls back to reading whether the queue
// "jobq-ping" is paused, a round trip that changes nothing.
func Ping(ctx context.Context, b Backend) error {
	if p, ok := b.(Pinger); ok {
		return p.Ping(ctx)
	}
	if _, err := b.IsPaused(ctx, pingQueue); err != nil {
		return fmt.Errorf("jobq: ping: %w", err)
	}
	return nil
}

// Health returns b's health report when b is a HealthReporter; ok is false
// (and the report empty) when it is not. The error, from b's Health, means
// the storage could not be asked; unsafe settings are warnings in the
// report instead.
func Health(ctx context.Context, b Backend) (r HealthReport, ok bool, err error) {
	hr, ok := b.(HealthReporter)
	if !ok {
		return HealthReport{}, false, nil
	}
	r, err = hr.Health(ctx)
	return r, true, err
}

// ReadyAger is the optional ability of a Backend to tell cheaply since
// when its next jobs have been ready; jobqredis and jobqsqlite have it.
// Use OldestReady rather than asserting it. It is an alias of
// jobqdriver.ReadyAger.
type ReadyAger = jobqdriver.ReadyAger

// OldestReady returns when the job next in line in queue's waiting or
// prioritized state became ready to run (its timestamp plus its delay),
// whichever is earlier, reading at most two jobs: the time a queue's
// oldest ready job has been waiting, for autoscaling. found is false when
// both states are empty; ok is false when b is not a ReadyAger.
func OldestReady(ctx context.Context, b Backend, queue string) (at time.Time, found, ok bool, err error) {
	ra, ok := b.(ReadyAger)
	if !ok {
		return time.Time{}, false, false, nil
	}
	ms, err := ra.OldestReady(ctx, queue)
	if err != nil || ms == 0 {
		return time.Time{}, false, true, err
	}
	return time.UnixMilli(ms), true, true, nil
}
