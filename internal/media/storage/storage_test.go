package storage

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// suite checks the Storage contract.
func suite(t *testing.T, s Storage) {
	ctx := context.Background()
	put := func(key, body string) {
		t.Helper()
		if err := s.Put(ctx, key, strings.NewReader(body), "image/webp"); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
	}
	read := func(key string) (string, error) {
		rc, err := s.Open(ctx, key)
		if err != nil {
			return "", err
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		return string(b), err
	}
	put("media/1/320w.webp", "one")
	put("media/1/320w.webp", "two") // overwrite
	put("media/1/640w.jpg", "three")
	put("media/12/320w.webp", "other media")
	if got, err := read("media/1/320w.webp"); err != nil || got != "two" {
		t.Fatalf("read = %q, %v", got, err)
	}
	keys, err := s.List(ctx, "media/1/")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	if want := []string{"media/1/320w.webp", "media/1/640w.jpg"}; !slices.Equal(keys, want) {
		t.Fatalf("list = %v, want %v", keys, want)
	}
	if keys, _ := s.List(ctx, "nothing/"); len(keys) != 0 {
		t.Fatalf("list of empty prefix = %v", keys)
	}
	if err := s.Delete(ctx, "media/1/320w.webp"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "media/1/320w.webp"); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := read("media/1/320w.webp"); !errors.Is(err, ErrNotExist) {
		t.Fatalf("read after delete: %v", err)
	}
	for _, bad := range []string{"", "/etc/passwd", "../x", "a/../../x", "a//b", "a/./b", `a\b`, "a/b\x00", "a b"} {
		if err := s.Put(ctx, bad, strings.NewReader("x"), ""); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("put %q: %v, want ErrInvalidKey", bad, err)
		}
		if _, err := s.Open(ctx, bad); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("open %q: %v, want ErrInvalidKey", bad, err)
		}
	}
	if u := s.URL("media/1/640w.jpg"); !strings.HasSuffix(u, "/media/1/640w.jpg") {
		t.Errorf("URL = %q", u)
	}
}

func TestLocal(t *testing.T) {
	t.Parallel()
	l, err := NewLocal(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	suite(t, l)
	if got := l.URL("media/1/640w.jpg"); got != "/media/1/640w.jpg" {
		t.Errorf("URL = %q", got)
	}
}

func TestLocalDeleteRemovesEmptyDirs(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	l, _ := NewLocal(root, "")
	ctx := context.Background()
	if err := l.Put(ctx, "media/7/320w.jpg", strings.NewReader("x"), ""); err != nil {
		t.Fatal(err)
	}
	if err := l.Delete(ctx, "media/7/320w.jpg"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "media")); !os.IsNotExist(err) {
		t.Errorf("empty directories left behind: %v", err)
	}
}

func TestLocalHandler(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	l, _ := NewLocal(root, "")
	ctx := context.Background()
	jpeg := []byte("\xff\xd8\xff fake jpeg")
	l.Put(ctx, "media/3/320w.jpg", bytes.NewReader(jpeg), "image/jpeg")
	l.Put(ctx, "media/3/320w.avif", strings.NewReader("avif"), "image/avif")
	l.Put(ctx, "incoming/secret.jpg", strings.NewReader("private"), "image/jpeg")
	os.WriteFile(filepath.Join(root, "media", "3", ".tmp-123"), []byte("partial"), 0o644)
	srv := httptest.NewServer(l.Handler("media/"))
	defer srv.Close()
	tests := []struct {
		method, path string
		status       int
		ctype        string
	}{
		{"GET", "/media/3/320w.jpg", 200, "image/jpeg"},
		{"HEAD", "/media/3/320w.jpg", 200, "image/jpeg"},
		{"GET", "/media/3/320w.avif", 200, "image/avif"},
		{"GET", "/media/3/", 404, ""},
		{"GET", "/media/3", 404, ""},
		{"GET", "/media/3/.tmp-123", 404, ""},
		{"GET", "/incoming/secret.jpg", 404, ""},
		{"GET", "/media/3/../../incoming/secret.jpg", 404, ""},
		{"GET", "/media/%2e%2e/incoming/secret.jpg", 404, ""},
		{"POST", "/media/3/320w.jpg", 405, ""},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s = %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
			continue
		}
		if tc.status != 200 {
			continue
		}
		if ct := resp.Header.Get("Content-Type"); ct != tc.ctype {
			t.Errorf("%s content-type %q, want %q", tc.path, ct, tc.ctype)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != CacheControl {
			t.Errorf("%s cache-control %q", tc.path, cc)
		}
		if tc.method == "GET" && tc.path == "/media/3/320w.jpg" && !bytes.Equal(body, jpeg) {
			t.Errorf("body %q", body)
		}
	}
}

func TestS3AgainstFake(t *testing.T) {
	t.Parallel()
	backend := s3mem.New()
	if err := backend.CreateBucket("atlas"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	defer srv.Close()
	awsCfg := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("key", "secret", ""),
	}
	s, err := NewS3WithConfig(awsCfg, S3Config{Bucket: "atlas", Prefix: "prod", Endpoint: srv.URL, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	suite(t, s)
	if got, want := s.URL("media/1/640w.jpg"), srv.URL+"/atlas/prod/media/1/640w.jpg"; got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}
}

func FuzzValidKey(f *testing.F) {
	for _, s := range []string{"media/1/320w.webp", "../x", "a//b", "/abs", "a/./b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if ValidKey(key) != nil {
			return
		}
		if filepath.IsAbs(key) || strings.Contains(key, "..") && slices.Contains(strings.Split(key, "/"), "..") ||
			filepath.Clean(key) != key || strings.ContainsAny(key, "\\\x00") {
			t.Fatalf("ValidKey accepted %q", key)
		}
	})
}

// TestLocalHandlerRefusesSymlinks: a symbolic link inside the store, to a
// file or a directory, inside or outside the root, is never followed: 404.
func TestLocalHandlerRefusesSymlinks(t *testing.T) {
	t.Parallel()
	root, outside := t.TempDir(), t.TempDir()
	l, _ := NewLocal(root, "")
	ctx := context.Background()
	l.Put(ctx, "media/1/320w.jpg", strings.NewReader("real"), "image/jpeg")
	l.Put(ctx, "incoming/private.jpg", strings.NewReader("private upload"), "image/jpeg")
	os.WriteFile(filepath.Join(outside, "secret.jpg"), []byte("secret"), 0o644)
	os.MkdirAll(filepath.Join(root, "media", "2"), 0o755)
	links := map[string]string{
		"media/2/out.jpg":   filepath.Join(outside, "secret.jpg"),           // a file outside the root
		"media/2/in.jpg":    filepath.Join(root, "incoming", "private.jpg"), // a file inside the root
		"media/2/rel.jpg":   "../1/320w.jpg",                                // relative, inside media/
		"media/3":           outside,                                        // a directory outside
		"media/4":           filepath.Join(root, "media", "1"),              // a directory inside
		"media/1/alias.jpg": "320w.jpg",                                     // same directory
	}
	for link, target := range links {
		if err := os.Symlink(target, filepath.Join(root, filepath.FromSlash(link))); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(l.Handler("media/"))
	defer srv.Close()
	for _, path := range []string{"/media/2/out.jpg", "/media/2/in.jpg", "/media/2/rel.jpg", "/media/3/secret.jpg",
		"/media/4/320w.jpg", "/media/1/alias.jpg"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("GET %s through a symlink: %d %q, want 404", path, resp.StatusCode, body)
		}
	}
	if resp, err := http.Get(srv.URL + "/media/1/320w.jpg"); err != nil || resp.StatusCode != 200 {
		t.Errorf("the real file: %v %v", resp, err)
	}
}
