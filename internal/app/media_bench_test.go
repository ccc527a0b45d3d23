package app_test

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"

	"github.com/sevra/atlas/internal/rollout"
)

// benchJPEG is a 2725×2225 photo-like JPEG of about 2 MB (the source size
// of Sharp's benchmark; gradients plus noise at q85), made once.
var benchJPEG = sync.OnceValue(func() []byte {
	const w, h = 2725, 2225
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(1, 2))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			n := uint8(rng.IntN(24))
			img.SetRGBA(x, y, color.RGBA{uint8(x*255/w) + n, uint8(y*255/h) + n, uint8((x+y)%256)/2 + n, 255})
		}
	}
	var buf bytes.Buffer
	jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85})
	return buf.Bytes()
})

// benchUpload times POST /api/v1/media through the whole handler chain
// over loopback HTTP, in mode. In async mode the rig's queue workers run
// at the same time (as in `atlas run`) and compete for the CPUs; the
// figure is the request's latency, not the variants' completion.
func benchUpload(b *testing.B, mode rollout.Mode) {
	r := newMediaRig(b, mediaRigOpts{mode: mode})
	data := benchJPEG()
	body, ctype := multipartBody(b, "photo.jpg", [2]string{"file", string(data)})
	raw := body.Bytes()
	want := map[rollout.Mode]int{rollout.Async: 202, rollout.Sync: 201}[mode]
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		req, _ := http.NewRequest("POST", r.srv.URL+"/api/v1/media", bytes.NewReader(raw))
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Authorization", "Bearer tok")
		if status, out := doJSON(b, req); status != want {
			b.Fatalf("upload: %d %v", status, out)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/upload")
	b.ReportMetric(float64(len(data))/1e6, "MB/file")
}

func BenchmarkMediaUploadAsync(b *testing.B) { benchUpload(b, rollout.Async) }

func BenchmarkMediaUploadSync(b *testing.B) { benchUpload(b, rollout.Sync) }
