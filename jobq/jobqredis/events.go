package jobqredis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// ReadEvents reads the queue's events stream after afterID ("$" = only new
// events, "0" = from the start), blocking up to block for the first one.
func (d *Driver) ReadEvents(ctx context.Context, queue, afterID string, count int, block time.Duration) ([]jobqdriver.Event, error) {
	if err := d.checkOpen(); err != nil {
		return nil, err
	}
	if afterID == "" {
		afterID = "$"
	}
	if count <= 0 {
		count = 100
	}
	args := &redis.XReadArgs{Streams: []string{d.key(queue, "events"), afterID}, Count: int64(count), Block: -1}
	if block > 0 {
		args.Block = block
	}
	res, err := d.client.XRead(ctx, args).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("jobqredis: read events of %q: %w", queue, err)
	}
	var out []jobqdriver.Event
	for _, s := range res {
		for _, m := range s.Messages {
			ev := jobqdriver.Event{ID: m.ID, Fields: make(map[string]string, len(m.Values))}
			for k, v := range m.Values {
				sv, _ := v.(string)
				if k == "event" {
					ev.Name = sv
					continue
				}
				ev.Fields[k] = sv
			}
			out = append(out, ev)
		}
	}
	return out, nil
}

// LastEventID returns the id of the newest event of the queue, "0" when the
// stream is empty.
func (d *Driver) LastEventID(ctx context.Context, queue string) (string, error) {
	if err := d.checkOpen(); err != nil {
		return "", err
	}
	msgs, err := d.client.XRevRangeN(ctx, d.key(queue, "events"), "+", "-", 1).Result()
	if err != nil {
		return "", fmt.Errorf("jobqredis: last event of %q: %w", queue, err)
	}
	if len(msgs) == 0 {
		return "0", nil
	}
	return msgs[0].ID, nil
}
