package cli

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/store"
	"github.com/sevra/atlas/internal/store/storetest"
)

// Redis down at start: `atlas run`, and `atlas serve` with `atlas worker`,
// start against a Redis port where nothing listens, report Redis as
// degraded (/readyz 200, strict 503, atlas_dependency_up 0), accept a
// review through the outbox, and once a redis-server starts on that port
// the outbox drains and the review job runs, without restarting Atlas.

func TestRunStartsWithRedisDown(t *testing.T) {
	t.Parallel()
	rds := newPrivateRedis(t)
	dataDir := storetest.TempDataDir(t)
	env := redisDownEnv(rds, dataDir, "")
	base, cancel, done := startRun(t, env, "--demo")
	defer stopCommand(t, "run", cancel, done)
	testRedisDown(t, rds, base, "", dataDir)
}

func TestServeAndWorkerStartWithRedisDown(t *testing.T) {
	t.Parallel()
	dsn := storetest.IsolatedPostgresURL(t)
	rds := newPrivateRedis(t)
	seedDir := storetest.TempDataDir(t)
	if code := Run(context.Background(), []string{"seed", "--cities", "2", "--salons", "5", "--reviews", "0", "--posts", "0", "--progress=false"},
		mapEnv(map[string]string{"ATLAS_DATABASE_URL": dsn, "ATLAS_DATA_DIR": seedDir}), io.Discard, io.Discard); code != 0 {
		t.Fatalf("seed exited %d", code)
	}
	_, werr, wcancel, wdone := startCommand(t, "worker", redisDownEnv(rds, storetest.TempDataDir(t), dsn))
	defer stopCommand(t, "worker", wcancel, wdone)
	base, cancel, done := startServer(t, "serve", redisDownEnv(rds, storetest.TempDataDir(t), dsn))
	defer stopCommand(t, "serve", cancel, done)
	select {
	case code := <-wdone:
		t.Fatalf("worker exited %d with Redis down:\n%s", code, werr)
	default:
	}
	testRedisDown(t, rds, base, dsn, seedDir)
}

func redisDownEnv(rds *privateRedis, dataDir, dsn string) map[string]string {
	return map[string]string{
		"ATLAS_ADDR": "127.0.0.1:0", "ATLAS_DATA_DIR": dataDir, "ATLAS_DATABASE_URL": dsn,
		"ATLAS_REDIS_URL": rds.url(), "ATLAS_REDIS_ALLOW_UNSAFE": "true", "ATLAS_ADMIN_TOKEN": "secret",
		"ATLAS_REDIS_PREFIX": "redisdown", "ATLAS_LOG_LEVEL": "warn",
	}
}

func testRedisDown(t *testing.T, rds *privateRedis, base, dsn, dataDir string) {
	var ready struct {
		Status string
		Checks map[string]struct{ Status, Error string }
	}
	if code := getJSON(t, base+"/healthz", nil); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	if code := getJSON(t, base+"/readyz", &ready); code != 200 || ready.Status != "degraded" ||
		ready.Checks["redis"].Status != "degraded" || ready.Checks["database"].Status != "ok" {
		t.Errorf("/readyz with Redis down = %d %+v; want 200, degraded", code, ready)
	}
	if code := getJSON(t, base+"/readyz?strict=1", &ready); code != 503 || ready.Checks["redis"].Status != "fail" {
		t.Errorf("/readyz?strict=1 with Redis down = %d %+v; want 503", code, ready)
	}
	if m := metricsText(t, base); !strings.Contains(m, `atlas_dependency_up{degradable="true",dependency="redis"} 0`) {
		t.Errorf("/metrics lacks atlas_dependency_up for redis = 0")
	}

	var list struct {
		Items []struct {
			ID   int64 `json:"id"`
			Slug string
		}
	}
	if code := getJSON(t, base+"/api/v1/salons?sort=name&per_page=1", &list); code != 200 || len(list.Items) != 1 {
		t.Fatalf("salons with Redis down = %d %+v", code, list)
	}
	salon := list.Items[0]
	req, _ := http.NewRequest("POST", base+"/api/v1/salons/"+salon.Slug+"/reviews", strings.NewReader(`{"rating":4,"body":"written while redis was down"}`))
	req.Header.Set("Authorization", "Bearer secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST review with Redis down = %d %s", resp.StatusCode, b)
	}

	st, err := store.Open(context.Background(), dsn, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	count := func(q string, args ...any) int {
		var n int
		if err := st.DB().QueryRow(st.Rebind(q), args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	if n := count("SELECT count(*) FROM outbox WHERE published_at IS NULL"); n == 0 {
		t.Fatal("no event waits in the outbox with Redis down")
	}
	// The review job recomputes the salon's aggregate: with the default
	// async mode nothing else writes rating_count.
	ratings := "SELECT rating_count FROM salons WHERE id = ?"
	published := "SELECT count(*) FROM reviews WHERE salon_id = ? AND status = 'published'"
	before, want := count(ratings, salon.ID), count(published, salon.ID)
	if before != want-1 {
		t.Fatalf("rating_count = %d with %d published reviews before Redis is up; want %d (the job cannot have run)", before, want, want-1)
	}

	rds.start()
	deadline := time.Now().Add(60 * time.Second)
	for {
		pending, rc := count("SELECT count(*) FROM outbox WHERE published_at IS NULL"), count(ratings, salon.ID)
		if pending == 0 && rc == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("60 s after Redis started: %d events unpublished, rating_count %d (want 0 and %d)", pending, rc, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code := getJSON(t, base+"/readyz?strict=1", &ready); code != 200 || ready.Status != "ok" {
		t.Errorf("/readyz?strict=1 after Redis returned = %d %+v; want 200 ok", code, ready)
	}
	if m := metricsText(t, base); !strings.Contains(m, `atlas_dependency_up{degradable="true",dependency="redis"} 1`) {
		t.Errorf("/metrics lacks atlas_dependency_up for redis = 1 after Redis returned")
	}
}

func metricsText(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
