package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// atlasProc is one `atlas run` child process.
type atlasProc struct {
	cmd     *exec.Cmd
	base    string // http://127.0.0.1:port
	logPath string
	exited  chan error
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// runAtlas runs the atlas binary with args and env to completion (such as
// migrate), returning its output on failure.
func runAtlas(ctx context.Context, bin string, env []string, args ...string) error {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("atlas %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// startAtlas starts `atlas run` with env (plus ATLAS_ADDR), its log going
// to logPath, and waits until it answers /healthz.
func startAtlas(ctx context.Context, bin string, env []string, logPath string) (*atlasProc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "run")
	cmd.Env = append(env, "ATLAS_ADDR="+addr)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start atlas: %w", err)
	}
	p := &atlasProc{cmd: cmd, base: "http://" + addr, logPath: logPath, exited: make(chan error, 1)}
	go func() { p.exited <- cmd.Wait(); logf.Close() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if code, _, err := httpGet(ctx, p.base+"/healthz"); err == nil && code == 200 {
			return p, nil
		}
		select {
		case err := <-p.exited:
			return nil, fmt.Errorf("atlas exited before answering: %v (log %s)", err, logPath)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("atlas did not answer /healthz within 60 s (log %s)", logPath)
		}
	}
}

// stop sends SIGTERM and waits up to 30 s (then kills).
func (p *atlasProc) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		return err
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		return errors.New("atlas did not stop within 30 s; killed")
	}
}

// cpuSeconds returns the process's user+system CPU time so far, from
// /proc/<pid>/stat.
func (p *atlasProc) cpuSeconds() (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // fields from 3 (state) on
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", p.cmd.Process.Pid, s)
	}
	ut, _ := strconv.ParseFloat(f[11], 64) // field 14
	st, _ := strconv.ParseFloat(f[12], 64) // field 15
	return (ut + st) / 100, nil            // USER_HZ is 100 on Linux
}

// httpGet returns the status and body of GET url.
func httpGet(ctx context.Context, url string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("User-Agent", "bench/views (not a browser)") // curl-like UAs count; this one is a probe
	c := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

// metrics scrapes /metrics and returns each sample's value by its full
// name with labels, e.g. `atlas_views_recorded_total{mode="async"}`.
func (p *atlasProc) metrics(ctx context.Context) (map[string]float64, error) {
	code, body, err := httpGet(ctx, p.base+"/metrics")
	if err != nil || code != 200 {
		return nil, fmt.Errorf("GET /metrics: %d %v", code, err)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out, sc.Err()
}

// sumPrefix adds the samples whose name (with labels) starts with prefix.
func sumPrefix(m map[string]float64, prefix string) float64 {
	s := 0.0
	for k, v := range m {
		if strings.HasPrefix(k, prefix) {
			s += v
		}
	}
	return s
}
