package jobq_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/sevra/atlas/jobq"
)

// QueueEvents.WaitUntilFinished waits for a job's result, from any process.
func ExampleQueueEvents_WaitUntilFinished() {
	ctx := context.Background()
	backend, cleanup := openExampleBackend(ctx)
	defer cleanup()

	events := jobq.NewQueueEvents("math", backend, nil)
	if err := events.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer events.Close(ctx)

	worker, err := jobq.NewWorker("math", backend, func(ctx context.Context, job *jobq.Job) (any, error) {
		var in struct{ A, B int }
		if err := job.Decode(&in); err != nil {
			return nil, err
		}
		if in.B == 0 {
			return nil, jobq.Unrecoverable(errors.New("division by zero"))
		}
		return map[string]int{"quotient": in.A / in.B}, nil
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := worker.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer worker.Close(ctx)

	queue := jobq.NewQueue("math", backend, nil)
	ok, err := queue.Add(ctx, "divide", map[string]int{"A": 7, "B": 2}, nil)
	if err != nil {
		log.Fatal(err)
	}
	bad, err := queue.Add(ctx, "divide", map[string]int{"A": 1, "B": 0}, &jobq.JobOptions{Attempts: 5})
	if err != nil {
		log.Fatal(err)
	}
	result, err := events.WaitUntilFinished(ctx, ok)
	fmt.Println(string(result), err)
	_, err = events.WaitUntilFinished(ctx, bad)
	fmt.Println(errors.Is(err, jobq.ErrJobFailed))
	// Output:
	// {"quotient":3} <nil>
	// true
}
