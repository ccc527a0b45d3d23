package main

import (
	"os"
	"strings"
	"testing"
)

// A wrk 4.1 report (--latency) as it prints it.
const wrkReport = `Running 10s test @ http://127.0.0.1:40123
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.61ms    4.02ms  107.69ms   93.12%
    Req/Sec    13.59k     1.21k   15.80k    72.00%
  Latency Distribution
     50%    1.68ms
     75%    2.40ms
     90%    4.51ms
     99%  812.00us
  270430 requests in 10.01s, 150.11MB read
  Socket errors: connect 0, read 0, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:  27028.40
Transfer/sec:     15.00MB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(wrkReport)
	if err != nil {
		t.Fatal(err)
	}
	want := wrkResult{Requests: 270430, Seconds: 10.01, ReqPerSec: 27028.40, P50ms: 1.68, P99ms: 0.812, Non2xx: 7,
		Errors: "Socket errors: connect 0, read 0, write 0, timeout 3"}
	if r != want {
		t.Errorf("parseWrk = %+v\nwant %+v", r, want)
	}
	if _, err := parseWrk("wrk: connection refused"); err == nil {
		t.Error("parseWrk of a failed run: want an error")
	}
}

func TestWriteScript(t *testing.T) {
	path, err := writeScript(t.TempDir(), "x", []string{"/api/v1/posts/a", "/api/v1/posts/b"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"/api/v1/posts/a",`, `"/api/v1/posts/b",`, `wrk.headers["User-Agent"] = "Mozilla/5.0`, `paths[(i % #paths) + 1]`} {
		if !strings.Contains(string(b), s) {
			t.Errorf("script lacks %s:\n%s", s, b)
		}
	}
}
