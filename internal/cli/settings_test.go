package cli

import (
	"errors"
	"flag"
	"strings"
	"testing"
	"time"
)

func mapEnv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseSettingsPrecedence(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		addr    string
		timeout time.Duration
		demo    bool
		wantErr error
	}{
		{"defaults", nil, nil, ":8080", 30 * time.Second, false, nil},
		{"env", nil, map[string]string{"ATLAS_ADDR": ":9000", "ATLAS_SHUTDOWN_TIMEOUT": "5s", "ATLAS_DEMO": "1"}, ":9000", 5 * time.Second, true, nil},
		{"flag wins", []string{"--addr", ":7000", "--demo=false"}, map[string]string{"ATLAS_ADDR": ":9000", "ATLAS_DEMO": "true"}, ":7000", 30 * time.Second, false, nil},
		{"single dash", []string{"-addr=:6000", "-demo"}, nil, ":6000", 30 * time.Second, true, nil},
		{"bad env", nil, map[string]string{"ATLAS_SHUTDOWN_TIMEOUT": "soon"}, "", 0, false, errUsage},
		{"bad flag", []string{"--shutdown-timeout", "-3s"}, nil, "", 0, false, errUsage},
		{"unknown flag", []string{"--nope"}, nil, "", 0, false, errUsage},
		{"help", []string{"-h"}, nil, "", 0, false, flag.ErrHelp},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c Config
			_, err := parseSettings("run", c.runSettings(), tc.args, mapEnv(tc.env))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Addr != tc.addr || c.ShutdownTimeout != tc.timeout || c.Demo != tc.demo || c.DataDir != "./atlas-data" {
				t.Errorf("config = %+v", c)
			}
		})
	}
}

func TestEverySettingIsDocumented(t *testing.T) {
	t.Parallel()
	var c Config
	for name, cmd := range commands() {
		seen := map[string]bool{}
		for _, s := range cmd.settings(&c) {
			if !strings.HasPrefix(s.env, "ATLAS_") || s.flag == "" || s.usage == "" || seen[s.flag] {
				t.Errorf("%s: setting %+v lacks a flag, an ATLAS_ variable or usage, or repeats", name, s)
			}
			seen[s.flag] = true
			var out strings.Builder
			commandHelp(&out, cmd)
			if !strings.Contains(out.String(), "--"+s.flag) || !strings.Contains(out.String(), s.env) {
				t.Errorf("atlas help %s does not document --%s / %s", name, s.flag, s.env)
			}
		}
	}
}

func FuzzParseSettings(f *testing.F) {
	f.Add("--addr :1 --demo", "30s", "true")
	f.Add("-shutdown-timeout=1m extra", "", "0")
	f.Add("--seed 18446744073709551615 --salons -1", "x", "")
	f.Fuzz(func(t *testing.T, args, timeoutEnv, demoEnv string) {
		env := mapEnv(map[string]string{"ATLAS_SHUTDOWN_TIMEOUT": timeoutEnv, "ATLAS_DEMO": demoEnv, "ATLAS_ADDR": "env-addr"})
		var c Config
		settings := append(c.runSettings(), c.seedSettings()[3:]...)
		rest, err := parseSettings("fuzz", settings, strings.Fields(args), env)
		if err != nil {
			if !errors.Is(err, errUsage) && !errors.Is(err, flag.ErrHelp) {
				t.Fatalf("error %v is neither a usage error nor help", err)
			}
			return
		}
		if c.ShutdownTimeout < 0 || c.SeedSalons < 0 || c.SeedReviews < 0 {
			t.Fatalf("negative value accepted: %+v", c)
		}
		flagged := false
		for _, a := range strings.Fields(args) {
			if strings.HasPrefix(strings.TrimLeft(a, "-"), "addr") && strings.HasPrefix(a, "-") {
				flagged = true
			}
		}
		if !flagged && len(rest) == len(strings.Fields(args)) && c.Addr != "env-addr" {
			t.Fatalf("no --addr flag, yet Addr = %q (want the variable's value)", c.Addr)
		}
	})
}
