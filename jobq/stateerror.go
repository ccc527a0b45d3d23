package jobq

import (
	"context"
	"errors"
	"fmt"
)

// StateError reports an action refused because the job is in another
// state: "job 42 is completed; retry applies to failed jobs". It wraps
// the backend's sentinel (ErrNotInState or ErrJobActive), so errors.Is
// still matches those.
type StateError struct {
	// ID is the job's id.
	ID string
	// Action is what was asked: "retry", "promote" or "remove".
	Action string
	// State is the state the job is actually in.
	State State
	// AppliesTo describes the jobs the action applies to.
	AppliesTo string
	// Err is the backend's sentinel.
	Err error
}

// Error names the job's state and what the action applies to.
func (e *StateError) Error() string {
	return fmt.Sprintf("job %s is %s; %s applies to %s", e.ID, e.State, e.Action, e.AppliesTo)
}

// Unwrap returns the backend's sentinel.
func (e *StateError) Unwrap() error { return e.Err }

// stateErr turns a refusal (ErrNotInState, ErrJobActive) of action on job
// id into a StateError naming the job's current state; other errors are
// returned as they are.
func (q *Queue) stateErr(ctx context.Context, err error, id, action, appliesTo string) error {
	if err == nil || !(errors.Is(err, ErrNotInState) || errors.Is(err, ErrJobActive)) {
		return err
	}
	st, serr := q.drv.JobState(ctx, q.name, id)
	if serr != nil {
		return err
	}
	return &StateError{ID: id, Action: action, State: State(st), AppliesTo: appliesTo, Err: err}
}
