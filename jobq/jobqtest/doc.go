// Package jobqtest is the conformance suite that every jobq backend runs.
//
// A backend's test file calls Exercise with a constructor that returns a
// fresh, isolated backend for each sub-test; the suite drives it only
// through package jobq's public API (Queue, Worker, FlowProducer,
// QueueEvents, job schedulers), and through jobqdriver.Driver only where
// the public API cannot observe something (for example a lock taken by a
// worker that never finishes):
//
//	func newBackend(tb testing.TB) jobqdriver.Driver {
//		d, err := mybackend.Open(context.Background(), filepath.Join(tb.TempDir(), "q.db"), nil)
//		if err != nil {
//			tb.Fatal(err)
//		}
//		tb.Cleanup(func() { d.Close() })
//		return d
//	}
//
//	func TestConformance(t *testing.T) {
//		jobqtest.Exercise(t, func(t *testing.T) jobqdriver.Driver { return newBackend(t) })
//	}
//
// The backend closes itself through the cleanup newBackend registers: the
// suite never calls Driver.Close, and registered first, that cleanup runs
// after the suite has closed the workers and subscribers that use the
// backend. Sub-tests run in parallel within each group and use unique
// queue names. With testing.Short the load test runs 5,000 jobs instead
// of 50,000.
//
// # Crash test
//
// ExerciseCrash kills a worker process with SIGKILL while it holds a job
// and checks that a worker in the test process recovers and completes
// every job. The suite cannot build a child process for an arbitrary
// backend, so it re-executes the current test binary: the backend's
// TestMain must call CrashChildMain first, which turns the process into
// the crash child when the environment says so (CrashChildEnv) and returns
// otherwise. Both processes must reach the same storage, named by a
// backend-specific string (a SQLite file path, or a Redis URL plus a key
// prefix), which the suite passes to the child through the environment
// (CrashDSNEnv). About ten lines wire it:
//
//	func openDSN(ctx context.Context, dsn string) (jobqdriver.Driver, error) {
//		return mybackend.Open(ctx, dsn, nil)
//	}
//
//	func TestMain(m *testing.M) {
//		jobqtest.CrashChildMain(openDSN) // never returns in the child
//		os.Exit(m.Run())
//	}
//
//	func TestCrash(t *testing.T) {
//		jobqtest.ExerciseCrash(t, filepath.Join(t.TempDir(), "crash.db"), openDSN)
//	}
//
// # Benchmarks
//
// Bench runs sub-benchmarks for Add, AddBulk (100 per call) and the
// processing of no-op jobs at concurrency 1, 10 and 100, reporting jobs/s:
//
//	func BenchmarkBackend(b *testing.B) { jobqtest.Bench(b, newBackend) }
package jobqtest
