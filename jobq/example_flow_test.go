package jobq_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"

	"github.com/sevra/atlas/jobq"
)

// A parent job waits for its children, possibly in other queues, and then
// reads their results.
func ExampleFlowProducer() {
	ctx := context.Background()
	backend, cleanup := openExampleBackend(ctx)
	defer cleanup()

	pages, err := jobq.NewWorker("pages", backend, func(ctx context.Context, job *jobq.Job) (any, error) {
		var p struct{ Words int }
		if err := job.Decode(&p); err != nil {
			return nil, err
		}
		return p.Words, nil
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	total := make(chan int, 1)
	reports, err := jobq.NewWorker("reports", backend, func(ctx context.Context, job *jobq.Job) (any, error) {
		values, err := job.ChildrenValues(ctx)
		if err != nil {
			return nil, err
		}
		sum := 0
		for _, v := range values {
			var n int
			if err := json.Unmarshal(v, &n); err != nil {
				return nil, err
			}
			sum += n
		}
		total <- sum
		return sum, nil
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, w := range []*jobq.Worker{pages, reports} {
		if err := w.Start(ctx); err != nil {
			log.Fatal(err)
		}
		defer w.Close(ctx)
	}

	flow, err := jobq.NewFlowProducer(backend, nil).Add(ctx, jobq.FlowJob{
		Name: "word-count", Queue: "reports",
		Children: []jobq.FlowJob{
			{Name: "page", Queue: "pages", Data: map[string]int{"Words": 120}},
			{Name: "page", Queue: "pages", Data: map[string]int{"Words": 80}},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("children:", len(flow.Children))
	fmt.Println("total words:", <-total)
	// Output:
	// children: 2
	// total words: 200
}
