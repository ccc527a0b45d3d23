package jobqredis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// BullMQVersion is the BullMQ release whose Redis layout this package
// writes; it is stored in each queue's meta hash as field "version".
const BullMQVersion = "bullmq:6.7.0"

// Config configures a Driver. The zero value (or nil) uses the defaults.
type Config struct {
	// Prefix is the key prefix, as BullMQ's "prefix" option. Default
	// "bull". On Redis Cluster use a hash tag, e.g. "{bull}".
	Prefix string
	// Logger receives diagnostic logs. Default: discard.
	Logger *slog.Logger
	// MaxLenEvents caps each queue's events stream (approximately). When
	// > 0 it is written to meta "opts.maxLenEvents"; when 0 an existing
	// value is kept, else BullMQ's default 10000 applies.
	MaxLenEvents int
}

// ErrQueueName reports a queue name that is empty or contains a colon,
// which BullMQ forbids too.
var ErrQueueName = errors.New("queue names must be non-empty and contain no colon")

// Driver is the Redis jobq backend. It is safe for concurrent use.
type Driver struct {
	client  redis.UniversalClient
	ownsCli bool
	prefix  string
	maxLen  int
	log     *slog.Logger
	scripts scriptSet
	closed  atomic.Bool
	// failover is set when Open built a Sentinel client; waiters then get
	// their own Sentinel-aware connection.
	failover *redis.FailoverOptions
	// addrs names the servers Dial connected to, for errors.
	addrs string

	mu       sync.Mutex
	metaDone map[string]bool       // queues whose meta version was written
	clocks   map[string]*wakeClock // per marker key: the waiters' shared wake clock

	adds addBatcher // single adds, pipelined together (addbatch.go)
}

var _ jobqdriver.Driver = (*Driver)(nil)

// New returns a Driver over client. The caller keeps ownership of client:
// Close does not close it.
func New(client redis.UniversalClient, cfg *Config) (*Driver, error) {
	if client == nil {
		return nil, fmt.Errorf("jobqredis: nil client")
	}
	var c Config
	if cfg != nil {
		c = *cfg
	}
	if c.Prefix == "" {
		c.Prefix = "bull"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	scripts, err := loadScripts()
	if err != nil {
		return nil, err
	}
	if _, ok := client.(*redis.ClusterClient); ok && hashTag(c.Prefix+":") == "" {
		c.Logger.Warn("jobqredis: on Redis Cluster the prefix needs a hash tag such as {bull}, "+
			"unless every queue name carries its own; scripts will fail with CROSSSLOT otherwise", "prefix", c.Prefix)
	}
	return &Driver{
		client:   client,
		prefix:   c.Prefix,
		maxLen:   c.MaxLenEvents,
		log:      c.Logger,
		scripts:  scripts,
		metaDone: map[string]bool{},
	}, nil
}

// Open connects to Redis as url says (see ParseURL: a single server,
// Sentinel or Cluster), checks it with PING and returns a Driver that owns
// the connection. The connection honours context deadlines
// (ContextTimeoutEnabled).
func Open(ctx context.Context, url string, cfg *Config) (*Driver, error) {
	d, err := Dial(url, cfg)
	if err != nil {
		return nil, err
	}
	if err := d.client.Ping(ctx).Err(); err != nil {
		_ = d.Close()
		return nil, fmt.Errorf("jobqredis: ping %s: %w", d.addrs, err)
	}
	return d, nil
}

// Dial is Open without the PING: it returns a Driver that owns a client
// for url even when Redis is unreachable now. Every call then fails until
// Redis answers, and the client reconnects by itself; a process that must
// start during a Redis outage (and wait for it) uses Dial.
func Dial(url string, cfg *Config) (*Driver, error) {
	co, err := ParseURL(url)
	if err != nil {
		return nil, err
	}
	// Honour callers' context deadlines: without this a command waits for
	// a stopped (SIGSTOP, hung) server past its deadline until the server
	// answers again.
	// RESP2 unless the URL asks for a protocol: jobq uses no RESP3 feature,
	// and a RESP3 connection makes go-redis look for push notifications
	// around commands (about 7% of a worker's CPU in the queue benchmark).
	switch {
	case co.Failover != nil:
		co.Failover.ContextTimeoutEnabled = true
		if co.Failover.Protocol == 0 {
			co.Failover.Protocol = 2
		}
	case co.Cluster != nil:
		co.Cluster.ContextTimeoutEnabled = true
		if co.Cluster.Protocol == 0 {
			co.Cluster.Protocol = 2
		}
	default:
		co.Single.ContextTimeoutEnabled = true
		if co.Single.Protocol == 0 {
			co.Single.Protocol = 2
		}
	}
	client := co.NewClient()
	d, err := New(client, cfg)
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	d.ownsCli = true
	d.failover = co.Failover
	d.addrs = strings.Join(co.Addrs(), ",")
	return d, nil
}

// hashTag returns the part of key Redis Cluster hashes when it is not the
// whole key: the text between the first "{" and the first "}" after it,
// when non-empty; else "".
func hashTag(key string) string {
	i := strings.IndexByte(key, '{')
	if i < 0 {
		return ""
	}
	j := strings.IndexByte(key[i+1:], '}')
	if j <= 0 {
		return ""
	}
	return key[i+1 : i+1+j]
}

// Client returns the underlying Redis client.
func (d *Driver) Client() redis.UniversalClient { return d.client }

// QueueKey returns "<prefix>:<queue>".
func (d *Driver) QueueKey(queue string) string { return d.prefix + ":" + queue }

func (d *Driver) prefixOf(queue string) string { return d.prefix + ":" + queue + ":" }

func (d *Driver) jobKey(queue, id string) string { return d.prefixOf(queue) + id }

// queueSuffixes is the order of KEYS for every script (see lua/lib.lua).
var queueSuffixes = []string{
	"wait", "active", "prioritized", "delayed", "completed", "failed",
	"waiting-children", "marker", "meta", "id", "events", "stalled",
	"stalled-check", "limiter", "pc", "repeat", "metrics:completed",
	"metrics:failed",
}

func (d *Driver) keysOf(queue string) []string {
	p := d.prefixOf(queue)
	keys := make([]string, len(queueSuffixes))
	for i, s := range queueSuffixes {
		keys[i] = p + s
	}
	return keys
}

func (d *Driver) key(queue, suffix string) string { return d.prefixOf(queue) + suffix }

// ensureMeta writes the meta fields BullMQ's Queue writes on start
// (version, and opts.maxLenEvents when configured), once per queue.
func (d *Driver) ensureMeta(ctx context.Context, queue string) error {
	if d.closed.Load() {
		return jobqdriver.ErrClosed
	}
	if queue == "" || strings.Contains(queue, ":") {
		// keys are split after the queue name (ids may contain colons)
		return fmt.Errorf("jobqredis: queue name %q: %w", queue, ErrQueueName)
	}
	d.mu.Lock()
	done := d.metaDone[queue]
	d.mu.Unlock()
	if done {
		return nil
	}
	meta := d.key(queue, "meta")
	pipe := d.client.Pipeline()
	pipe.HSet(ctx, meta, "version", BullMQVersion)
	if d.maxLen > 0 {
		pipe.HSet(ctx, meta, "opts.maxLenEvents", strconv.Itoa(d.maxLen))
	} else {
		pipe.HSetNX(ctx, meta, "opts.maxLenEvents", "10000")
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("jobqredis: write meta of %q: %w", queue, err)
	}
	d.mu.Lock()
	d.metaDone[queue] = true
	d.mu.Unlock()
	return nil
}

func (d *Driver) forgetMeta(queue string) {
	d.mu.Lock()
	delete(d.metaDone, queue)
	d.mu.Unlock()
}

// Close marks the driver closed and closes the client when Open created
// it.
func (d *Driver) Close() error {
	if d.closed.Swap(true) {
		return nil
	}
	d.closeAdds()
	if d.ownsCli {
		if err := d.client.Close(); err != nil {
			return fmt.Errorf("jobqredis: close: %w", err)
		}
	}
	return nil
}

func (d *Driver) checkOpen() error {
	if d.closed.Load() {
		return jobqdriver.ErrClosed
	}
	return nil
}
