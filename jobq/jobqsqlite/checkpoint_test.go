package jobqsqlite

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// TestCheckpointerCopiesWAL: commits do not checkpoint (the automatic
// checkpoint is off), yet the database file receives the WAL's pages
// while the driver is open, from the checkpointer goroutine.
func TestCheckpointerCopiesWAL(t *testing.T) {
	d, path := openTest(t)
	ctx := context.Background()
	var auto int
	if err := d.rdb.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&auto); err != nil {
		t.Fatal(err)
	}
	if auto != 0 {
		t.Fatalf("wal_autocheckpoint = %d, want 0", auto)
	}
	st0, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	jobs := make([]*jobqdriver.Job, 500)
	for i := range jobs {
		jobs[i] = &jobqdriver.Job{Name: "n", Data: make([]byte, 2000)}
	}
	if _, err := d.Add(ctx, "ck", jobs, 1); err != nil {
		t.Fatal(err)
	}
	// 500 jobs of 2 kB are about 1 MB in the WAL; the checkpointer copies
	// them into the database file within a few of its 100 ms ticks.
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > st0.Size()+500_000 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("database file %d bytes (was %d) 5 s after the commit: WAL not checkpointed", st.Size(), st0.Size())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
