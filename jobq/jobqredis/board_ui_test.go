package jobqredis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq"
)

// browserEnabled skips unless ATLAS_TEST_BROWSER=1 (fails under
// ATLAS_TEST_REQUIRE_SERVICES=1).
func browserEnabled(t *testing.T) {
	t.Helper()
	if os.Getenv("ATLAS_TEST_BROWSER") != "1" {
		if os.Getenv("ATLAS_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("ATLAS_TEST_BROWSER=1 is required under ATLAS_TEST_REQUIRE_SERVICES=1")
		}
		t.Skip("set ATLAS_TEST_BROWSER=1 (with Debian's chromium at /usr/bin/chromium) to screenshot bull-board")
	}
}

func getJSON(t *testing.T, base, path string, v any) {
	t.Helper()
	resp, err := http.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, b)
	}
}

// TestInteropBullBoardHTTP (proof point 12): a queue written only by Go
// (jobq.Queue and a jobq.Worker: completed with progress, logs and a
// return value, failed, active, waiting, delayed) served by
// @bull-board/express over HTTP on a loopback port. (a) Its JSON API lists
// the counts, jobs, data, progress, logs, failed reason and the Go worker;
// (b) with ATLAS_TEST_BROWSER=1, headless Chromium renders the UI and its
// DOM shows the queue, the jobs and the counts (screenshot saved to a temp
// dir, path logged).
func TestInteropBullBoardHTTP(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	node := newNode(t, d, "bu")
	ctx := context.Background()
	q := jobq.NewQueue("bu", d, nil)
	release := make(chan struct{})
	startGoWorker(t, d, "bu", func(ctx context.Context, j *jobq.Job) (any, error) {
		switch j.Name {
		case "render":
			if err := j.UpdateProgress(ctx, obj{"pct": 100}); err != nil {
				return nil, err
			}
			_ = j.Log(ctx, "rendered <home> in go")
			return obj{"ok": true, "n": 42}, nil
		case "charge":
			return nil, errors.New("card declined")
		default:
			<-release
			return nil, nil
		}
	}, &jobq.WorkerConfig{Name: "go-board", DrainDelay: 100 * time.Millisecond})
	t.Cleanup(func() { close(release) })
	mustQ := func(name string, data any, o *jobq.JobOptions) *jobq.Job {
		j, err := q.Add(ctx, name, data, o)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	render := mustQ("render", obj{"page": "home"}, &jobq.JobOptions{JobID: "render-1"})
	charge := mustQ("charge", obj{"eur": 12}, &jobq.JobOptions{JobID: "charge-1"})
	waitCounts(t, d, "bu", map[string]int64{"completed": 1, "failed": 1}, 10*time.Second)
	mustQ("busy", obj{}, &jobq.JobOptions{JobID: "busy-1"})
	waitCounts(t, d, "bu", map[string]int64{"completed": 1, "failed": 1, "active": 1}, 10*time.Second)
	mustQ("mail", obj{"to": "a@b.c"}, &jobq.JobOptions{JobID: "mail-1"})
	mustQ("later", obj{}, &jobq.JobOptions{JobID: "later-1", Delay: time.Hour})

	srv := node.bg("board_ui.js", "serve", `{"queues":["bu"]}`)
	defer srv.stop(nil)
	var port struct{ Port int }
	if err := json.Unmarshal([]byte(srv.first), &port); err != nil || port.Port == 0 {
		t.Fatalf("board server said %q", srv.first)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d/ui", port.Port)

	wantIDs := map[string]string{"completed": render.ID, "failed": charge.ID, "active": "busy-1", "waiting": "mail-1", "delayed": "later-1"}
	for status, id := range wantIDs {
		var body struct{ Queues []boardQueue }
		getJSON(t, base, "/api/queues?activeQueue=bu&status="+status+"&page=1&jobsPerPage=50", &body)
		if len(body.Queues) != 1 || body.Queues[0].Name != "bu" {
			t.Fatalf("%s: queues %+v", status, body.Queues)
		}
		bq := body.Queues[0]
		for s, n := range map[string]int64{"completed": 1, "failed": 1, "active": 1, "waiting": 1, "delayed": 1} {
			if bq.Counts[s] != n {
				t.Fatalf("bull-board counts %v", bq.Counts)
			}
		}
		if len(bq.Jobs) != 1 || bq.Jobs[0].ID != id {
			t.Fatalf("bull-board %s jobs %+v, want %s", status, bq.Jobs, id)
		}
		j := bq.Jobs[0]
		switch status {
		case "completed":
			if j.Name != "render" || !jsonEq(j.Data, `{"page":"home"}`) || !jsonEq(j.Progress, `{"pct":100}`) ||
				!jsonEq(j.ReturnValue, `{"ok":true,"n":42}`) || j.ProcessedBy != "go-board" {
				t.Fatalf("completed job %+v", j)
			}
		case "failed":
			if j.FailedReason != "card declined" || !j.IsFailed || len(j.Stacktrace) == 0 {
				t.Fatalf("failed job %+v", j)
			}
		case "delayed":
			if j.Delay != 3600000 {
				t.Fatalf("delayed job %+v", j)
			}
		}
	}
	var logs []string
	getJSON(t, base, "/api/queues/bu/"+url.PathEscape(render.ID)+"/logs", &logs)
	if len(logs) != 1 || logs[0] != "rendered <home> in go" {
		t.Fatalf("logs %v", logs)
	}
	var workers struct{ Workers []map[string]any }
	getJSON(t, base, "/api/queues/bu/workers", &workers)
	if ws, _ := json.Marshal(workers.Workers); len(workers.Workers) != 1 || workers.Workers[0]["name"] != "go-board" {
		t.Fatalf("workers %s", ws)
	}

	t.Run("browser", func(t *testing.T) {
		browserEnabled(t)
		if _, err := os.Stat("/usr/bin/chromium"); err != nil {
			t.Fatalf("no /usr/bin/chromium (apt-get install -y chromium): %v", err)
		}
		dir, err := os.MkdirTemp("", "jobqredis-board-")
		if err != nil {
			t.Fatal(err)
		}
		for _, page := range []struct {
			status, shows string
			want          []string
		}{
			{"completed", "render", []string{"render-1", "by go-board", `page:"home"`, "n:42", "ok:true"}},
			{"failed", "card declined", []string{"charge-1", "by go-board", "card declined"}},
		} {
			png := filepath.Join(dir, "bull-board-"+page.status+".png")
			var shot struct{ Title, Text string }
			b, _ := json.Marshal(obj{"url": base + "/queue/bu?status=" + page.status, "path": png, "waitFor": []string{page.shows}})
			p := node.bg("board_ui.js", "screenshot", string(b))
			p.wait(nil)
			if err := json.Unmarshal([]byte(p.first), &shot); err != nil {
				t.Fatalf("screenshot output %q: %v", p.first, err)
			}
			t.Logf("bull-board %s page screenshot: %s", page.status, png)
			want := append([]string{"bu", "ACTIVE\n1", "WAITING\n1", "COMPLETED\n1", "FAILED\n1", "DELAYED\n1"}, page.want...)
			for _, w := range want {
				if !strings.Contains(shot.Text, w) {
					t.Fatalf("bull-board %s page lacks %q:\n%s", page.status, w, shot.Text)
				}
			}
			if st, err := os.Stat(png); err != nil || st.Size() < 10000 {
				t.Fatalf("screenshot %s: %v", png, err)
			}
		}
	})
}
