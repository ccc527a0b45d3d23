package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// S3Config configures NewS3.
type S3Config struct {
	// Bucket is required.
	Bucket string
	// Prefix is prepended to every key inside the bucket ("" for none).
	Prefix string
	// Region defaults to AWS_REGION / the shared config, then "us-east-1".
	Region string
	// Endpoint overrides the S3 endpoint for S3-compatible servers
	// (MinIO, Ceph, R2, …), e.g. "http://127.0.0.1:9000".
	Endpoint string
	// PathStyle addresses buckets as endpoint/bucket/key instead of
	// bucket.endpoint/key; most S3-compatible servers need it.
	PathStyle bool
	// PublicURL is the base of public URLs (a CDN or website endpoint).
	// Default: Endpoint/Bucket when Endpoint is set, else
	// https://Bucket.s3.Region.amazonaws.com.
	PublicURL string
}

// S3 stores objects in an S3-compatible bucket. Credentials come from the
// AWS SDK's default chain (AWS_ACCESS_KEY_ID, shared config, instance
// roles, …). A PutObject is atomic by S3's semantics: readers see the old
// object or the new one.
type S3 struct {
	client    *s3.Client
	bucket    string
	prefix    string
	publicURL string
}

// NewS3 builds an S3 store. It does not contact the server.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("s3 storage: bucket is required")
	}
	opts := []func(*config.LoadOptions) error{}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3 storage: aws config: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	return NewS3WithConfig(awsCfg, cfg)
}

// NewS3WithConfig is NewS3 with an explicit AWS configuration (tests and
// callers that build credentials themselves).
func NewS3WithConfig(awsCfg aws.Config, cfg S3Config) (*S3, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("s3 storage: bucket is required")
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		// Only send/require checksums where S3 requires them: several
		// S3-compatible servers reject the SDK's default CRC32 trailers.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	pub := strings.TrimSuffix(cfg.PublicURL, "/")
	if pub == "" {
		if cfg.Endpoint != "" {
			pub = strings.TrimSuffix(cfg.Endpoint, "/") + "/" + url.PathEscape(cfg.Bucket)
		} else {
			pub = "https://" + cfg.Bucket + ".s3." + awsCfg.Region + ".amazonaws.com"
		}
	}
	prefix := strings.Trim(cfg.Prefix, "/")
	if prefix != "" {
		if err := ValidKey(prefix); err != nil {
			return nil, fmt.Errorf("s3 storage prefix: %w", err)
		}
		prefix += "/"
	}
	return &S3{client: client, bucket: cfg.Bucket, prefix: prefix, publicURL: pub}, nil
}

// Put implements Storage. The SDK signs the payload, so it needs a
// seekable body: *os.File and *bytes.Reader are used as they are; any
// other reader is read into memory first.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, contentType string) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	body, ok := r.(io.ReadSeeker)
	if !ok {
		b, err := io.ReadAll(r)
		if err != nil {
			return fmt.Errorf("put %s: %w", key, err)
		}
		body = bytes.NewReader(b)
	}
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:       aws.String(s.bucket),
		Key:          aws.String(s.prefix + key),
		Body:         body,
		ContentType:  aws.String(contentType),
		CacheControl: aws.String(CacheControl),
	})
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// Open implements Storage.
func (s *S3) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := ValidKey(key); err != nil {
		return nil, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key)})
	if err != nil {
		var nsk *types.NoSuchKey
		if errors.As(err, &nsk) {
			return nil, fmt.Errorf("open %s: %w", key, ErrNotExist)
		}
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	return out.Body, nil
}

// Delete implements Storage.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key)})
	if err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// List implements Storage.
func (s *S3) List(ctx context.Context, prefix string) ([]string, error) {
	if err := validPrefix(prefix); err != nil {
		return nil, err
	}
	var keys []string
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket), Prefix: aws.String(s.prefix + prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, strings.TrimPrefix(aws.ToString(o.Key), s.prefix))
		}
	}
	return keys, nil
}

// URL implements Storage.
func (s *S3) URL(key string) string { return s.publicURL + "/" + s.prefix + key }
