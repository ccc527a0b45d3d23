package storage_test

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/sevra/atlas/internal/media/storage"
	"github.com/sevra/atlas/internal/media/storage/s3test"
)

// TestS3AgainstServer runs the Storage contract against a real
// S3-compatible server (versitygw), then checks through the server's own
// listing and an anonymous GET what the store wrote: keys under the
// prefix, the content type and the immutable cache header.
func TestS3AgainstServer(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	s := srv.Store(t, "prod")
	storage.Suite(t, s)

	ctx := context.Background()
	jpeg := []byte("\xff\xd8\xff not really a jpeg")
	if err := s.Put(ctx, "media/9/320w.jpg", bytes.NewReader(jpeg), "image/jpeg"); err != nil {
		t.Fatal(err)
	}
	keys := srv.Keys(t, "")
	slices.Sort(keys)
	want := []string{"prod/media/1/640w.jpg", "prod/media/12/320w.webp", "prod/media/9/320w.jpg"}
	if !slices.Equal(keys, want) {
		t.Fatalf("bucket holds %v, want %v", keys, want)
	}
	url := s.URL("media/9/320w.jpg")
	if want := srv.Endpoint + "/" + srv.Bucket + "/prod/media/9/320w.jpg"; url != want {
		t.Fatalf("URL = %q, want %q", url, want)
	}
	code, body, h := s3test.PublicGet(t, url)
	if code != 200 || !bytes.Equal(body, jpeg) {
		t.Fatalf("anonymous GET %s = %d %q", url, code, body)
	}
	if ct, cc := h.Get("Content-Type"), h.Get("Cache-Control"); ct != "image/jpeg" || cc != storage.CacheControl {
		t.Errorf("served with Content-Type %q, Cache-Control %q; want image/jpeg, %q", ct, cc, storage.CacheControl)
	}
}
