package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/media/storage"
	"github.com/sevra/atlas/internal/store/storetest"
)

// TestRunMediaUpload goes through `atlas run`: an upload answers 202, the
// process's own worker generates the variants, GET shows them ready, and
// /media/ serves them with long cache headers. Settings come from the
// environment (ATLAS_STORAGE, ATLAS_MEDIA_WIDTHS, ATLAS_MEDIA_TEMP_DIR).
func TestRunMediaUpload(t *testing.T) {
	t.Parallel()
	dir := storetest.TempDataDir(t)
	storeDir, tmpDir := filepath.Join(dir, "files"), filepath.Join(dir, "uploads")
	base, cancel, done := startRun(t, map[string]string{"ATLAS_DATA_DIR": dir, "ATLAS_ADDR": "127.0.0.1:0",
		"ATLAS_ADMIN_TOKEN": "tok", "ATLAS_STORAGE": storeDir, "ATLAS_MEDIA_WIDTHS": "100,200",
		"ATLAS_MEDIA_TEMP_DIR": tmpDir})
	defer cancel()

	id := uploadJPEG(t, base, "tok")
	v := waitMediaReady(t, base, id, time.Minute)
	if len(v.Variants) < 4 || v.Placeholder == "" || v.Variants[0].Width != 100 {
		t.Fatalf("view %+v", v)
	}
	for _, vv := range v.Variants {
		resp, err := http.Get(base + vv.URL)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != storage.CacheControl ||
			!strings.HasPrefix(resp.Header.Get("Content-Type"), "image/") {
			t.Errorf("GET %s: %d %v", vv.URL, resp.StatusCode, resp.Header)
		}
		if _, err := os.Stat(filepath.Join(storeDir, filepath.FromSlash(strings.TrimPrefix(vv.URL, "/")))); err != nil {
			t.Errorf("%s is not under ATLAS_STORAGE: %v", vv.URL, err)
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("run exited %d", code)
	}
	// The process's own temp directory (and anything in it) goes at exit.
	if es, _ := os.ReadDir(tmpDir); len(es) != 0 {
		t.Errorf("temp dir holds %d entries after exit", len(es))
	}
}

// mediaView is GET /api/v1/media/{id}.
type mediaView struct {
	Status   string
	Variants []struct {
		URL    string
		Width  int
		Format string
	}
	Placeholder string
}

// uploadJPEG posts a 300×200 JPEG to base's /api/v1/media with the bearer
// token and returns the media id from the 202.
func uploadJPEG(t *testing.T, base, token string) int64 {
	t.Helper()
	return uploadFile(t, base, token, testJPEG(300, 200))
}

// testJPEG encodes a w×h JPEG of busy pixels (slow to resample and
// encode, as photos are).
func testJPEG(w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	img.Set(0, 0, color.White)
	var jb bytes.Buffer
	jpeg.Encode(&jb, img, &jpeg.Options{Quality: 85})
	return jb.Bytes()
}

// uploadFile posts file to base's /api/v1/media with the bearer token and
// returns the media id from the 202.
func uploadFile(t *testing.T, base, token string, file []byte) int64 {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "a.jpg")
	fw.Write(file)
	mw.Close()
	req, _ := http.NewRequest("POST", base+"/api/v1/media", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var acc struct {
		ID     int64  `json:"id"`
		Status string `json:"status"`
	}
	json.NewDecoder(resp.Body).Decode(&acc)
	resp.Body.Close()
	if resp.StatusCode != 202 || acc.Status != "processing" || acc.ID == 0 {
		t.Fatalf("upload: %d %+v", resp.StatusCode, acc)
	}
	return acc.ID
}

// waitMediaReady polls base's GET /api/v1/media/{id} (for at most
// timeout) until it is no longer processing, and fails t unless it is
// ready.
func waitMediaReady(t *testing.T, base string, id int64, timeout time.Duration) mediaView {
	t.Helper()
	var v mediaView
	deadline := time.Now().Add(timeout)
	for {
		if code := getJSON(t, fmt.Sprintf("%s/api/v1/media/%d", base, id), &v); code != 200 {
			t.Fatalf("GET media %d: %d", id, code)
		}
		if v.Status != "processing" || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v.Status != "ready" {
		t.Fatalf("media %d: %+v, want ready", id, v)
	}
	return v
}
