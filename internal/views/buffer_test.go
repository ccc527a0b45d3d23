package views

import (
	"context"
	"maps"
	"slices"
	"testing"
)

// TestBufferContract runs the same steps on each Buffer.
func TestBufferContract(t *testing.T) {
	t.Parallel()
	for _, bf := range buffers {
		t.Run(bf.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			buf := bf.open(t)
			if ok, err := buf.Seal(ctx, LiveHash, "b0"); err != nil || ok {
				t.Fatalf("Seal of an empty buffer = %v, %v; want false, nil", ok, err)
			}
			for _, f := range []string{"1", "1", "2"} {
				if err := buf.Incr(ctx, LiveHash, f); err != nil {
					t.Fatal(err)
				}
			}
			if err := buf.Incr(ctx, ShadowHash, "1", "sync:1"); err != nil {
				t.Fatal(err)
			}
			if ok, err := buf.Seal(ctx, LiveHash, "b1"); err != nil || !ok {
				t.Fatalf("Seal = %v, %v; want true, nil", ok, err)
			}
			if err := buf.Incr(ctx, LiveHash, "3"); err != nil { // after the seal: a new buffer
				t.Fatal(err)
			}
			if ok, err := buf.Seal(ctx, LiveHash, "b2"); err != nil || !ok {
				t.Fatalf("second Seal = %v, %v; want true, nil", ok, err)
			}
			ids, err := buf.Batches(ctx, LiveHash)
			if slices.Sort(ids); err != nil || !slices.Equal(ids, []string{"b1", "b2"}) {
				t.Fatalf("Batches = %v, %v; want [b1 b2]", ids, err)
			}
			for id, want := range map[string]map[string]int64{"b1": {"1": 2, "2": 1}, "b2": {"3": 1}, "nope": {}} {
				got, err := buf.Read(ctx, LiveHash, id)
				if err != nil || !maps.Equal(got, want) {
					t.Errorf("Read(%s) = %v, %v; want %v", id, got, err, want)
				}
			}
			if ok, err := buf.Seal(ctx, ShadowHash, "s1"); err != nil || !ok {
				t.Fatalf("Seal(shadow) = %v, %v; want true, nil", ok, err)
			}
			if got, err := buf.Read(ctx, ShadowHash, "s1"); err != nil || !maps.Equal(got, map[string]int64{"1": 1, "sync:1": 1}) {
				t.Errorf("Read(shadow s1) = %v, %v; want {1:1 sync:1:1}", got, err)
			}
			for _, id := range []string{"b1", "b1", "b2"} { // a second delete is no error
				if err := buf.Delete(ctx, LiveHash, id); err != nil {
					t.Fatalf("Delete(%s): %v", id, err)
				}
			}
			if err := buf.Delete(ctx, ShadowHash, "s1"); err != nil {
				t.Fatal(err)
			}
			drained(t, buf, LiveHash)
			drained(t, buf, ShadowHash)
		})
	}
}

// TestRedisKeys checks the Redis layout with direct commands.
func TestRedisKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := testRedis(t)
	prefix := testPrefix(t)
	buf := NewRedisBuffer(c, RedisConfig{Prefix: prefix})
	for range 3 {
		if err := buf.Incr(ctx, LiveHash, "42"); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := c.HGetAll(ctx, prefix+":views:buffer").Result(); err != nil || !maps.Equal(got, map[string]string{"42": "3"}) {
		t.Fatalf("HGETALL %s:views:buffer = %v, %v; want {42: 3}", prefix, got, err)
	}
	if ok, err := buf.Seal(ctx, LiveHash, "x1"); err != nil || !ok {
		t.Fatalf("Seal = %v, %v", ok, err)
	}
	if n, err := c.Exists(ctx, prefix+":views:buffer").Result(); err != nil || n != 0 {
		t.Errorf("the buffer still exists after the seal (%d, %v)", n, err)
	}
	if got, err := c.HGetAll(ctx, prefix+":views:batch:x1").Result(); err != nil || !maps.Equal(got, map[string]string{"42": "3"}) {
		t.Errorf("HGETALL %s:views:batch:x1 = %v, %v; want {42: 3}", prefix, got, err)
	}
	if got, err := c.SMembers(ctx, prefix+":views:batches").Result(); err != nil || !slices.Equal(got, []string{"x1"}) {
		t.Errorf("SMEMBERS %s:views:batches = %v, %v; want [x1]", prefix, got, err)
	}
	if err := buf.Incr(ctx, ShadowHash, "7", "sync:7"); err != nil {
		t.Fatal(err)
	}
	if got, err := c.HGetAll(ctx, prefix+":views:shadow:buffer").Result(); err != nil || !maps.Equal(got, map[string]string{"7": "1", "sync:7": "1"}) {
		t.Errorf("HGETALL %s:views:shadow:buffer = %v, %v", prefix, got, err)
	}
	if err := buf.Delete(ctx, LiveHash, "x1"); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Exists(ctx, prefix+":views:batch:x1", prefix+":views:batches").Result(); err != nil || n != 0 {
		t.Errorf("%d keys left after Delete, %v; want 0", n, err)
	}
}
