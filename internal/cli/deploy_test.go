package cli

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The deployment files cannot be run here (no Docker), so these tests check
// what can go stale without anyone noticing: every ATLAS_* variable they
// set must be a setting of the command the container runs, and every
// command must exist.

// settingVars returns the ATLAS_* variables command name reads, or false
// when there is no such command.
func settingVars(name string) (map[string]bool, bool) {
	cmd, ok := commands()[name]
	if !ok {
		return nil, false
	}
	vars := map[string]bool{}
	for _, s := range cmd.settings(&Config{}) {
		vars[s.env] = true
	}
	return vars, true
}

// checkVars reports every ATLAS_* variable in env that command does not read.
func checkVars(t *testing.T, where, command string, env map[string]string) {
	t.Helper()
	vars, ok := settingVars(command)
	if !ok {
		t.Errorf("%s: command %q does not exist", where, command)
		return
	}
	n := 0
	for k := range env {
		if !strings.HasPrefix(k, "ATLAS_") {
			continue
		}
		n++
		if !vars[k] {
			t.Errorf("%s: %s is not a setting of `atlas %s`", where, k, command)
		}
	}
	if n == 0 {
		t.Errorf("%s: sets no ATLAS_* variable; the test parsed nothing", where)
	}
}

func TestComposeFileSettings(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Build       any               `yaml:"build"`
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	var atlas []string
	for name, s := range f.Services {
		if s.Build == nil {
			continue // not the Atlas image
		}
		if len(s.Command) == 0 {
			t.Errorf("service %s: no command", name)
			continue
		}
		atlas = append(atlas, name+"="+s.Command[0])
		checkVars(t, "compose service "+name, s.Command[0], s.Environment)
	}
	slices.Sort(atlas)
	if want := []string{"api=serve", "worker=worker"}; !slices.Equal(atlas, want) {
		t.Errorf("Atlas services = %v, want %v", atlas, want)
	}
	redis := strings.Join(f.Services["redis"].Command, " ")
	for _, want := range []string{"--appendonly yes", "--appendfsync everysec", "--maxmemory-policy noeviction"} {
		if !strings.Contains(redis, want) {
			t.Errorf("redis command %q lacks %q", redis, want)
		}
	}
	for _, svc := range []string{"postgres", "s3"} {
		if f.Services[svc].Image == "" {
			t.Errorf("compose has no %s service with an image", svc)
		}
	}
}

func TestDockerfileSettings(t *testing.T) {
	fh, err := os.Open(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	// Join continuation lines, then read the final stage's ENV and CMD.
	var lines []string
	var cur strings.Builder
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "#") {
			continue
		}
		if s, ok := strings.CutSuffix(l, `\`); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(l)
		lines = append(lines, cur.String())
		cur.Reset()
	}
	env := map[string]string{}
	var cmd, build string
	stages := 0
	for _, l := range lines {
		word, rest, _ := strings.Cut(l, " ")
		switch strings.ToUpper(word) {
		case "FROM":
			stages++
			env = map[string]string{}
		case "ENV":
			for _, kv := range strings.Fields(rest) {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					t.Fatalf("ENV %q: want KEY=VALUE pairs", rest)
				}
				env[k] = v
			}
		case "CMD":
			var args []string
			if err := yaml.Unmarshal([]byte(rest), &args); err != nil || len(args) == 0 {
				t.Fatalf("CMD %q: want a JSON array", rest)
			}
			cmd = args[0]
		case "RUN":
			if strings.Contains(rest, "go build") {
				build = rest
			}
		}
	}
	if stages < 2 {
		t.Errorf("Dockerfile has %d stages, want a build and a runtime stage", stages)
	}
	if !strings.Contains(build, "-tags vips") || !strings.Contains(build, "./cmd/atlas") {
		t.Errorf("go build line %q does not build ./cmd/atlas with -tags vips", build)
	}
	checkVars(t, "Dockerfile", cmd, env)
}
