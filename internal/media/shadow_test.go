package media

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/sevra/atlas/internal/media/imaging"
	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/rollout/rollouttest"
)

func TestMatchShadow(t *testing.T) {
	t.Parallel()
	v := func(w, h int, f string, n int64) Variant { return Variant{Width: w, Height: h, Format: f, Bytes: n} }
	live := ShadowView{Status: StatusReady, Width: 800, Height: 600,
		Variants: map[string]Variant{"320w.jpg": v(320, 240, "jpeg", 20000), "320w.webp": v(320, 240, "webp", 500)}}
	with := func(name string, vv Variant) ShadowView {
		s := ShadowView{Status: StatusReady, Width: 800, Height: 600, Variants: map[string]Variant{}}
		for k, x := range live.Variants {
			s.Variants[k] = x
		}
		s.Variants[name] = vv
		return s
	}
	tests := []struct {
		name string
		side ShadowView
		want bool
	}{
		{"equal", with("320w.jpg", v(320, 240, "jpeg", 20000)), true},
		{"bytes within 10%", with("320w.jpg", v(320, 240, "jpeg", 21900)), true},
		{"bytes over 10%", with("320w.jpg", v(320, 240, "jpeg", 22100)), false},
		{"tiny file within 1 KiB", with("320w.webp", v(320, 240, "webp", 1500)), true},
		{"height differs", with("320w.jpg", v(320, 241, "jpeg", 20000)), false},
		{"format differs", with("320w.jpg", v(320, 240, "webp", 20000)), false},
		{"extra variant", with("640w.jpg", v(640, 480, "jpeg", 20000)), false},
		{"status differs", ShadowView{Status: StatusFailed}, false},
	}
	for _, tc := range tests {
		if got := MatchShadow(live, tc.side); got != tc.want {
			t.Errorf("%s: match = %v, want %v", tc.name, got, tc.want)
		}
	}
	if !MatchShadow(ShadowView{Status: StatusFailed}, ShadowView{Status: StatusFailed}) {
		t.Error("both failed should match")
	}
}

// TestModesInService covers sync and shadow at the service level: the
// request generates; shadow keeps the original for the worker run, which
// writes only side keys, compares, and cleans up.
func TestModesInService(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, mode := range []rollout.Mode{rollout.Sync, rollout.Shadow} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, imaging.NewPureEngine(nil), smallSpec)
			rec, err := rollout.NewRecorder(nil, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ob := &fakeOutbox{}
			f.svc.mode, f.svc.shadow, f.svc.ob = mode, rec, ob
			acc, err := f.svc.Accept(ctx, Owner{Type: "user", ID: 1}, bytes.NewReader(testJPEG(t, 800, 600)))
			if err != nil || acc.Status != StatusReady {
				t.Fatalf("accept: %+v, %v", acc, err)
			}
			want := []string{"media/1/320w.jpg", "media/1/320w.webp", "media/1/640w.jpg", "media/1/640w.webp"}
			if mode == rollout.Sync {
				if enqueued := len(ob.payloads(t)); enqueued != 0 || !slices.Equal(f.files(t), want) {
					t.Fatalf("sync: enqueued %d, files %v", enqueued, f.files(t))
				}
				return
			}
			if enqueued := len(ob.payloads(t)); enqueued != 1 || !slices.Contains(f.files(t), acc.StorageKey) {
				t.Fatalf("shadow: enqueued %d, files %v (original must be kept)", enqueued, f.files(t))
			}
			match, err := f.svc.CompareShadow(ctx, acc.ID, acc.StorageKey, false, "job", "media-1")
			if err != nil || !match {
				t.Fatalf("shadow compare: %v, %v", match, err)
			}
			if got := f.files(t); !slices.Equal(got, want) {
				t.Fatalf("files after the shadow run %v, want %v (no side outputs, no original)", got, want)
			}
			// An injected alteration is a mismatch; the live row is untouched.
			f.local.Put(ctx, acc.StorageKey, bytes.NewReader(testJPEG(t, 800, 600)), "image/jpeg")
			f.svc.shadow = rollouttest.Faulty(rec, func(side any) (any, bool) {
				sv := side.(ShadowView)
				v := sv.Variants["640w.webp"]
				v.Height++
				sv.Variants["640w.webp"] = v
				return sv, true
			})
			match, err = f.svc.CompareShadow(ctx, acc.ID, acc.StorageKey, false)
			if err != nil || match {
				t.Fatalf("altered shadow compare: %v, %v", match, err)
			}
			if c := rec.Counts(); len(c) != 1 || c[0].Match != 1 || c[0].Mismatch != 1 {
				t.Fatalf("counts %+v", c)
			}
			if got := f.files(t); !slices.Equal(got, want) {
				t.Fatalf("files %v", got)
			}
			if v, _ := f.svc.Get(ctx, acc.ID); v.Status != StatusReady || len(v.Variants) != 4 {
				t.Fatalf("live view changed: %+v", v)
			}
		})
	}
}

func TestShadowWaitsForLiveAndFailsOnMissingOriginal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, imaging.NewPureEngine(nil), smallSpec)
	f.svc.shadow, _ = rollout.NewRecorder(nil, nil, 0)
	id, err := f.repo.Create(ctx, Owner{Type: "user", ID: 1}, "incoming/a.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CompareShadow(ctx, id, "incoming/a.jpg", false); !errors.Is(err, ErrLiveNotReady) || errors.Is(err, ErrPermanent) {
		t.Fatalf("processing row: err = %v", err)
	}
	if _, err := f.svc.CompareShadow(ctx, id, "incoming/a.jpg", true); !errors.Is(err, ErrPermanent) || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing original on the last attempt: err = %v", err)
	}
	if v, _ := f.svc.Get(ctx, id); v.Status != StatusProcessing {
		t.Fatalf("a shadow run changed the live row: %+v", v)
	}
}

func TestParsePayload(t *testing.T) {
	t.Parallel()
	good := `{"mediaId":3,"storageKey":"incoming/ab.jpg","eventId":"e1","mode":"shadow","trace":"x"}`
	p, err := ParsePayload([]byte(good))
	if err != nil || p.MediaID != 3 || p.StorageKey != "incoming/ab.jpg" || !p.Shadow() || p.EventID != "e1" {
		t.Fatalf("%+v, %v", p, err)
	}
	for _, bad := range []string{`{`, `{"mediaId":0,"storageKey":"incoming/a.jpg"}`, `{"mediaId":1,"storageKey":"media/1/320w.jpg"}`,
		`{"mediaId":1,"storageKey":"incoming/../x"}`, `{"mediaId":1,"storageKey":"incoming/a.jpg","mode":"later"}`} {
		if _, err := ParsePayload([]byte(bad)); err == nil {
			t.Errorf("ParsePayload(%s) accepted", bad)
		}
	}
}
