package jobqredis

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

var _ jobqdriver.WorkerLister = (*Driver)(nil)

// Workers lists the connections named as workers of queue, as BullMQ
// 6.7's Queue.getWorkers() does: CLIENT LIST entries whose name is
// WorkerClientName(prefix, queue, "") or starts with it plus ":w:". Go
// and Node workers both name their blocking connection so. Name is the
// part after ":w:", Host the client address, Started the connection's
// age and LastSeen its idle time before now; Pid and Concurrency are not
// known on Redis and stay 0. A live connection is a live worker, so since
// is not applied. On Redis Cluster every master is asked, and a named
// worker connected to several of them is listed once.
func (d *Driver) Workers(ctx context.Context, queue string, since int64) ([]jobqdriver.WorkerInfo, error) {
	if err := d.checkOpen(); err != nil {
		return nil, err
	}
	var lists []string
	if cc, ok := d.client.(*redis.ClusterClient); ok {
		ch := make(chan string, 64)
		err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			s, err := c.ClientList(ctx).Result()
			if err == nil {
				ch <- s
			}
			return err
		})
		close(ch)
		if err != nil {
			return nil, fmt.Errorf("jobqredis: client list: %w", err)
		}
		for s := range ch {
			lists = append(lists, s)
		}
	} else {
		s, err := d.client.ClientList(ctx).Result()
		if err != nil {
			return nil, fmt.Errorf("jobqredis: client list: %w", err)
		}
		lists = append(lists, s)
	}
	now := time.Now().UnixMilli()
	var out []jobqdriver.WorkerInfo
	for _, l := range lists {
		out = append(out, parseWorkers(l, WorkerClientName(d.prefix, queue, ""), now)...)
	}
	if len(lists) > 1 {
		out = mergeNamed(out)
	}
	return out, nil
}

// mergeNamed folds the entries of a named worker that has a connection on
// several cluster nodes into one (earliest start, latest sighting).
// Unnamed workers cannot be told apart and stay one entry per connection.
func mergeNamed(ws []jobqdriver.WorkerInfo) []jobqdriver.WorkerInfo {
	var out []jobqdriver.WorkerInfo
	at := map[string]int{}
	for _, w := range ws {
		i, seen := at[w.Name]
		if w.Name == "" || !seen {
			at[w.Name] = len(out)
			out = append(out, w)
			continue
		}
		out[i].Started = min(out[i].Started, w.Started)
		out[i].LastSeen = max(out[i].LastSeen, w.LastSeen)
	}
	return out
}

// parseWorkers picks the workers named base (or base+":w:…") out of a
// CLIENT LIST answer.
func parseWorkers(list, base string, now int64) []jobqdriver.WorkerInfo {
	var out []jobqdriver.WorkerInfo
	for _, line := range strings.Split(list, "\n") {
		f := map[string]string{}
		for _, kv := range strings.Fields(line) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				f[k] = v
			}
		}
		name := f["name"]
		var w jobqdriver.WorkerInfo
		switch {
		case name == base:
		case strings.HasPrefix(name, base+":w:"):
			w.Name = strings.TrimPrefix(name, base+":w:")
		default:
			continue
		}
		w.Host = f["addr"]
		age, _ := strconv.ParseInt(f["age"], 10, 64)
		idle, _ := strconv.ParseInt(f["idle"], 10, 64)
		w.Started, w.LastSeen = now-age*1000, now-idle*1000
		out = append(out, w)
	}
	return out
}
