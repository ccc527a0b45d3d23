package jobqsqlite

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/sevra/atlas/jobq/jobqdriver"
	"github.com/sevra/atlas/jobq/jobqtest"
)

func openDSN(ctx context.Context, dsn string) (jobqdriver.Driver, error) {
	return Open(ctx, dsn, &Config{Logger: slog.New(slog.DiscardHandler)})
}

func TestMain(m *testing.M) {
	jobqtest.CrashChildMain(openDSN) // never returns in the crash child
	os.Exit(m.Run())
}

func newConformanceBackend(tb testing.TB) jobqdriver.Driver {
	d, err := Open(context.Background(), filepath.Join(tb.TempDir(), "q.db"), &Config{Synchronous: os.Getenv("JOBQ_SQLITE_SYNC"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { d.Close() })
	return d
}

func TestConformance(t *testing.T) {
	jobqtest.Exercise(t, func(t *testing.T) jobqdriver.Driver { return newConformanceBackend(t) })
}

func TestCrash(t *testing.T) {
	jobqtest.ExerciseCrash(t, filepath.Join(t.TempDir(), "crash.db"), openDSN)
}

func BenchmarkConformance(b *testing.B) { jobqtest.Bench(b, newConformanceBackend) }
