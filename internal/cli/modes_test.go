package cli

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sevra/atlas/internal/app"
	"github.com/sevra/atlas/internal/rollout"
)

func TestModeAndQueueSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want rollout.Modes
		err  bool
	}{
		{"defaults", nil, nil, rollout.Modes{}, false},
		{"env", map[string]string{"ATLAS_MODE_REVIEWS": "shadow", "ATLAS_MODE_GEO": "sync"}, nil,
			rollout.Modes{"reviews": rollout.Shadow, "geo": rollout.Sync}, false},
		{"flag wins", map[string]string{"ATLAS_MODE_MEDIA": "sync"}, []string{"--mode-media", "async"},
			rollout.Modes{"media": rollout.Async}, false},
		{"bad mode", map[string]string{"ATLAS_MODE_REVIEWS": "later"}, nil, nil, true},
		{"queue overrides", nil, []string{"--queue-concurrency", "media=4,analytics=20", "--queue-limiter", "media=5/1s"}, rollout.Modes{}, false},
		{"bad queue", nil, []string{"--queue-concurrency", "video=4"}, nil, true},
	}
	for _, tc := range tests {
		var c Config
		_, err := parseSettings("run", c.runSettings(), tc.args, mapEnv(tc.env))
		if tc.err {
			if !errors.Is(err, errUsage) {
				t.Errorf("%s: err = %v, want a usage error", tc.name, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for _, m := range app.Modules() {
			if c.Modes.Mode(m) != tc.want.Mode(m) {
				t.Errorf("%s: mode of %s = %s, want %s", tc.name, m, c.Modes.Mode(m), tc.want.Mode(m))
			}
		}
	}
}

func TestHelpRunDocumentsModes(t *testing.T) {
	t.Parallel()
	var out, errb strings.Builder
	if code := Run(context.Background(), []string{"help", "run"}, mapEnv(nil), &out, &errb); code != 0 {
		t.Fatal(errb.String())
	}
	for _, m := range app.Modules() {
		if !strings.Contains(out.String(), "ATLAS_MODE_"+strings.ToUpper(string(m))) {
			t.Errorf("atlas help run lacks ATLAS_MODE_%s", strings.ToUpper(string(m)))
		}
	}
	for _, s := range []string{"ATLAS_QUEUE_CONCURRENCY", "ATLAS_QUEUE_LIMITER", "ATLAS_OUTBOX_ALERT_ROWS"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("atlas help run lacks %s", s)
		}
	}
}
