package app_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sevra/atlas/internal/media"
	"github.com/sevra/atlas/jobq"
)

// TestMediaFailureIsPublicSafe: GET /api/v1/media/{id} (unauthenticated)
// shows a failed upload's reason as one short fixed sentence, never the
// engine's error text, a stack trace or a build path; those stay in the
// logs and the failed job (the dashboard).
func TestMediaFailureIsPublicSafe(t *testing.T) {
	t.Parallel()
	r := newMediaRig(t, mediaRigOpts{})
	full := gradientJPEG(t, 800, 600, 0, 90)
	if status, body := r.upload(t, "cut.jpg", full[:len(full)/2], nil); status != 202 {
		t.Fatalf("truncated JPEG: %d %v", status, body)
	}
	if _, state := r.waitJob(t, "media-1"); state != jobq.StateFailed {
		t.Fatalf("job state %s, want failed", state)
	}
	if v := r.view(t, 1); v.Error != "corrupt image: the file is truncated or malformed" {
		t.Errorf("public reason %q, want the fixed sentence for a corrupt image", v.Error)
	}
	// A failure recorded with an internal error (what the libvips engine
	// returned for a GIF/HTML polyglot: its message and a Go stack trace)
	// is shown as the generic sentence.
	internal := "vips: gifload: Error reading GIF\ngoroutine 42 [running]:\nruntime/debug.Stack()\n" +
		"\t/usr/lib/go/src/runtime/debug/stack.go:26 +0x5e\ngithub.com/sevra/atlas/internal/media/imaging.(*Vips).Process\n" +
		"\t/home/build/atlas/internal/media/imaging/vips.go:211 +0x1a4\n" + strings.Repeat("x", 4000)
	if err := r.svc.MarkFailed(context.Background(), 1, internal); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(r.srv.URL + "/api/v1/media/1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, leak := range []string{"goroutine", ".go:", "/home/", "vips", "runtime"} {
		if strings.Contains(string(body), leak) {
			t.Errorf("public body leaks %q: %s", leak, body)
		}
	}
	if v := r.view(t, 1); v.Status != media.StatusFailed || v.Error != "processing failed" || len(body) > 200 {
		t.Errorf("view %+v (%d bytes), want status failed with the generic reason", v, len(body))
	}
}
