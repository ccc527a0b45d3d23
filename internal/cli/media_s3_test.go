package cli

import (
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/media/storage"
	"github.com/sevra/atlas/internal/media/storage/s3test"
	"github.com/sevra/atlas/internal/store/storetest"
)

// TestRunMediaUploadS3 goes through `atlas run --storage s3://…` against a
// real S3 server: the upload is ready, every variant URL points into the
// bucket and is served there anonymously with the immutable cache header,
// and the bucket holds exactly the variants (the original is gone).
// Not parallel: the AWS SDK reads its credentials from the process
// environment.
func TestRunMediaUploadS3(t *testing.T) {
	srv := s3test.Start(t)
	env := srv.Env("site")
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		t.Setenv(k, env[k])
	}
	maps.Copy(env, map[string]string{"ATLAS_DATA_DIR": storetest.TempDataDir(t), "ATLAS_ADDR": "127.0.0.1:0",
		"ATLAS_ADMIN_TOKEN": "tok", "ATLAS_MEDIA_WIDTHS": "100,200"})
	base, cancel, done := startRun(t, env)
	defer cancel()

	id := uploadJPEG(t, base, "tok")
	v := waitMediaReady(t, base, id, time.Minute)
	if len(v.Variants) < 4 || v.Placeholder == "" {
		t.Fatalf("view %+v", v)
	}
	var want []string
	prefix := srv.Endpoint + "/" + srv.Bucket + "/"
	for _, vv := range v.Variants {
		key, ok := strings.CutPrefix(vv.URL, prefix)
		if !ok || !strings.HasPrefix(key, "site/media/") {
			t.Fatalf("variant URL %q is not in the bucket under site/media/", vv.URL)
		}
		want = append(want, key)
		code, body, h := s3test.PublicGet(t, vv.URL)
		if code != 200 || len(body) == 0 || h.Get("Cache-Control") != storage.CacheControl ||
			!strings.HasPrefix(h.Get("Content-Type"), "image/") {
			t.Errorf("GET %s: %d, %d bytes, %v", vv.URL, code, len(body), h)
		}
	}
	got := srv.Keys(t, "site/")
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("bucket holds %v, want exactly the variants %v", got, want)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("run exited %d", code)
	}
}

// TestRunSitemapS3 goes through `atlas run --storage s3://…` for sitemaps:
// the demo's salons are rebuilt into a generation published in the bucket
// (under <prefix>/sitemaps/<generation>/), /sitemap.xml and its children are
// served from there and list a salon, and nothing of the generation is
// left in the data dir. Not parallel, as TestRunMediaUploadS3.
func TestRunSitemapS3(t *testing.T) {
	srv := s3test.Start(t)
	env := srv.Env("site")
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		t.Setenv(k, env[k])
	}
	dataDir := storetest.TempDataDir(t)
	maps.Copy(env, map[string]string{"ATLAS_DATA_DIR": dataDir, "ATLAS_ADDR": "127.0.0.1:0",
		"ATLAS_ADMIN_TOKEN": "tok", "ATLAS_MEDIA_WIDTHS": "100,200", "ATLAS_MODE_MEDIA": "async"})
	base, cancel, done := startRun(t, env, "--demo")
	defer cancel()

	var salons struct {
		Items []struct {
			Slug string `json:"slug"`
		} `json:"items"`
	}
	if code := getJSON(t, base+"/api/v1/salons", &salons); code != 200 {
		t.Fatalf("GET /api/v1/salons: %d", code)
	}
	if len(salons.Items) == 0 {
		t.Fatal("the demo made no salons")
	}
	if code := postJSON(t, base+"/api/v1/admin/sitemap/rebuild", "tok", nil, nil); code != 202 {
		t.Fatalf("rebuild: %d", code)
	}
	checkSitemapServed(t, base, salons.Items[0].Slug)
	var gens []string
	for _, k := range srv.Keys(t, "site/sitemaps/") {
		if strings.HasSuffix(k, "/sitemap.xml") {
			gens = append(gens, k)
		}
	}
	if len(gens) == 0 {
		t.Errorf("no sitemap index in the bucket: %v", srv.Keys(t, "site/"))
	}
	filepath.WalkDir(filepath.Join(dataDir, "sitemaps"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".xml") || strings.HasSuffix(p, ".xml.gz")) {
			t.Errorf("generation file left in the data dir: %s", p)
		}
		return nil
	})
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("run exited %d", code)
	}
}
