// Package s3test starts a real S3-compatible server for tests: the
// versitygw gateway (Apache-2.0) with its POSIX backend over a temporary
// directory, from the binary named by ATLAS_TEST_S3_SERVER (.ci/run builds
// it). Without that variable a test skips with the reason, and fails
// under ATLAS_TEST_REQUIRE_SERVICES=1, as CI sets it.
package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sevra/atlas/internal/media/storage"
)

// The root credentials of every server this package starts.
const (
	AccessKey = "atlas-test-access"
	SecretKey = "atlas-test-secret-key"
	Region    = "us-east-1"
)

// Server is a running S3-compatible server with one bucket.
type Server struct {
	// Endpoint is the server's base URL, e.g. http://127.0.0.1:41234.
	Endpoint string
	// Bucket was created empty for this test.
	Bucket string
	// Dir is the server's root directory (a subdirectory per bucket).
	Dir string
}

// Start starts a server on a free loopback port over a temporary
// directory, creates a bucket whose objects anyone may read (as a media
// bucket behind a CDN is), and stops the server when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := os.Getenv("ATLAS_TEST_S3_SERVER")
	if bin == "" {
		if os.Getenv("ATLAS_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("ATLAS_TEST_S3_SERVER is not set but ATLAS_TEST_REQUIRE_SERVICES=1")
		}
		t.Skip("set ATLAS_TEST_S3_SERVER to a versitygw binary (.ci/run builds one) to run tests against a real S3 server")
	}
	dir := t.TempDir()
	var lastErr error
	for range 3 { // the free port may be taken between probe and start
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		s := &Server{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), Dir: dir}
		cmd := exec.Command(bin, "--port", fmt.Sprintf("127.0.0.1:%d", port), "--access", AccessKey,
			"--secret", SecretKey, "--region", Region, "posix", dir)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", bin, err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if lastErr = waitUp(s.Endpoint, exited); lastErr != nil {
			_ = cmd.Process.Kill()
			lastErr = fmt.Errorf("%w\n%s", lastErr, out.String())
			continue
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			<-exited
		})
		s.Bucket = "atlas-" + randomHex(4)
		s.createBucket(t)
		return s
	}
	t.Fatalf("S3 server did not start: %v", lastErr)
	return nil
}

// Config returns the AWS configuration for the server's root user.
func (s *Server) Config() aws.Config {
	return aws.Config{Region: Region, Credentials: credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, "")}
}

// Client returns an S3 client for the server.
func (s *Server) Client() *s3.Client {
	return s3.NewFromConfig(s.Config(), func(o *s3.Options) {
		o.BaseEndpoint = aws.String(s.Endpoint)
		o.UsePathStyle = true
	})
}

// Store returns Atlas's S3 storage on the bucket, under prefix.
func (s *Server) Store(t testing.TB, prefix string) *storage.S3 {
	t.Helper()
	st, err := storage.NewS3WithConfig(s.Config(), storage.S3Config{Bucket: s.Bucket, Prefix: prefix,
		Endpoint: s.Endpoint, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// Env returns the settings that point Atlas (run, serve, worker) at the
// bucket under prefix, plus the AWS credential variables the SDK reads.
func (s *Server) Env(prefix string) map[string]string {
	return map[string]string{
		"ATLAS_STORAGE":         "s3://" + s.Bucket + "/" + prefix,
		"ATLAS_S3_ENDPOINT":     s.Endpoint,
		"ATLAS_S3_PATH_STYLE":   "true",
		"ATLAS_S3_REGION":       Region,
		"AWS_ACCESS_KEY_ID":     AccessKey,
		"AWS_SECRET_ACCESS_KEY": SecretKey,
	}
}

// Keys lists every key in the bucket under prefix, as the server sees
// them (independently of Atlas's storage code).
func (s *Server) Keys(t testing.TB, prefix string) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(s.Client(), &s3.ListObjectsV2Input{Bucket: aws.String(s.Bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list %s: %v", prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

func (s *Server) createBucket(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := s.Client()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(s.Bucket)}); err != nil {
		t.Fatalf("create bucket %s: %v", s.Bucket, err)
	}
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":["s3:GetObject"],` +
		`"Resource":["arn:aws:s3:::` + s.Bucket + `/*"]}]}`
	if _, err := c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(s.Bucket), Policy: aws.String(policy)}); err != nil {
		t.Fatalf("public-read policy on %s: %v", s.Bucket, err)
	}
}

// waitUp polls the endpoint until it answers HTTP (any status) or the
// process exits, for at most 30 s.
func waitUp(endpoint string, exited <-chan error) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("S3 server exited: %v", err)
		default:
		}
		resp, err := http.Get(endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("S3 server at %s did not answer within 30s", endpoint)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// PublicGet fetches a URL without credentials, as a browser or CDN would.
func PublicGet(t testing.TB, url string) (int, []byte, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.Bytes(), resp.Header
}
