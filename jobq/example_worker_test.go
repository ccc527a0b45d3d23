package jobq_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/sevra/atlas/jobq"
	"github.com/sevra/atlas/jobq/jobqsqlite"
)

// openExampleBackend opens a throw-away SQLite backend for the examples.
func openExampleBackend(ctx context.Context) (*jobqsqlite.Driver, func()) {
	dir, err := os.MkdirTemp("", "jobq-example-")
	if err != nil {
		log.Fatal(err)
	}
	backend, err := jobqsqlite.Open(ctx, filepath.Join(dir, "queue.db"), nil)
	if err != nil {
		log.Fatal(err)
	}
	return backend, func() {
		backend.Close()
		os.RemoveAll(dir)
	}
}

// A producer adds a job; a worker processes it.
func Example() {
	ctx := context.Background()
	backend, cleanup := openExampleBackend(ctx)
	defer cleanup()

	done := make(chan string, 1)
	worker, err := jobq.NewWorker("emails", backend, func(ctx context.Context, job *jobq.Job) (any, error) {
		var msg struct {
			To string `json:"to"`
		}
		if err := job.Decode(&msg); err != nil {
			return nil, err
		}
		return "sent to " + msg.To, nil
	}, &jobq.WorkerConfig{
		Concurrency: 4,
		OnCompleted: func(job *jobq.Job, result []byte) { done <- job.Name + ": " + string(result) },
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := worker.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer worker.Close(ctx)

	queue := jobq.NewQueue("emails", backend, nil)
	if _, err := queue.Add(ctx, "welcome", map[string]string{"to": "ada@example.com"}, &jobq.JobOptions{
		Attempts: 3,
		Backoff:  &jobq.Backoff{Type: jobq.BackoffExponential, Delay: time.Second},
	}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-done)
	// Output: welcome: "sent to ada@example.com"
}
