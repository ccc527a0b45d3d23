package cli

import (
	"reflect"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/dashboard"
)

func TestAlertSettings(t *testing.T) {
	t.Parallel()
	cases := []struct {
		env     map[string]string
		want    map[string]dashboard.Thresholds
		wantErr bool
	}{
		{env: map[string]string{}, want: nil},
		{env: map[string]string{"ATLAS_ALERT_FAILED_RATE": "0.1,media=0.05,analytics=off", "ATLAS_ALERT_OLDEST_WAITING": "5m,notifications=30s"},
			want: map[string]dashboard.Thresholds{
				"":              {FailedRate: 0.1, OldestWaiting: 5 * time.Minute},
				"media":         {FailedRate: 0.05, OldestWaiting: 5 * time.Minute},
				"analytics":     {FailedRate: 0, OldestWaiting: 5 * time.Minute},
				"notifications": {FailedRate: 0.1, OldestWaiting: 30 * time.Second},
			}},
		{env: map[string]string{"ATLAS_ALERT_FAILED_RATE": "1.5"}, wantErr: true},
		{env: map[string]string{"ATLAS_ALERT_FAILED_RATE": "nope=0.1"}, wantErr: true},
		{env: map[string]string{"ATLAS_ALERT_OLDEST_WAITING": "soon"}, wantErr: true},
	}
	for _, c := range cases {
		cfg := &Config{}
		_, err := parseSettings("serve", cfg.serverSettings(), nil, func(k string) string { return c.env[k] })
		if (err != nil) != c.wantErr {
			t.Errorf("%v: err %v, want error %v", c.env, err, c.wantErr)
			continue
		}
		if !c.wantErr && !reflect.DeepEqual(cfg.Alerts, c.want) {
			t.Errorf("%v: alerts %+v, want %+v", c.env, cfg.Alerts, c.want)
		}
	}
}
