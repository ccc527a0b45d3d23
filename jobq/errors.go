package jobq

import (
	"errors"
	"fmt"
	"time"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// Sentinel errors.
var (
	ErrJobNotFound     = jobqdriver.ErrJobNotFound
	ErrLockMismatch    = jobqdriver.ErrLockMismatch
	ErrNotInState      = jobqdriver.ErrNotInState
	ErrPendingChildren = jobqdriver.ErrPendingChildren
	ErrParentMissing   = jobqdriver.ErrParentMissing
	ErrJobActive       = jobqdriver.ErrJobActive
	ErrQueueNotEmpty   = jobqdriver.ErrQueueNotEmpty
	// ErrInvalidOption reports an option outside its range.
	ErrInvalidOption = errors.New("jobq: invalid option")
	// ErrClosed reports use of a closed worker, queue or subscriber.
	ErrClosed = jobqdriver.ErrClosed
	// ErrJobFailed is wrapped by WaitUntilFinished when the job failed.
	ErrJobFailed = errors.New("jobq: job failed")
)

// UnrecoverableError fails a job at once, skipping any attempts left.
type UnrecoverableError struct{ Err error }

// Error returns the wrapped error's message.
func (e *UnrecoverableError) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *UnrecoverableError) Unwrap() error { return e.Err }

// Unrecoverable wraps err so the worker fails the job without retrying.
func Unrecoverable(err error) error { return &UnrecoverableError{Err: err} }

// DelayError asks the worker to move the job to delayed until Until,
// without counting an attempt.
type DelayError struct{ Until time.Time }

// Error describes the delay.
func (e *DelayError) Error() string { return fmt.Sprintf("jobq: job delayed until %s", e.Until) }

// DelayUntil returns a DelayError.
func DelayUntil(t time.Time) error { return &DelayError{Until: t} }

// RateLimitError asks the worker to rate-limit the whole queue for Wait and
// put the job back, without counting an attempt.
type RateLimitError struct{ Wait time.Duration }

// Error describes the rate limit.
func (e *RateLimitError) Error() string {
	return fmt.Sprintf("jobq: queue rate limited for %s", e.Wait)
}

// RateLimit returns a RateLimitError.
func RateLimit(wait time.Duration) error { return &RateLimitError{Wait: wait} }
