package app_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/app"
	"github.com/sevra/atlas/internal/app/apptest"
	"github.com/sevra/atlas/internal/otp"
	"github.com/sevra/atlas/internal/ratelimit"
	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/sms"
	"github.com/sevra/atlas/internal/store/storetest"
)

// slowKavenegar is a fake Kavenegar verify-lookup API (the request shape
// of internal/sms.Kavenegar) that answers success after delay.
type slowKavenegar struct {
	srv      *httptest.Server
	received atomic.Int64 // well-formed sends that reached the fake
	bad      atomic.Int64 // requests of another shape (answered 400)
}

const (
	benchKavenegarKey      = "bench-key"
	benchKavenegarTemplate = "atlas-otp"
)

var iranMobileRE = regexp.MustCompile(`^09[0-9]{9}$`)

func newSlowKavenegar(t testing.TB, delay time.Duration) *slowKavenegar {
	f := &slowKavenegar{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method != "POST" || r.URL.Path != "/v1/"+benchKavenegarKey+"/verify/lookup.json" || r.ParseForm() != nil ||
			!iranMobileRE.MatchString(r.PostForm.Get("receptor")) || !codeRE.MatchString(r.PostForm.Get("token")) ||
			r.PostForm.Get("template") != benchKavenegarTemplate {
			f.bad.Add(1)
			w.WriteHeader(400)
			io.WriteString(w, `{"return":{"status":400,"message":"bad request"},"entries":null}`)
			return
		}
		f.received.Add(1)
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		fmt.Fprintf(w, `{"return":{"status":200,"message":"تایید شد"},"entries":[{"messageid":%d,"status":5,"receptor":%q}]}`,
			f.received.Load(), r.PostForm.Get("receptor"))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// otpLatencyRun requests codes for distinct numbers through the real
// HTTP handler of an app (SQLite, queue workers running, rate limits off)
// whose sms module runs in mode and whose provider is Kavenegar pointed at
// a fake that takes delay per send. Requests arrive at rate per second
// (an open loop: each starts on its tick whether or not the previous ones
// have finished, like independent users), and each latency is recorded.
type otpLatencyRun struct {
	mode  rollout.Mode
	delay time.Duration
	rate  int
}

// start starts the fake provider, the app and its HTTP server; it
// returns the fake and the server's URL.
func (o otpLatencyRun) start(t testing.TB) (*slowKavenegar, string) {
	fake := newSlowKavenegar(t, o.delay)
	env := map[string]string{sms.EnvBaseURL: fake.srv.URL, sms.EnvKavenegarAPIKey: benchKavenegarKey,
		sms.EnvKavenegarTemplate: benchKavenegarTemplate}
	off := []ratelimit.Rule{}
	a := apptest.Start(t, app.Config{DataDir: storetest.TempDataDir(t), HTTP: true, Workers: true,
		Modes: rollout.Modes{otp.Module: o.mode},
		OTP: app.OTPConfig{Provider: "kavenegar",
			Limits: otp.Limits{Phone: off, IP: off, Country: off, VerifyIP: off}},
		Getenv: func(k string) string { return env[k] }}, nil, false)
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return fake, srv.URL
}

// run sends one request per call of next (which paces and bounds the
// loop) and returns the sorted latencies.
func (o otpLatencyRun) run(t testing.TB, url string, next func() bool) []time.Duration {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	defer client.CloseIdleConnections()
	tick := time.NewTicker(time.Second / time.Duration(o.rate))
	defer tick.Stop()
	var (
		mu  sync.Mutex
		lat []time.Duration
		wg  sync.WaitGroup
	)
	for i := 0; next(); i++ {
		phone := fmt.Sprintf("0912%07d", i)
		wg.Go(func() {
			start := time.Now()
			resp, err := client.Post(url+"/api/v1/auth/otp/request", "application/json", strings.NewReader(`{"phone":"`+phone+`"}`))
			d := time.Since(start)
			if err != nil {
				t.Error(err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 202 {
				t.Errorf("request %s = %d %s", phone, resp.StatusCode, body)
				return
			}
			mu.Lock()
			lat = append(lat, d)
			mu.Unlock()
		})
		<-tick.C
	}
	wg.Wait()
	slices.Sort(lat)
	return lat
}

// percentile is the nearest-rank p-th percentile of sorted.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkOTPRequest times POST /api/v1/auth/otp/request with an SMS
// provider that takes 2 s per send, in sync mode (the send is in the
// request) and async mode (the send-otp job sends), at 20 requests per
// second. Run it with a fixed count, e.g.
//
//	go test ./internal/app -run '^$' -bench BenchmarkOTPRequest -benchtime 400x
//
// ns/op is suppressed: with paced arrivals it is only the arrival interval.
func BenchmarkOTPRequest(b *testing.B) {
	for _, mode := range []rollout.Mode{rollout.Sync, rollout.Async} {
		b.Run(string(mode), func(b *testing.B) {
			o := otpLatencyRun{mode: mode, delay: 2 * time.Second, rate: 20}
			fake, url := o.start(b)
			b.ResetTimer()
			lat := o.run(b, url, b.Loop)
			b.StopTimer()
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(ms(percentile(lat, 50)), "p50-ms")
			b.ReportMetric(ms(percentile(lat, 99)), "p99-ms")
			b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
			// Sends the provider had received when the last answer came:
			// all of them in sync mode; in async mode what the workers
			// (notifications concurrency 2, 2 s each) got to.
			b.ReportMetric(float64(fake.received.Load())/float64(len(lat)), "sent/req")
			if fake.bad.Load() != 0 {
				b.Errorf("the fake provider got %d malformed sends", fake.bad.Load())
			}
		})
	}
}

// TestOTPRequestLatencyModes is the benchmark's smoke test, with a 1 s
// provider and two requests per mode: a sync request waits for the
// provider, an async one does not, and both sends reach the provider in
// its documented shape.
func TestOTPRequestLatencyModes(t *testing.T) {
	t.Parallel()
	const delay = time.Second
	for _, mode := range []rollout.Mode{rollout.Sync, rollout.Async} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			o := otpLatencyRun{mode: mode, delay: delay, rate: 20}
			fake, url := o.start(t)
			n := 0
			lat := o.run(t, url, func() bool { n++; return n <= 2 })
			if len(lat) != 2 {
				t.Fatalf("%d answers, want 2", len(lat))
			}
			if mode == rollout.Sync && lat[0] < delay {
				t.Errorf("sync request took %s, less than the provider's %s", lat[0], delay)
			}
			if mode == rollout.Async && lat[1] >= delay {
				t.Errorf("async request took %s, as long as the provider's %s: it waited for the send", lat[1], delay)
			}
			deadline := time.Now().Add(10 * time.Second)
			for fake.received.Load() < 2 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if fake.received.Load() != 2 || fake.bad.Load() != 0 {
				t.Errorf("provider got %d sends and %d malformed ones, want 2 and 0", fake.received.Load(), fake.bad.Load())
			}
		})
	}
}
