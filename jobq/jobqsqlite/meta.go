package jobqsqlite

import (
	"encoding/json"
	"fmt"
	"strings"
)

// meta is a queue's row, loaded once per transaction and saved at commit.
type meta struct {
	queue     string
	paused    bool
	idCtr     int64
	seq       int64
	evtSeq    int64
	wakeGen   int64
	limStart  int64
	limCount  int64
	rlUntil   int64
	stalledAt int64
	drained   bool

	evtStart int64 // evtSeq when loaded
	exists   bool
	dirty    bool
}

// meta returns the queue's row, creating it in memory when missing.
func (t *wtx) meta(queue string) (*meta, error) {
	if m, ok := t.metas[queue]; ok {
		return m, nil
	}
	m := &meta{queue: queue}
	var paused, drained int64
	found, err := t.row(`SELECT paused, id_ctr, seq, evt_seq, wake_gen, lim_start, lim_count, rl_until, stalled_check_at, drained
		FROM queues WHERE queue = ?`, []any{queue},
		&paused, &m.idCtr, &m.seq, &m.evtSeq, &m.wakeGen, &m.limStart, &m.limCount, &m.rlUntil, &m.stalledAt, &drained)
	if err != nil {
		return nil, err
	}
	m.exists = found
	m.dirty = !found
	m.paused = paused != 0
	m.drained = drained != 0
	m.evtStart = m.evtSeq
	if t.metas == nil {
		t.metas = map[string]*meta{}
	}
	t.metas[queue] = m
	t.order = append(t.order, queue)
	return m, nil
}

// nextSeq returns a new ordering key.
func (m *meta) nextSeq() int64 {
	m.seq++
	m.dirty = true
	return m.seq
}

// nextID returns the next value of the queue's id counter.
func (m *meta) nextID() int64 {
	m.idCtr++
	m.dirty = true
	return m.idCtr
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func (m *meta) save(t *wtx) error {
	if !m.dirty {
		return nil
	}
	args := []any{b2i(m.paused), m.idCtr, m.seq, m.evtSeq, m.wakeGen, m.limStart, m.limCount, m.rlUntil, m.stalledAt, b2i(m.drained), m.queue}
	if m.exists {
		_, err := t.exec(`UPDATE queues SET paused = ?, id_ctr = ?, seq = ?, evt_seq = ?, wake_gen = ?, lim_start = ?,
			lim_count = ?, rl_until = ?, stalled_check_at = ?, drained = ? WHERE queue = ?`, args...)
		return err
	}
	_, err := t.exec(`INSERT INTO queues (paused, id_ctr, seq, evt_seq, wake_gen, lim_start, lim_count, rl_until,
		stalled_check_at, drained, queue) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	m.exists = err == nil
	return err
}

// eventRowsPerInsert bounds one multi-row INSERT of events.
const eventRowsPerInsert = 64

// trimEvery: events are trimmed to MaxLenEvents each time a queue's event
// sequence crosses a multiple of trimEvery (an approximate cap, like
// BullMQ's MAXLEN ~).
const trimEvery = 64

func (t *wtx) flushEvents() error {
	if len(t.events) == 0 {
		return nil
	}
	args := make([]any, 0, 4*min(len(t.events), eventRowsPerInsert))
	n := 0
	insert := func() error {
		if n == 0 {
			return nil
		}
		q := "INSERT INTO events (queue, seq, name, fields) VALUES " +
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?), ", n), ", ")
		_, err := t.exec(q, args...)
		args, n = args[:0], 0
		return err
	}
	for _, e := range t.events {
		m, err := t.meta(e.queue)
		if err != nil {
			return err
		}
		m.evtSeq++
		m.dirty = true
		fields, err := encodeFields(e.fields)
		if err != nil {
			return err
		}
		args = append(args, e.queue, m.evtSeq, e.name, fields)
		n++
		if n == eventRowsPerInsert {
			if err := insert(); err != nil {
				return err
			}
		}
	}
	if err := insert(); err != nil {
		return err
	}
	for _, q := range t.order {
		m := t.metas[q]
		if m.evtSeq/trimEvery != m.evtStart/trimEvery && m.evtSeq > int64(t.d.cfg.MaxLenEvents) {
			if _, err := t.exec(`DELETE FROM events WHERE queue = ? AND seq <= ?`,
				q, m.evtSeq-int64(t.d.cfg.MaxLenEvents)); err != nil {
				return err
			}
		}
	}
	t.events = nil
	return nil
}

func encodeFields(kv []string) (string, error) {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("jobqsqlite: encode event: %w", err)
	}
	return string(b), nil
}
