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
	"time"

	"github.com/sevra/atlas/internal/app"
	"github.com/sevra/atlas/internal/media"
	"github.com/sevra/atlas/internal/rollout"
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

// runUpload builds what `atlas run` builds, through internal/app (the
// one composition root; the same rig as internal/app's media tests):
// SQLite store, local storage, the engine, media.Service with the outbox,
// the SQLite job queue with its workers (queue "media": concurrency = CPU
// count) and the outbox relay running, and the whole HTTP handler chain
// (auth, logging, metrics, tracing, panic recovery) behind a loopback
// httptest server. Logs are discarded.
func runUpload(s uploadSpec) (uploadResult, error) {
	ctx := context.Background()
	mode, err := rollout.ParseMode(s.Mode)
	if err != nil {
		return uploadResult{}, err
	}
	e, err := openEngine(s.Engine)
	if err != nil {
		return uploadResult{}, err
	}
	a, err := app.New(ctx, app.Config{DataDir: s.Dir, HTTP: true, Workers: true, AdminToken: "tok",
		Modes: rollout.Modes{media.Module: mode}}, &app.Hooks{ImageEngine: e})
	if err != nil {
		e.Close()
		return uploadResult{}, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		a.Close(cctx)
	}()
	if err := a.Start(ctx); err != nil {
		return uploadResult{}, err
	}
	svc := a.Media()
	srv := httptest.NewServer(a.Handler())
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
