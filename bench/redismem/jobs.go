package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/jobq"
	"github.com/sevra/atlas/jobq/jobqredis"
)

// shape is one queue's job as Atlas makes it: name, id, payload, options
// (the queue's defaults plus the outbox route's), the handler's result and
// a failure reason.
type shape struct {
	queue, name string
	// data returns job i's payload and id.
	data   func(r *rand.Rand, i int) (map[string]any, string)
	opts   func(data map[string]any) jobq.JobOptions
	result map[string]any
	reason string
}

func hexStr(r *rand.Rand, n int) string {
	b := make([]byte, n/2)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return hex.EncodeToString(b)
}

func trace(r *rand.Rand) string { return "00-" + hexStr(r, 32) + "-" + hexStr(r, 16) + "-01" }

// defaults are the queue's default job options (retention: completed 1 h,
// failed 7 d; attempts and backoff).
func defaults(queue string) jobq.JobOptions { return queues.DefaultSettings(queue, 4).Defaults }

// shapes are the four queues' jobs, modelled on internal/media, otp,
// review and seo (job ids, payload fields, route delay and dedup).
var shapes = []shape{
	{queue: queues.QueueMedia, name: "generate-variants",
		data: func(r *rand.Rand, i int) (map[string]any, string) {
			return map[string]any{"mediaId": 100000 + i, "storageKey": "incoming/" + hexStr(r, 32) + ".jpg",
				"trace": trace(r)}, fmt.Sprintf("media-%d", 100000+i)
		},
		opts:   func(map[string]any) jobq.JobOptions { return defaults(queues.QueueMedia) },
		result: map[string]any{"variants": 12, "bytes": 812345, "placeholder": "LEHV6nWB2yk8pyo0adR*.7kCMdnj"},
		reason: "imaging: decode: invalid JPEG format: missing SOI marker",
	},
	{queue: queues.QueueNotifications, name: "send-otp",
		data: func(r *rand.Rand, i int) (map[string]any, string) {
			id := strings.ToUpper(hexStr(r, 26))
			return map[string]any{"challengeId": id, "trace": trace(r)}, "otp-" + id
		},
		opts:   func(map[string]any) jobq.JobOptions { return defaults(queues.QueueNotifications) },
		result: map[string]any{"provider": "kavenegar", "ref": "8867412390", "status": "sent"},
		reason: "sms: kavenegar: 503 Service Unavailable: provider busy, try again later",
	},
	{queue: queues.QueueAnalytics, name: "recompute-review-aggregates",
		data: func(r *rand.Rand, i int) (map[string]any, string) {
			return map[string]any{"salonId": 1 + r.IntN(100000), "eventId": 5000000 + i, "trace": trace(r)},
				fmt.Sprintf("evt-%d", 5000000+i)
		},
		opts: func(data map[string]any) jobq.JobOptions {
			o := defaults(queues.QueueAnalytics)
			o.Delay = 2 * time.Second
			o.Deduplication = &jobq.Deduplication{ID: fmt.Sprintf("review-agg-%d", data["salonId"]), TTL: time.Second}
			return o
		},
		result: map[string]any{"salonId": 4242, "rating": 4.57, "reviews": 131, "bayesian": 4.41},
		reason: "store: recompute aggregates: context deadline exceeded",
	},
	{queue: queues.QueueMaintenance, name: "seo-refresh",
		data: func(r *rand.Rand, i int) (map[string]any, string) {
			return map[string]any{"entityType": "salon", "entityId": 1 + r.IntN(100000), "eventId": 9000000 + i,
				"trace": trace(r)}, fmt.Sprintf("evt-%d", 9000000+i)
		},
		opts:   func(map[string]any) jobq.JobOptions { return defaults(queues.QueueMaintenance) },
		result: map[string]any{"invalidated": 3, "rebuild": "coalesced"},
		reason: "seo: refresh salon: store: connection refused",
	},
}

// bulk makes jobs [from, from+n) of a shape; fail marks the ones the
// handler must fail. measure drops route delays and makes salon ids
// unique, so no job is deduplicated away.
func (s shape) bulk(r *rand.Rand, from, n int, fail func(int) bool, measure bool) []jobq.BulkJob {
	out := make([]jobq.BulkJob, n)
	for k := range n {
		i := from + k
		data, id := s.data(r, i)
		if fail != nil && fail(i) {
			data["fail"] = true
		}
		if _, ok := data["salonId"]; ok && measure {
			data["salonId"] = i + 1
		}
		o := s.opts(data)
		o.JobID = id
		if measure {
			o.Delay = 0
		}
		out[k] = jobq.BulkJob{Name: s.name, Data: data, Opts: &o}
	}
	return out
}

// handler completes a job with the shape's result, or fails it with the
// shape's reason when its data says so.
func (s shape) handler() jobq.Processor {
	return func(_ context.Context, j *jobq.Job) (any, error) {
		var d struct{ Fail bool }
		_ = j.Decode(&d)
		if d.Fail {
			return nil, errors.New(s.reason)
		}
		return s.result, nil
	}
}

// driver returns a jobq Redis backend on c under prefix.
func driver(c *redis.Client, prefix string) (*jobqredis.Driver, error) {
	return jobqredis.New(c, &jobqredis.Config{Prefix: prefix})
}

// keyBytes sums MEMORY USAGE (all samples) of every key under prefix,
// split into the events streams, the metrics lists and the rest (job
// hashes, state lists and sets, locks, dedup keys, meta).
type keyBytes struct{ Events, Metrics, Jobs, EventsLen int64 }

func sumKeys(ctx context.Context, c *redis.Client, prefix string) (keyBytes, error) {
	var kb keyBytes
	it := c.Scan(ctx, 0, prefix+":*", 1000).Iterator()
	for it.Next(ctx) {
		k := it.Val()
		n, err := c.MemoryUsage(ctx, k, 0).Result()
		if errors.Is(err, redis.Nil) {
			continue // expired in between
		}
		if err != nil {
			return kb, fmt.Errorf("memory usage %s: %w", k, err)
		}
		switch {
		case strings.HasSuffix(k, ":events"):
			kb.Events += n
			l, err := c.XLen(ctx, k).Result()
			if err != nil {
				return kb, err
			}
			kb.EventsLen += l
		case strings.Contains(k, ":metrics:"):
			kb.Metrics += n
		default:
			kb.Jobs += n
		}
	}
	return kb, it.Err()
}
