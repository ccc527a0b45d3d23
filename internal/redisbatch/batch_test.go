package redisbatch

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sevra/atlas/internal/redistest"
)

// TestRepliesReachTheirCallers: 64 goroutines each write and read their
// own keys through one batcher; every reply is the caller's own (checked
// against values set directly), and the commands share round trips.
func TestRepliesReachTheirCallers(t *testing.T) {
	t.Parallel()
	c := redistest.Client(t)
	prefix := redistest.Prefix(t, c, "atlas-test-redisbatch")
	ctx := context.Background()
	b := New(c, Config{Timeout: 5 * time.Second}) // a loaded machine must not fail this test
	const callers, each = 64, 50
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for g := range callers {
		key := prefix + ":k" + strconv.Itoa(g)
		if err := c.Set(ctx, key, "v"+strconv.Itoa(g), time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			for i := range each {
				get := redis.NewStringCmd(ctx, "get", key)
				if err := b.Do(ctx, get); err != nil || get.Val() != "v"+strconv.Itoa(g) {
					errs <- errors.New("GET " + key + " = " + get.Val())
					return
				}
				incr := redis.NewIntCmd(ctx, "incr", key+":n")
				if err := b.Do(ctx, incr); err != nil || incr.Val() != int64(i+1) {
					errs <- errors.New("INCR " + key + ":n = " + strconv.FormatInt(incr.Val(), 10))
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	cmds, trips := b.Stats()
	if cmds != 2*callers*each || trips < 1 || trips >= cmds {
		t.Errorf("Stats = %d commands in %d round trips; want %d in fewer", cmds, trips, 2*callers*each)
	}
	t.Logf("%d commands in %d round trips (%.1f per trip)", cmds, trips, float64(cmds)/float64(trips))
	// A missing key is redis.Nil for its caller only.
	miss := redis.NewStringCmd(ctx, "get", prefix+":missing")
	if err := b.Do(ctx, miss); !errors.Is(err, redis.Nil) {
		t.Errorf("GET of a missing key = %v, want redis.Nil", err)
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Do(ctx, redis.NewStringCmd(ctx, "get", prefix+":k0")); !errors.Is(err, ErrClosed) {
		t.Errorf("Do after Close = %v, want ErrClosed", err)
	}
	if err := b.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestHungRedis: with a server that never answers and a queue of one,
// every caller returns at about its own deadline; Close returns.
func TestHungRedis(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c) // read nothing, answer nothing
		}
	}()
	client := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { client.Close() })
	b := New(client, Config{Queue: 1, MaxBatch: 2, Timeout: 50 * time.Millisecond})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var slowest time.Duration
	failed := 0
	for range 32 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := b.Do(ctx, redis.NewStringCmd(ctx, "get", "x"))
			mu.Lock()
			defer mu.Unlock()
			slowest = max(slowest, time.Since(start))
			if err != nil {
				failed++
			}
		})
	}
	wg.Wait()
	if failed != 32 || slowest > 500*time.Millisecond {
		t.Errorf("%d of 32 failed, the slowest after %v; want all, within ~50ms (500ms allowed for load)", failed, slowest)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := b.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// TestCloseUnstarted: a batcher that never ran a command closes at once.
func TestCloseUnstarted(t *testing.T) {
	t.Parallel()
	b := New(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), Config{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
}
