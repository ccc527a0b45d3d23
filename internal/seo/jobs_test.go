package seo

import (
	"context"
	"errors"
	"testing"
)

type recordingCache struct {
	calls []string
	err   error
}

func (c *recordingCache) Invalidate(_ context.Context, typ string, id int64) error {
	c.calls = append(c.calls, typ)
	return c.err
}

func TestSEORefresh(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	tests := []struct {
		name        string
		typ         string
		id          int64
		cacheErr    error
		wantRebuild bool
		wantErr     error
		wantCalls   int
	}{
		{"salon", EntitySalon, 1, nil, true, nil, 1},
		{"post", EntityPost, 2, nil, true, nil, 1},
		{"city", EntityCity, 3, nil, true, nil, 1},
		{"unknown", "review", 1, nil, false, ErrUnknownEntity, 0},
		{"bad id", EntitySalon, 0, nil, false, nil, 0},
		{"cache down", EntitySalon, 1, boom, false, boom, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := &recordingCache{err: tc.cacheErr}
			j := &Jobs{Cache: c}
			rebuild, err := j.SEORefresh(context.Background(), tc.typ, tc.id)
			if rebuild != tc.wantRebuild || len(c.calls) != tc.wantCalls {
				t.Errorf("SEORefresh = %v (%d invalidations), want %v (%d)", rebuild, len(c.calls), tc.wantRebuild, tc.wantCalls)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) || tc.wantErr == nil && tc.wantRebuild && err != nil {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
			if !tc.wantRebuild && err == nil {
				t.Error("want an error")
			}
		})
	}
	if ok, err := (&Jobs{}).SEORefresh(context.Background(), EntityPost, 1); !ok || err != nil {
		t.Errorf("without a cache: %v, %v", ok, err)
	}
}

func TestRebuildSitemapJob(t *testing.T) {
	t.Parallel()
	b := newFixtureBuilder(t)
	j := &Jobs{Builder: b}
	var last int64
	if err := j.RebuildSitemap(context.Background(), func(done, _ int64) { last = done }); err != nil {
		t.Fatal(err)
	}
	if last != 10 {
		t.Errorf("progress reached %d, want 10", last)
	}
	if _, err := b.Publisher().Live(); err != nil {
		t.Errorf("no live sitemap after the job: %v", err)
	}
}

func TestParseSEORefreshPayload(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want SEORefreshPayload
		ok   bool
	}{
		{`{"entityType":"salon","entityId":12}`, SEORefreshPayload{"salon", 12}, true},
		{`{"entityType":"salon","entityId":0}`, SEORefreshPayload{}, false},
		{`{"entityType":"","entityId":1}`, SEORefreshPayload{}, false},
		{`{"entityType":"salon","entityId":"12"}`, SEORefreshPayload{}, false},
		{`nope`, SEORefreshPayload{}, false},
	}
	for _, tc := range tests {
		got, err := ParseSEORefreshPayload([]byte(tc.in))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("Parse(%s) = %+v, %v; want %+v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func FuzzParseSEORefreshPayload(f *testing.F) {
	f.Add([]byte(`{"entityType":"salon","entityId":12}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseSEORefreshPayload(data)
		if err != nil {
			return
		}
		if p.EntityID <= 0 || p.EntityType == "" || len(p.EntityType) > maxEntityTypeLen {
			t.Fatalf("accepted an invalid payload: %+v", p)
		}
	})
}
