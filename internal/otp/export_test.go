package otp

import (
	"context"

	"github.com/sevra/atlas/jobq"
)

// HandleSend runs the send-otp handler, for the tests in package otp_test
// (the queues.Registry keeps its handlers to itself).
func (s *Service) HandleSend(ctx context.Context, job *jobq.Job) (any, error) {
	return s.handleSend(ctx, job)
}
