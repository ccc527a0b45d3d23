package jobq_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/sevra/atlas/jobq"
)

// A job scheduler adds one job per tick, however many producers upsert it
// and however many workers run.
func ExampleQueue_UpsertJobScheduler() {
	ctx := context.Background()
	backend, cleanup := openExampleBackend(ctx)
	defer cleanup()

	ticks := make(chan string, 10)
	worker, err := jobq.NewWorker("maintenance", backend, func(ctx context.Context, job *jobq.Job) (any, error) {
		ticks <- job.Name
		return nil, nil
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := worker.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer worker.Close(ctx)

	queue := jobq.NewQueue("maintenance", backend, nil)
	if _, err := queue.UpsertJobScheduler(ctx, "heartbeat", jobq.Repeat{Every: 100 * time.Millisecond},
		&jobq.JobTemplate{Name: "beat", Opts: &jobq.JobOptions{RemoveOnComplete: jobq.KeepLast(10)}}); err != nil {
		log.Fatal(err)
	}
	// A cron pattern with seconds, in a time zone.
	if _, err := queue.UpsertJobScheduler(ctx, "nightly", jobq.Repeat{Pattern: "0 30 3 * * *", TZ: "Europe/Berlin"},
		&jobq.JobTemplate{Name: "rebuild-sitemap"}); err != nil {
		log.Fatal(err)
	}
	for range 3 {
		fmt.Println(<-ticks)
	}
	schedulers, err := queue.GetJobSchedulers(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range schedulers {
		if s.Every > 0 {
			fmt.Println(s.ID, "every", s.Every)
		} else {
			fmt.Printf("%s cron %q in %s\n", s.ID, s.Pattern, s.TZ)
		}
	}
	if _, err := queue.RemoveJobScheduler(ctx, "heartbeat"); err != nil {
		log.Fatal(err)
	}
	// Output:
	// beat
	// beat
	// beat
	// heartbeat every 100ms
	// nightly cron "0 30 3 * * *" in Europe/Berlin
}
