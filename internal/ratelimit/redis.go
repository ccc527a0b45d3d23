package ratelimit

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

//go:embed allow.lua
var allowLua string

var allowScript = redis.NewScript(allowLua)

// DefaultRedisPrefix is the key prefix [NewRedis] uses when given "".
const DefaultRedisPrefix = "ratelimit"

// Redis is a [Limiter] whose logs live in Redis (≥ 5), so that every process
// using the same Redis and prefix shares one budget per key and rule. It is
// safe for concurrent use.
//
// Each Allow runs one Lua script, atomic across processes. The log of a rule
// under a key is a sorted set named "<prefix>:{<key>}:<rule name>" (prefix,
// key and rule name escaped, see [Redis.Key]) holding one member per
// recorded event, scored with the Redis server's TIME in milliseconds. The
// braces are a hash tag: all rules of one key share a Redis Cluster slot.
// Windows are rounded up to whole milliseconds.
//
// Memory is bounded without relying on eviction (safe under noeviction): a
// set holds at most Limit members (~60 bytes each, the largest Limit should
// one rule name come with several) and expires, with PEXPIRE, one Window
// after its newest event. So Redis holds at most Σ Limit members for each
// key that had an event allowed within the longest window; unlike [Memory],
// the number of keys is not capped, so check cheap, coarse keys (client IP)
// before keys an attacker can vary freely (phone number).
type Redis struct {
	client redis.UniversalClient
	prefix string
	tag    string        // when set, the hash tag of every key (InSlot)
	id     string        // random, makes members unique across processes
	seq    atomic.Uint64 // makes members unique within this value
}

// NewRedis returns a Limiter storing its logs through client under prefix
// (DefaultRedisPrefix when empty). The caller owns client and closes it.
func NewRedis(client redis.UniversalClient, prefix string) *Redis {
	if prefix == "" {
		prefix = DefaultRedisPrefix
	}
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails, see crypto/rand.Read
	return &Redis{client: client, prefix: escape(prefix), id: hex.EncodeToString(b[:])}
}

// Allow implements [Limiter]. Errors from Redis are wrapped.
func (r *Redis) Allow(ctx context.Context, key string, rules ...Rule) (Decision, error) {
	return r.AllowAll(ctx, Check{Key: key, Rules: rules})
}

// AllowAll implements [Limiter] with one script call over every key's
// sets. On Redis Cluster the keys must share a slot: use a Redis from
// InSlot when checks hold more than one key.
func (r *Redis) AllowAll(ctx context.Context, checks ...Check) (Decision, error) {
	if err := validateAll(checks); err != nil {
		return Decision{}, err
	}
	var keys []string
	var names []string
	args := []any{r.id + "." + strconv.FormatUint(r.seq.Add(1), 36)}
	for _, c := range checks {
		for _, rule := range c.Rules {
			keys = append(keys, r.Key(c.Key, rule.Name))
			names = append(names, rule.Name)
			ms := (rule.Window + time.Millisecond - 1) / time.Millisecond
			args = append(args, rule.Limit, int64(ms))
		}
	}
	res, err := allowScript.Run(ctx, r.client, keys, args...).Int64Slice()
	if err != nil {
		return Decision{}, fmt.Errorf("ratelimit: redis: %w", err)
	}
	if len(res) != 3 || res[1] < 0 || res[1] > int64(len(keys)) {
		return Decision{}, fmt.Errorf("ratelimit: redis: unexpected script reply %v", res)
	}
	if res[0] == 1 {
		return Decision{Allowed: true}, nil
	}
	return Decision{
		Rule:       names[res[1]-1],
		RetryAfter: time.Duration(res[2]) * time.Millisecond,
	}, nil
}

// InSlot returns a Redis limiter on the same client and prefix whose keys
// all share the hash tag {tag}, so AllowAll over several keys runs on
// Redis Cluster (one slot holds them all: use it for low-volume limits,
// such as logins). Its key names are "<prefix>:{<tag>}:<key>:<rule>".
func (r *Redis) InSlot(tag string) *Redis {
	n := NewRedis(r.client, "")
	n.prefix, n.tag = r.prefix, escape(tag)
	return n
}

// Key returns the name of the sorted set holding the log of rule under key:
// "<prefix>:{<key>}:<rule>", each part escaped so that any bytes are safe and
// the hash tag is exactly the escaped key. Escaping keeps ASCII letters,
// digits and "+-.:_" (phone numbers, IPv4 and IPv6 addresses stay readable)
// and writes every other byte as %XX.
func (r *Redis) Key(key, rule string) string {
	if r.tag != "" {
		return r.prefix + ":{" + r.tag + "}:" + escape(key) + ":" + escape(rule)
	}
	return r.prefix + ":{" + escape(key) + "}:" + escape(rule)
}

// escape percent-encodes s, keeping only bytes that are safe in a key and
// inside a hash tag. It is injective.
func escape(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '+', c == '-', c == '.', c == ':', c == '_':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}
