package otp_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/sms"
	"github.com/sevra/atlas/internal/store"
)

// TestNoPlaintextCode runs whole request → send → verify cycles (async
// with an ambiguous failure, a lookup and a resend; shadow; sync) and
// scans everything the service leaves behind for the code: the log, the
// outbox events and job payloads, every column of every challenge and
// outbox row, the handler results and errors, and the metrics.
func TestNoPlaintextCode(t *testing.T) {
	t.Parallel()
	for _, mode := range []rollout.Mode{rollout.Async, rollout.Shadow, rollout.Sync} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			dialects(t, func(t *testing.T, st *store.Store) { testNoPlaintextCode(t, st, mode) })
		})
	}
}

func testNoPlaintextCode(t *testing.T, st *store.Store, mode rollout.Mode) {
	ctx := context.Background()
	rp := reconcilingSMS{&fakeSMS{}}
	logs := &syncBuffer{}
	rec, err := rollout.NewRecorder(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	// One log for the service, the outbox and the shadow recorder.
	r := newRig(t, st, options{provider: rp, mode: mode, shadow: rec, logs: logs})

	// The ambiguous failure happens on the first send, inline or in the job.
	rp.failNext(smsErr(sms.Ambiguous))
	c, err := r.svc.Request(ctx, "0912 123 4567", "10.1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	var outputs []string // handler results and errors
	if mode == rollout.Async {
		res, err := r.send(t, c.ID)
		outputs = append(outputs, fmt.Sprint(res, err))
		rp.answerLookup(false, nil)
		res, err = r.svc.HandleSend(ctx, r.job(t, c.ID, 1))
		if err != nil {
			t.Fatalf("second attempt: %v", err)
		}
		outputs = append(outputs, fmt.Sprint(res, err))
	}
	if mode == rollout.Shadow {
		res, err := r.send(t, c.ID)
		outputs = append(outputs, fmt.Sprint(res, err))
	}
	code := rp.last(t, c.ID).Code
	if len(code) != 6 {
		t.Fatalf("provider got code %q", code)
	}
	if _, err := r.svc.Verify(ctx, c.ID, wrongCode(code), "10.1.2.3"); err == nil {
		t.Fatal("wrong code accepted")
	}
	l, err := r.svc.Verify(ctx, c.ID, code, "10.1.2.3")
	if err != nil {
		t.Fatalf("verify (mode %s): %v", mode, err)
	}

	// Random identifiers that may contain any 6 digits by chance are
	// blanked before the text scans; none of them derives from the code.
	known := []string{c.ID, phoneA, l.Token}
	for _, e := range r.outbox.added() {
		known = append(known, e.ID)
	}
	scrub := func(s string) string {
		for _, k := range known {
			s = strings.ReplaceAll(s, k, "<id>")
		}
		return s
	}
	check := func(what, s string) {
		t.Helper()
		if strings.Contains(scrub(s), code) {
			t.Errorf("%s contains the code %s:\n%s", what, code, s)
		}
	}

	log := logs.String()
	if !strings.Contains(log, "otp login") || !strings.Contains(log, "send failed") {
		t.Errorf("the log lacks the login or the failed send; the scan would prove nothing:\n%s", log)
	}
	for i, line := range strings.Split(log, "\n") {
		check(fmt.Sprintf("log line %d", i+1), line)
	}
	for _, e := range r.outbox.added() {
		check("event payload", string(e.Payload))
	}
	for _, j := range r.jobs.all() {
		check("job data", string(j.data))
	}
	for _, o := range outputs {
		check("handler result", o)
	}
	for _, table := range []string{"otp_challenges", "outbox"} {
		n := scanRows(t, st, table, func(col string, v any) {
			switch v := v.(type) {
			case []byte:
				if bytes.Contains(v, []byte(code)) {
					t.Errorf("%s.%s holds the code's bytes: %x", table, col, v)
				}
			case nil:
			default:
				check(table+"."+col, fmt.Sprint(v))
			}
		})
		if table == "otp_challenges" && n != 1 {
			t.Errorf("scanned %d challenge rows, want 1", n)
		}
	}
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) == 0 {
		t.Error("no metrics gathered")
	}
	for _, mf := range mfs {
		check("metric "+mf.GetName(), mf.String())
	}
	if v := metric(t, r.reg, "atlas_otp_verifications_total", "result", "ok"); v != 1 {
		t.Errorf("verifications{ok} = %v, want 1", v)
	}
}

// scanRows calls f with every column of every row of table and returns
// the number of rows.
func scanRows(t *testing.T, st *store.Store, table string, f func(col string, v any)) int {
	t.Helper()
	rows, err := st.DB().QueryContext(context.Background(), "SELECT * FROM "+table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			if tm, ok := v.(time.Time); ok {
				v = tm.Format(time.RFC3339Nano)
			}
			f(cols[i], v)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}
