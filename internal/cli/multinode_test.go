package cli

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sevra/atlas/internal/media/storage/s3test"
	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/redistest"
	"github.com/sevra/atlas/internal/store/storetest"
)

// node is one `atlas` process of the built binary.
type node struct {
	t      *testing.T
	name   string
	bin    string
	args   []string
	env    []string
	cmd    *exec.Cmd
	out    *lines
	errb   *lines
	base   string // http://addr for serve
	exited chan error
	ended  bool // killed or stopped since the last start
}

func (n *node) start() {
	n.t.Helper()
	n.cmd = exec.Command(n.bin, n.args...)
	n.cmd.Env = n.env
	n.out, n.errb = newLines(), newLines()
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.errb
	if err := n.cmd.Start(); err != nil {
		n.t.Fatalf("%s: %v", n.name, err)
	}
	n.exited, n.ended = make(chan error, 1), false
	go func(c *exec.Cmd, ch chan error) { ch <- c.Wait() }(n.cmd, n.exited)
	if n.args[0] == "serve" {
		select {
		case a := <-n.out.addr:
			n.base = "http://" + a
		case err := <-n.exited:
			n.t.Fatalf("%s exited before listening: %v\n%s", n.name, err, n.errb)
		case <-time.After(60 * time.Second):
			n.t.Fatalf("%s did not listen within 60s\n%s", n.name, n.errb)
		}
		return
	}
	// A worker logs one line per queue worker it started.
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(n.errb.String(), "queue worker started"); time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-n.exited:
			n.t.Fatalf("%s exited before starting workers: %v\n%s", n.name, err, n.errb)
		default:
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("%s started no worker within 60s\n%s", n.name, n.errb)
		}
	}
}

// kill sends SIGKILL: no drain, no lock release.
func (n *node) kill() {
	n.t.Helper()
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.exited
	n.ended = true
}

// stop sends SIGTERM and wants exit 0 within 30 s.
func (n *node) stop() {
	n.t.Helper()
	n.ended = true
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-n.exited:
		if err != nil {
			n.t.Errorf("%s after SIGTERM: %v\n%s", n.name, err, n.errb)
		}
	case <-time.After(30 * time.Second):
		_ = n.cmd.Process.Kill()
		n.t.Errorf("%s did not stop within 30s of SIGTERM", n.name)
	}
}

// TestMultiNode runs Atlas as production does: two `atlas serve` on
// different ports and two `atlas worker` (one only for media), each with
// its own data dir, sharing PostgreSQL, Redis and a real S3 server, all
// from the built binary. Uploads through node 1 become ready and are
// served through node 2; the media worker is SIGKILLed with a job in
// flight and restarted; a review through node 2 shows on node 1 within
// 1 s of its recompute; a sitemap rebuild requested on node 2 is served by
// node 1 (generations published to the shared storage); and at the
// end nothing is lost (every upload ready, its variants in the bucket,
// the outbox published) and nothing is stuck (no active job anywhere).
func TestMultiNode(t *testing.T) {
	t.Parallel()
	dbURL := storetest.IsolatedPostgresURL(t)
	rc := redistest.Client(t)
	prefix := redistest.Prefix(t, rc, "multinode")
	s3 := s3test.Start(t)

	bin := filepath.Join(t.TempDir(), "atlas")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/sevra/atlas/cmd/atlas").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	shared := map[string]string{
		"ATLAS_DATABASE_URL": dbURL, "ATLAS_REDIS_URL": os.Getenv("ATLAS_TEST_REDIS_URL"), "ATLAS_REDIS_PREFIX": prefix,
		"ATLAS_REDIS_ALLOW_UNSAFE": "true", "ATLAS_ADMIN_TOKEN": "multinode-admin", "ATLAS_LOG_LEVEL": "info",
		"ATLAS_SITEMAP_SCHEDULE": "off", "ATLAS_MEDIA_WIDTHS": "160,320", "ATLAS_ADDR": "127.0.0.1:0",
		"ATLAS_BASE_URL": "https://atlas.example",
	}
	maps.Copy(shared, s3.Env("site"))
	envFor := func(name string) []string {
		env := append([]string{}, os.Environ()...)
		for k, v := range shared {
			env = append(env, k+"="+v)
		}
		return append(env, "ATLAS_DATA_DIR="+filepath.Join(t.TempDir(), name))
	}
	for _, args := range [][]string{{"migrate"}, {"seed", "--cities", "2", "--salons", "12", "--reviews", "30", "--posts", "2", "--progress=false"}} {
		cmd := exec.Command(bin, args...)
		cmd.Env = envFor("setup")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("atlas %v: %v\n%s", args, err, out)
		}
	}
	newNode := func(name string, args ...string) *node {
		n := &node{t: t, name: name, bin: bin, args: args, env: envFor(name)}
		n.start()
		return n
	}
	api1, api2 := newNode("api1", "serve"), newNode("api2", "serve")
	media := newNode("worker-media", "worker", "--queues", queues.QueueMedia)
	var all *node
	defer func() {
		for _, n := range []*node{api1, api2, media, all} {
			if n != nil && !n.ended {
				n.stop()
			}
		}
		if t.Failed() {
			for _, n := range []*node{api1, api2, media, all} {
				if n != nil {
					t.Logf("%s stderr:\n%s", n.name, n.errb)
				}
			}
		}
	}()
	auth := "multinode-admin"
	key := func(q, suffix string) string { return prefix + ":" + q + ":" + suffix }

	// A sitemap rebuild requested on node 2 (it runs on the general
	// worker, started below, after its coalescing delay).
	if code := postJSON(t, api2.base+"/api/v1/admin/sitemap/rebuild", auth, nil, nil); code != 202 {
		t.Fatalf("rebuild on node 2: %d, want 202", code)
	}

	// Uploads through node 1, large enough that a job is still running
	// when the media worker is killed.
	big := testJPEG(3000, 2000)
	var ids []int64
	for range 4 {
		ids = append(ids, uploadFile(t, api1.base, auth, big))
	}
	for deadline := time.Now().Add(60 * time.Second); rc.LLen(context.Background(), key("media", "active")).Val() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no media job became active within 60s")
		}
	}
	media.kill()
	orphaned := rc.LLen(context.Background(), key("media", "active")).Val()
	t.Logf("media worker SIGKILLed with %d job(s) active", orphaned)
	if orphaned == 0 {
		t.Fatal("the kill found no media job in flight; the recovery path was not exercised")
	}
	media.start()
	all = newNode("worker-all", "worker")

	// Every upload becomes ready (the orphaned job after its lock lapses
	// and the stalled check returns it) and is served through node 2.
	for _, id := range ids {
		v := waitMediaReady(t, api2.base, id, 3*time.Minute)
		if len(v.Variants) < 4 {
			t.Fatalf("media %d through node 2: %+v", id, v)
		}
		for _, vv := range v.Variants {
			if code, body, _ := s3test.PublicGet(t, vv.URL); code != 200 || len(body) == 0 {
				t.Errorf("media %d variant %s: %d, %d bytes", id, vv.URL, code, len(body))
			}
		}
		if keys := s3.Keys(t, fmt.Sprintf("site/media/%d/", id)); len(keys) != len(v.Variants) {
			t.Errorf("media %d: bucket holds %v, node 2 lists %d variants", id, keys, len(v.Variants))
		}
	}

	// A review through node 2 shows on node 1 within 1 s of the recompute.
	var list struct{ Items []struct{ Slug string } }
	if code := getJSON(t, api1.base+"/api/v1/salons?sort=name&per_page=1", &list); code != 200 || len(list.Items) != 1 {
		t.Fatalf("salons on node 1: %d %+v", code, list)
	}
	slug := list.Items[0].Slug
	var before struct {
		RatingCount int64 `json:"rating_count"`
	}
	getJSON(t, api1.base+"/api/v1/salons/"+slug, &before) // also warms node 1's cache
	posted := time.Now()
	if code := postJSON(t, api2.base+"/api/v1/salons/"+slug+"/reviews", auth, map[string]any{"rating": 5, "body": "Lovely place, careful staff."}, nil); code != 201 {
		t.Fatalf("review on node 2: %d, want 201", code)
	}
	var seen time.Time
	for deadline := time.Now().Add(30 * time.Second); seen.IsZero(); time.Sleep(10 * time.Millisecond) {
		var after struct {
			RatingCount int64 `json:"rating_count"`
		}
		getJSON(t, api1.base+"/api/v1/salons/"+slug, &after)
		if after.RatingCount == before.RatingCount+1 {
			seen = time.Now()
		} else if time.Now().After(deadline) {
			t.Fatalf("node 1 shows rating_count %d 30s after the review, want %d", after.RatingCount, before.RatingCount+1)
		}
	}
	finished := lastFinished(t, rc, key("analytics", "completed"), key("analytics", ""), "recompute-review-aggregates", posted)
	if lag := seen.Sub(finished); lag > time.Second {
		t.Errorf("node 1 showed the review %v after its recompute finished, want within 1s", lag)
	} else {
		t.Logf("node 1 showed the review %v after it was posted, %v after its recompute finished (polling every 10 ms)",
			seen.Sub(posted).Round(time.Millisecond), lag.Round(time.Millisecond))
	}

	// The sitemap rebuilt by a worker, served by node 1.
	checkSitemapServed(t, api1.base, slug)

	// Nothing lost, nothing stuck.
	for _, q := range queues.Queues {
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			active := rc.LLen(context.Background(), key(q, "active")).Val()
			if active == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("queue %s: %d job(s) still active at the end", q, active)
				break
			}
		}
	}
	if n := rc.ZCard(context.Background(), key("media", "failed")).Val(); n != 0 {
		t.Errorf("%d media job(s) failed", n)
	}
	// The jobs the killed worker held came back through the stalled check.
	evs, err := rc.XRange(context.Background(), key("media", "events"), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	stalled := 0
	for _, e := range evs {
		if e.Values["event"] == "stalled" {
			stalled++
		}
	}
	if int64(stalled) < orphaned {
		t.Errorf("%d stalled event(s) on media for %d job(s) orphaned by the kill", stalled, orphaned)
	}
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var unpublished int
		if err := db.QueryRow(`SELECT count(*) FROM outbox WHERE published_at IS NULL`).Scan(&unpublished); err != nil {
			t.Fatal(err)
		}
		if unpublished == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("%d outbox event(s) still unpublished", unpublished)
			break
		}
	}
}

// lastFinished returns the finish time (the completed set's score,
// finishedOn) of the latest job named name that finished after since.
func lastFinished(t *testing.T, rc *redis.Client, completed, jobPrefix, name string, since time.Time) time.Time {
	t.Helper()
	ctx := context.Background()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		zs, err := rc.ZRevRangeWithScores(ctx, completed, 0, 50).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, z := range zs {
			id, _ := z.Member.(string)
			if int64(z.Score) < since.UnixMilli() {
				break
			}
			if rc.HGet(ctx, jobPrefix+id, "name").Val() == name {
				return time.UnixMilli(int64(z.Score))
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no completed %s job since %v in %s", name, since, completed)
		}
	}
}

// postJSON posts body (JSON; nil for none) with the bearer token and
// decodes the answer into v (nil to discard); it returns the status.
func postJSON(t *testing.T, url, token string, body, v any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest("POST", url, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	if v != nil {
		_ = json.NewDecoder(resp.Body).Decode(v)
	}
	return resp.StatusCode
}

var sitemapLoc = regexp.MustCompile(`<loc>([^<]+)</loc>`)

// checkSitemapServed waits (90 s at most: the rebuild is delayed to
// coalesce requests) until base serves a sitemap index whose sitemaps,
// fetched from base too, list the salon.
func checkSitemapServed(t *testing.T, base, salonSlug string) {
	t.Helper()
	var index []byte
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		resp, err := http.Get(base + "/sitemap.xml")
		if err != nil {
			t.Fatal(err)
		}
		index, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node 1 /sitemap.xml = %d 90s after the rebuild request on node 2", resp.StatusCode)
		}
	}
	found := false
	for _, m := range sitemapLoc.FindAllStringSubmatch(string(index), -1) {
		u := m[1]
		path := u[strings.Index(u, "/sitemaps/"):]
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("node 1 %s = %d", path, resp.StatusCode)
		}
		if zr, err := gzip.NewReader(bytes.NewReader(body)); err == nil {
			if b, err := io.ReadAll(zr); err == nil {
				body = b
			}
		}
		if strings.Contains(string(body), "/salons/"+salonSlug+"<") {
			found = true
		}
	}
	if !found {
		t.Errorf("no sitemap served by node 1 lists /salons/%s; index:\n%s", salonSlug, index)
	}
}
