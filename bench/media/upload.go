package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sevra/atlas/internal/httpapi"
	"github.com/sevra/atlas/internal/media"
	"github.com/sevra/atlas/internal/media/storage"
	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/store"
)

// uploadSpec is the latency child's job: N sequential uploads of Src in
// Mode through POST /api/v1/media, after Warmup untimed ones.
type uploadSpec struct {
	Src    string `json:"src"`
	Dir    string `json:"dir"`
	Mode   string `json:"mode"` // async | sync
	N      int    `json:"n"`
	Warmup int    `json:"warmup"`
	Engine string `json:"engine"`
}

type uploadResult struct {
	Mode      string    `json:"mode"`
	Engine    string    `json:"engine"`
	FileBytes int       `json:"fileBytes"`
	Status    int       `json:"status"`
	MillisAll []float64 `json:"millis"`
	// DrainSeconds: async only, from the first timed upload until every
	// timed upload's variants are ready (the worker's backlog).
	DrainSeconds float64 `json:"drainSeconds,omitempty"`
	Variants     int     `json:"variants"`
}

func childUpload(arg string) {
	var s uploadSpec
	if err := json.Unmarshal([]byte(arg), &s); err != nil {
		fatal(err)
	}
	res, err := runUpload(s)
	if err != nil {
		fatal(err)
	}
	out, _ := json.Marshal(res)
	fmt.Printf("DONE %s\n", out)
}

// runUpload wires what `atlas run` wires for media (the same packages and
// defaults; the rig of internal/httpapi's media tests): SQLite store,
// local storage, the engine, media.Service with the outbox
// (OutboxCreate), the SQLite job queue with its workers (queue "media":
// concurrency = CPU count) and the outbox relay running, and the whole
// HTTP handler chain of httpapi.NewHandler (auth, logging, metrics,
// tracing, panic recovery) behind a loopback httptest server. Logs go to
// a discarding handler.
func runUpload(s uploadSpec) (uploadResult, error) {
	ctx := context.Background()
	mode, err := rollout.ParseMode(s.Mode)
	if err != nil {
		return uploadResult{}, err
	}
	st, err := store.Open(ctx, "", filepath.Join(s.Dir, "db"))
	if err != nil {
		return uploadResult{}, err
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		return uploadResult{}, err
	}
	b, err := queues.OpenBackend(ctx, queues.BackendConfig{DataDir: filepath.Join(s.Dir, "jobs")})
	if err != nil {
		return uploadResult{}, err
	}
	defer b.Close()
	promReg := prometheus.NewRegistry()
	reg := queues.NewRegistry()
	prod := queues.NewProducer(reg, b.Driver)
	shadow, err := rollout.NewRecorder(nil, promReg, 0)
	if err != nil {
		return uploadResult{}, err
	}
	ob, err := outbox.New(outbox.Config{Store: st, Jobs: prod, Registry: promReg})
	if err != nil {
		return uploadResult{}, err
	}
	local, err := storage.NewLocal(filepath.Join(s.Dir, "storage"), "")
	if err != nil {
		return uploadResult{}, err
	}
	e, err := openEngine(s.Engine)
	if err != nil {
		return uploadResult{}, err
	}
	defer e.Close()
	repo := media.NewSQLRepo(st.DB(), st.Dialect())
	svc, err := media.New(media.Config{Storage: local, Engine: e, Repo: repo, TempDir: filepath.Join(s.Dir, "tmp"),
		Mode: mode, Create: media.OutboxCreate(st.DB(), repo, ob), Shadow: shadow})
	if err != nil {
		return uploadResult{}, err
	}
	svc.Register(reg)
	wk, err := queues.NewWorkers(reg, b.Driver, queues.WorkersConfig{})
	if err != nil {
		return uploadResult{}, err
	}
	relay := ob.NewRelay(outbox.RelayConfig{})
	for _, c := range []interface {
		Start(context.Context) error
		Close(context.Context) error
	}{wk, relay} {
		if err := c.Start(ctx); err != nil {
			return uploadResult{}, err
		}
		defer func() {
			cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c.Close(cctx)
		}()
	}
	h, err := httpapi.NewHandler(httpapi.Deps{Store: st, Registry: promReg, AdminToken: "tok", Users: st,
		Media: svc, MediaFiles: local.Handler("media/")})
	if err != nil {
		return uploadResult{}, err
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	data, err := os.ReadFile(s.Src)
	if err != nil {
		return uploadResult{}, err
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "photo.jpg")
	fw.Write(data)
	mw.Close()
	raw, ctype := body.Bytes(), mw.FormDataContentType()
	want := http.StatusAccepted
	if mode == rollout.Sync {
		want = http.StatusCreated
	}
	post := func() (int64, time.Duration, error) {
		req, _ := http.NewRequest("POST", srv.URL+"/api/v1/media", bytes.NewReader(raw))
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Authorization", "Bearer tok")
		t0 := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, 0, err
		}
		out, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		d := time.Since(t0)
		if err != nil {
			return 0, 0, err
		}
		if resp.StatusCode != want {
			return 0, 0, fmt.Errorf("upload: %d %s", resp.StatusCode, out)
		}
		var v struct {
			ID int64 `json:"id"`
		}
		json.Unmarshal(out, &v)
		return v.ID, d, nil
	}
	waitReady := func(ids []int64) error {
		deadline := time.Now().Add(30 * time.Minute)
		for _, id := range ids {
			for {
				v, err := svc.Get(ctx, id)
				if err != nil {
					return err
				}
				if v.Status == media.StatusFailed {
					return fmt.Errorf("media %d failed: %s", id, v.Error)
				}
				if v.Status == media.StatusReady {
					break
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("media %d not ready", id)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		return nil
	}
	// Warm-up (libvips codec init, wazero compilation); in async mode wait
	// until its variants are made so the timed run starts with an idle worker.
	var warm []int64
	for range s.Warmup {
		id, _, err := post()
		if err != nil {
			return uploadResult{}, err
		}
		warm = append(warm, id)
	}
	if err := waitReady(warm); err != nil {
		return uploadResult{}, err
	}
	res := uploadResult{Mode: string(mode), Engine: e.Name(), FileBytes: len(data), Status: want}
	var ids []int64
	t0 := time.Now()
	for range s.N {
		id, d, err := post()
		if err != nil {
			return uploadResult{}, err
		}
		ids = append(ids, id)
		res.MillisAll = append(res.MillisAll, float64(d.Microseconds())/1000)
	}
	if err := waitReady(ids); err != nil {
		return uploadResult{}, err
	}
	if mode == rollout.Async {
		res.DrainSeconds = time.Since(t0).Seconds()
	}
	if len(ids) > 0 {
		v, err := svc.Get(ctx, ids[0])
		if err != nil {
			return uploadResult{}, err
		}
		res.Variants = len(v.Variants)
	}
	return res, nil
}
